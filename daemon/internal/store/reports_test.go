package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

func TestPeakConcurrency(t *testing.T) {
	const open = int64(1<<63 - 1)
	tests := []struct {
		name  string
		spans [][2]int64
		want  []int64
	}{
		{"none", nil, []int64{0, 0, 0}},
		{"one inside", [][2]int64{{12, 15}}, []int64{0, 1, 0}},
		{"overlap in a bucket", [][2]int64{{10, 18}, {12, 14}, {15, 19}}, []int64{0, 2, 0}},
		{"back to back do not overlap", [][2]int64{{10, 15}, {15, 19}}, []int64{0, 1, 0}},
		{"spans buckets", [][2]int64{{5, 25}}, []int64{1, 1, 1}},
		{"started before, still open", [][2]int64{{-50, open}, {21, 22}}, []int64{1, 1, 2}},
		{"ends at bucket start", [][2]int64{{0, 10}}, []int64{1, 0, 0}},
		{"ended at since", [][2]int64{{-5, 0}, {0, 3}}, []int64{1, 0, 0}},
	}
	for _, tt := range tests {
		if got := peakConcurrency(tt.spans, 0, 10, 3); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSessionActivity(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	h := func(m int) time.Time { return time.Date(2025, 4, 1, 10, m, 0, 0, time.UTC) }
	mk := func(start, end int, state SessionState) {
		ss := must[Session](t)(s.CreateSession(ctx, Session{UserName: "u", Protocol: ProtocolSSH, StartedAt: h(start)}))
		if state != SessionActive {
			if err := s.EndSession(ctx, ss.ID, SessionEnd{State: state, EndedAt: h(end)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	mk(-30, 5, SessionEnded)   // before the range, ends in bucket 0
	mk(-30, -20, SessionEnded) // entirely before
	mk(-5, 0, SessionActive)   // before the range, still running
	mk(2, 12, SessionKilled)
	mk(3, 4, SessionEnded)
	mk(25, 0, SessionActive)
	must[Session](t)(s.CreateSession(ctx, Session{UserName: "u", Protocol: ProtocolSSH, StartedAt: h(14), State: SessionRefused}))
	mk(70, 80, SessionEnded) // after

	sr, err := s.SessionActivity(ctx, h(0), h(30), 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int64{
		"created":    {2, 0, 1},
		"destroyed":  {2, 1, 0},
		"refused":    {0, 1, 0},
		"concurrent": {4, 2, 2},
	}
	if !reflect.DeepEqual(sr.Counts, want) || sr.Buckets() != 3 || !sr.BucketStart(1).Equal(h(10)) {
		t.Errorf("SessionActivity = %v, want %v", sr.Counts, want)
	}
	for _, bad := range []struct {
		since, until time.Time
		bucket       time.Duration
	}{
		{h(0), h(0), time.Minute},
		{h(10), h(0), time.Minute},
		{h(0), h(10), 0},
		{h(0), h(0).Add(365 * 24 * time.Hour), time.Second},
	} {
		if _, err := s.SessionActivity(ctx, bad.since, bad.until, bad.bucket); !errors.Is(err, ErrInvalid) {
			t.Errorf("range %v..%v by %v: %v", bad.since, bad.until, bad.bucket, err)
		}
	}
}

func TestEventCountsAndLogins(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	t0 := time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC)
	var evs []event.Event
	add := func(min int, metric string) {
		evs = append(evs, event.Event{Seq: uint64(len(evs) + 1), Time: t0.Add(time.Duration(min) * time.Minute),
			MetricName: metric, Level: event.LevelInfo, Component: "ssh"})
	}
	add(-1, "account.login.successful") // before the range
	add(0, "account.login.successful")
	add(59, "account.login.successful")
	add(61, "account.login.failed_invalid_password")
	add(62, "account.login.failed_locked")
	add(63, "account.login.failedx")
	add(130, "account.login.successful")
	add(180, "account.login.successful") // at until: excluded
	add(10, "account.logout")
	add(11, "session.create")
	if _, err := s.IndexEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	sr, err := s.LoginActivity(ctx, t0, t0.Add(3*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int64{"successful": {2, 0, 1}, "failed": {0, 3, 0}}
	if !reflect.DeepEqual(sr.Counts, want) {
		t.Errorf("LoginActivity = %v, want %v", sr.Counts, want)
	}
	ec, err := s.EventCounts(ctx, []string{"session.create", "account.*", "nothing"}, t0, t0.Add(3*time.Hour), 90*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	want = map[string][]int64{"session.create": {1, 0}, "account.*": {6, 1}, "nothing": {0, 0}}
	if !reflect.DeepEqual(ec.Counts, want) {
		t.Errorf("EventCounts = %v, want %v", ec.Counts, want)
	}
}

func TestRecordingActivity(t *testing.T) {
	ctx := context.Background()
	s, clk := newTestStore(t)
	start := clk.Now()
	g := newSegment(t, s, 3)
	run := func(kind JobKind, n int, fail bool) {
		j, _, err := s.EnqueueJob(ctx, kind, g.SessionID, n)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := s.ClaimJob(ctx, kind, clk.Now()); !ok {
			t.Fatal("nothing to claim")
		}
		if fail {
			err = s.FailJob(ctx, j.ID, "boom", time.Time{})
		} else {
			err = s.FinishJob(ctx, j.ID, "")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	run(JobEncode, 0, false)
	run(JobEncode, 1, false)
	clk.Add(time.Hour)
	run(JobUpload, 0, false)
	run(JobUpload, 1, true)
	run(JobEncode, 2, true)
	sr, err := s.RecordingActivity(ctx, start, start.Add(2*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int64{"encoded": {2, 0}, "uploaded": {0, 1}, "failed": {0, 2}}
	if !reflect.DeepEqual(sr.Counts, want) {
		t.Errorf("RecordingActivity = %v, want %v", sr.Counts, want)
	}
}
