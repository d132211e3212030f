package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

var eventBase = time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)

// genEvents makes n events with seq from+1.. and varied fields, one second
// apart (a few sharing a time).
func genEvents(r *rand.Rand, from uint64, n int) []event.Event {
	levels := []string{event.LevelDebug, event.LevelInfo, event.LevelInfo, event.LevelInfo, event.LevelWarning, event.LevelError, event.LevelCritical}
	metrics := []string{"session.create", "session.destroy", "account.login.successful", "account.login.failed_invalid_password",
		"account.login.failed_locked", "recording.upload", "scaling.status.resources"}
	msgs := []string{"session %d created", "session %d destroyed", "user logged in", "upload 100%% done", "disk_usage high", "Destroyed by admin"}
	evs := make([]event.Event, n)
	for i := range evs {
		seq := from + uint64(i) + 1
		evs[i] = event.Event{
			Seq:        seq,
			Time:       eventBase.Add(time.Duration(seq/2) * time.Second),
			MetricName: metrics[r.IntN(len(metrics))],
			Level:      levels[r.IntN(len(levels))],
			Message:    fmt.Sprintf(msgs[r.IntN(len(msgs))], seq),
			Component:  []string{"ssh", "vnc", "wui", "pipeline"}[r.IntN(4)],
			Process:    []string{"", "vigild", "vigil-plugin-recorder-ssh"}[r.IntN(3)],
			Host:       []string{"gw1", "gw2"}[r.IntN(2)],
			UserName:   []string{"", "alice", "bob", "carol"}[r.IntN(4)],
			SessionID:  []string{"", "S1", "S2"}[r.IntN(3)],
			TargetName: []string{"", "db1"}[r.IntN(2)],
			Extra:      map[string]string{"n": fmt.Sprint(seq)},
		}
	}
	return evs
}

func matches(e event.Event, f EventFilter) bool {
	return (f.Level == "" || levelNo(e.Level) >= levelNo(f.Level)) &&
		(f.Since.IsZero() || !e.Time.Before(f.Since)) && (f.Until.IsZero() || e.Time.Before(f.Until)) &&
		(f.Component == "" || e.Component == f.Component) && (f.Process == "" || e.Process == f.Process) &&
		(f.Host == "" || e.Host == f.Host) && (f.UserName == "" || e.UserName == f.UserName) &&
		(f.SessionID == "" || e.SessionID == f.SessionID) && (f.MetricName == "" || e.MetricName == f.MetricName) &&
		(f.Text == "" || strings.Contains(strings.ToLower(e.Message), strings.ToLower(f.Text)))
}

func TestIndexEvents(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	evs := genEvents(rand.New(rand.NewPCG(3, 4)), 0, 120)
	if n, err := s.IndexEvents(ctx, evs[:70]); err != nil || n != 70 {
		t.Fatalf("IndexEvents = %d, %v", n, err)
	}
	// Re-indexing an overlapping range adds only the new events.
	if n, err := s.IndexEvents(ctx, evs[50:]); err != nil || n != 50 {
		t.Fatalf("overlapping IndexEvents = %d, %v; want 50", n, err)
	}
	if n, err := s.IndexEvents(ctx, evs); err != nil || n != 0 {
		t.Fatalf("repeated IndexEvents = %d, %v", n, err)
	}
	if seq := must[uint64](t)(s.LastEventSeq(ctx)); seq != 120 {
		t.Errorf("LastEventSeq = %d", seq)
	}
	bad := []event.Event{{Seq: 500, Time: eventBase}, {Time: eventBase, MetricName: "x"}}
	if _, err := s.IndexEvents(ctx, bad); !errors.Is(err, ErrInvalid) {
		t.Errorf("event without seq: %v", err)
	}
	if got := must[[]event.Event](t)(s.QueryEvents(ctx, EventFilter{Limit: 1000})); len(got) != 120 || got[0].Seq != 120 {
		t.Errorf("the failed batch left events behind: %d events, newest %d", len(got), got[0].Seq)
	}
	// The whole event comes back, hostile bytes included.
	odd := event.Event{Seq: 1000, Time: eventBase.Add(time.Hour).Add(123 * time.Nanosecond), MetricName: "account.login.failed_invalid_password",
		Level: event.LevelWarning, Message: "user \"x|y=z\"\nlogin failed", Component: "ssh", UserName: "o'brien",
		RequestIP: "192.0.2.1", Extra: map[string]string{"attempt": "3"}}
	if _, err := s.IndexEvents(ctx, []event.Event{odd}); err != nil {
		t.Fatal(err)
	}
	got := must[[]event.Event](t)(s.QueryEvents(ctx, EventFilter{UserName: "o'brien"}))
	if len(got) != 1 || !reflect.DeepEqual(got[0], odd) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, odd)
	}
}

func TestQueryEventsFilters(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	evs := genEvents(rand.New(rand.NewPCG(5, 6)), 0, 3000)
	for i := 0; i < len(evs); i += 1000 {
		if _, err := s.IndexEvents(ctx, evs[i:i+1000]); err != nil {
			t.Fatal(err)
		}
	}
	at := func(sec int) time.Time { return eventBase.Add(time.Duration(sec) * time.Second) }
	filters := []EventFilter{
		{},
		{Level: event.LevelWarning},
		{Level: "error"},
		{Level: event.LevelDebug},
		{Since: at(100), Until: at(300)},
		{Component: "ssh"},
		{Process: "vigild"},
		{Host: "gw2", Component: "wui"},
		{UserName: "alice", Level: event.LevelError},
		{SessionID: "S1", Since: at(500)},
		{MetricName: "session.create", UserName: "bob", Since: at(200), Until: at(1200)},
		{Text: "destroyed"},
		{Text: "100% done"},
		{Text: "disk_usage"},
		{Text: "_"},
		{Text: "session 17 "},
		{MetricName: "recording.upload", Component: "pipeline", Level: event.LevelCritical, Host: "gw1", Process: "vigild"},
		{Level: event.LevelWarning, Since: at(700), Until: at(800), Text: "session"},
		{UserName: "nobody"},
	}
	for _, f := range filters {
		for _, limit := range []int{0, 7, MaxEventLimit} {
			f.Limit = limit
			var want []uint64
			for i := len(evs) - 1; i >= 0; i-- { // newest first: time then seq
				if matches(evs[i], f) {
					want = append(want, evs[i].Seq)
				}
			}
			lim := limit
			if lim == 0 {
				lim = DefaultEventLimit
			}
			want = want[:min(len(want), lim)]
			got, err := s.QueryEvents(ctx, f)
			if err != nil {
				t.Fatalf("%+v: %v", f, err)
			}
			var gotSeq []uint64
			for _, e := range got {
				gotSeq = append(gotSeq, e.Seq)
			}
			if !slices.Equal(gotSeq, want) {
				t.Errorf("%+v: got %d events %v..., want %d %v...", f, len(gotSeq), gotSeq[:min(5, len(gotSeq))], len(want), want[:min(5, len(want))])
			}
		}
	}
	if _, err := s.QueryEvents(ctx, EventFilter{Level: "LOUD"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown level: %v", err)
	}
}

// The dashboard's queries must walk an index in time order and stop at the
// limit, never sort every match. This pins the plans on a fresh database.
func TestQueryEventsPlans(t *testing.T) {
	s, _ := newTestStore(t)
	since := eventBase
	tests := []struct {
		f     EventFilter
		index string
		sort  bool
	}{
		{EventFilter{}, "events_time", false},
		{EventFilter{Since: since, Host: "gw1", Process: "vigild", Text: "x"}, "events_time", false},
		{EventFilter{Level: event.LevelWarning, Since: since}, "events_warn", false},
		{EventFilter{Level: event.LevelError, Host: "gw1"}, "events_warn", false},
		{EventFilter{MetricName: "session.create", Since: since, Level: event.LevelError}, "events_metric", false},
		{EventFilter{Component: "ssh", Since: since, Until: since.Add(time.Hour)}, "events_component", false},
		{EventFilter{Component: "ssh", Level: event.LevelCritical}, "events_warn", false},
		{EventFilter{Component: "ssh", Level: event.LevelInfo}, "events_component", false},
		{EventFilter{UserName: "alice", Component: "ssh", MetricName: "x"}, "events_user", false},
		{EventFilter{SessionID: "S1", UserName: "alice", Since: since}, "events_session", false},
	}
	for _, tt := range tests {
		q, args, err := eventSelect(tt.f)
		if err != nil {
			t.Fatal(err)
		}
		plan := explain(t, s, q, args...)
		if !strings.Contains(plan, "INDEX "+tt.index+" ") || strings.Contains(plan, "TEMP B-TREE") != tt.sort {
			t.Errorf("%+v: plan %q, want index %s, sort %v", tt.f, plan, tt.index, tt.sort)
		}
	}
}

// explain returns the EXPLAIN QUERY PLAN details of q, joined by " | ".
func explain(t testing.TB, s *Store, q string, args ...any) string {
	t.Helper()
	rows, err := s.db.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var parts []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		parts = append(parts, detail)
	}
	return strings.Join(parts, " | ") + " "
}

func TestPruneEvents(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	defer func(n int) { pruneChunk = n }(pruneChunk)
	pruneChunk = 100 // several chunks
	evs := genEvents(rand.New(rand.NewPCG(7, 8)), 0, 1000)
	if _, err := s.IndexEvents(ctx, evs); err != nil {
		t.Fatal(err)
	}
	cut := eventBase.Add(300 * time.Second) // events 1..599 are older
	n, err := s.PruneEvents(ctx, cut)
	if err != nil || n != 599 {
		t.Fatalf("PruneEvents = %d, %v; want 599", n, err)
	}
	left := must[[]event.Event](t)(s.QueryEvents(ctx, EventFilter{Until: cut.Add(time.Second), Limit: 10}))
	if len(left) != 2 || left[1].Seq != 600 {
		t.Errorf("after prune, oldest events %+v", left)
	}
	if n := must[int64](t)(s.PruneEvents(ctx, cut)); n != 0 {
		t.Errorf("second prune deleted %d", n)
	}
}
