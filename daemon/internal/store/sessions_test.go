package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestNewSessionID(t *testing.T) {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 1000; i++ {
		id := NewSessionID(base.Add(time.Duration(i) * time.Millisecond))
		if len(id) != 26 || strings.Trim(id, crockford) != "" {
			t.Fatalf("id %q: want 26 Crockford characters", id)
		}
		if id <= prev {
			t.Fatalf("%q sorts before the earlier %q", id, prev)
		}
		if seen[id] {
			t.Fatalf("duplicate %q", id)
		}
		seen[id], prev = true, id
	}
	if a, b := NewSessionID(base), NewSessionID(base); a == b || a[:10] != b[:10] {
		t.Errorf("same millisecond: %q %q: want same time prefix, different ids", a, b)
	}
}

func TestSessionLifecycle(t *testing.T) {
	ctx := context.Background()
	s, clk := newTestStore(t)
	u := must[User](t)(s.CreateUser(ctx, "alice", ""))
	tg := must[Target](t)(s.CreateTarget(ctx, Target{Name: "db1", FriendlyName: "DB", Protocol: ProtocolSSH, Host: "db1"}, nil))
	ss, err := s.CreateSession(ctx, Session{
		UserID: u.ID, UserName: u.Name, TargetID: tg.ID, TargetName: tg.Name, TargetFriendlyName: tg.FriendlyName,
		Protocol: ProtocolSSH, VS: "0.0.0.0:2222", RS: "10.0.0.5:22", ClientIP: "192.0.2.7", ClientPort: 50123,
		Recorded: true, RecordingState: RecordingRecording,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ss.ID) != 26 || ss.State != SessionActive || !ss.StartedAt.Equal(clk.Now()) || !ss.EndedAt.IsZero() ||
		ss.SignatureState != SignatureUnknown || ss.ExitStatus != nil {
		t.Fatalf("created %+v", ss)
	}
	if _, err := s.CreateSession(ctx, Session{ID: ss.ID, UserName: "x", Protocol: ProtocolSSH}); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate id: %v", err)
	}
	for _, bad := range []Session{{Protocol: ProtocolSSH}, {UserName: "x", Protocol: "ftp"}, {UserName: "x", Protocol: ProtocolSSH, State: "zombie"}} {
		if _, err := s.CreateSession(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("CreateSession(%+v) = %v", bad, err)
		}
	}
	in, out, sealed := int64(100), int64(5000), RecordingSealed
	if err := s.UpdateSession(ctx, ss.ID, SessionUpdate{BytesIn: &in, BytesOut: &out}); err != nil {
		t.Fatal(err)
	}
	bogus := RecordingState("lost")
	if err := s.UpdateSession(ctx, ss.ID, SessionUpdate{RecordingState: &bogus}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad recording state: %v", err)
	}
	if err := s.UpdateSession(ctx, "nope", SessionUpdate{BytesIn: &in}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing session: %v", err)
	}
	clk.Add(time.Minute)
	exit := 0
	if err := s.EndSession(ctx, ss.ID, SessionEnd{ExitStatus: &exit, Reason: "client disconnected"}); err != nil {
		t.Fatal(err)
	}
	if err := s.EndSession(ctx, ss.ID, SessionEnd{State: SessionKilled}); !errors.Is(err, ErrState) {
		t.Errorf("ending twice: %v", err)
	}
	if err := s.EndSession(ctx, "nope", SessionEnd{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("ending missing: %v", err)
	}
	if err := s.EndSession(ctx, ss.ID, SessionEnd{State: SessionActive}); !errors.Is(err, ErrInvalid) {
		t.Errorf("ending as active: %v", err)
	}
	verified := SignatureVerified
	if err := s.UpdateSession(ctx, ss.ID, SessionUpdate{RecordingState: &sealed, SignatureState: &verified}); err != nil {
		t.Fatal(err)
	}
	got := must[Session](t)(s.GetSession(ctx, ss.ID))
	if got.State != SessionEnded || !got.EndedAt.Equal(clk.Now()) || got.ExitStatus == nil || *got.ExitStatus != 0 ||
		got.EndReason != "client disconnected" || got.BytesIn != 100 || got.BytesOut != 5000 ||
		got.RecordingState != RecordingSealed || got.SignatureState != SignatureVerified || !got.Recorded {
		t.Errorf("after end: %+v", got)
	}
	// History outlives the accounts.
	s.DeleteUser(ctx, u.ID)
	s.DeleteTarget(ctx, tg.ID)
	got = must[Session](t)(s.GetSession(ctx, ss.ID))
	if got.UserID != 0 || got.UserName != "alice" || got.TargetID != 0 || got.TargetName != "db1" {
		t.Errorf("after deleting user and target: %+v", got)
	}
	refused := must[Session](t)(s.CreateSession(ctx, Session{UserName: "bob", Protocol: ProtocolVNC, State: SessionRefused, EndReason: "spool full"}))
	if !refused.EndedAt.Equal(refused.StartedAt) {
		t.Errorf("refused session %+v", refused)
	}
	active := must[Session](t)(s.CreateSession(ctx, Session{UserName: "carol", Protocol: ProtocolSSH}))
	if as := must[[]Session](t)(s.ActiveSessions(ctx)); len(as) != 1 || as[0].ID != active.ID {
		t.Errorf("ActiveSessions = %+v", as)
	}
	if n := must[int64](t)(s.EndActiveSessions(ctx, active.StartedAt, "vigild restarted")); n != 0 {
		t.Errorf("EndActiveSessions before the session started = %d, want 0", n)
	}
	if n := must[int64](t)(s.EndActiveSessions(ctx, active.StartedAt.Add(time.Nanosecond), "vigild restarted")); n != 1 {
		t.Errorf("EndActiveSessions = %d", n)
	}
	if got := must[Session](t)(s.GetSession(ctx, active.ID)); got.State != SessionEnded || got.EndReason != "vigild restarted" {
		t.Errorf("after EndActiveSessions: %+v", got)
	}
}

// seedSessions creates n sessions with a few users, targets, protocols and
// states, some sharing a start time, and returns them.
func seedSessions(t *testing.T, s *Store, n int) []Session {
	t.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var out []Session
	for i := 0; i < n; i++ {
		ss := Session{
			UserName:   fmt.Sprintf("user%d", r.IntN(4)),
			TargetName: fmt.Sprintf("target%d", r.IntN(3)),
			Protocol:   []Protocol{ProtocolSSH, ProtocolVNC, ProtocolRDP}[r.IntN(3)],
			StartedAt:  base.Add(time.Duration(r.IntN(n/3+1)) * time.Minute), // duplicates on purpose
			State:      []SessionState{SessionActive, SessionEnded, SessionKilled, SessionRefused}[r.IntN(4)],
		}
		out = append(out, must[Session](t)(s.CreateSession(ctx, ss)))
	}
	return out
}

func TestListSessionsPagination(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	all := seedSessions(t, s, 150)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	filters := []SessionFilter{
		{},
		{UserName: "user1"},
		{TargetName: "target2"},
		{UserName: "user0", TargetName: "target1", Protocol: ProtocolSSH},
		{States: []SessionState{SessionKilled}},
		{States: []SessionState{SessionEnded, SessionKilled}, Protocol: ProtocolRDP},
		{Since: base.Add(20 * time.Minute), Until: base.Add(70 * time.Minute)},
		{UserName: "user2", Since: base.Add(50 * time.Minute)},
		{UserName: "nobody"},
	}
	for _, f := range filters {
		t.Run(fmt.Sprintf("%+v", f), func(t *testing.T) {
			var want []string
			for _, ss := range all {
				if (f.UserName == "" || ss.UserName == f.UserName) && (f.TargetName == "" || ss.TargetName == f.TargetName) &&
					(f.Protocol == "" || ss.Protocol == f.Protocol) && (f.Since.IsZero() || !ss.StartedAt.Before(f.Since)) &&
					(f.Until.IsZero() || ss.StartedAt.Before(f.Until)) && (len(f.States) == 0 || slices.Contains(f.States, ss.State)) {
					want = append(want, ss.ID)
				}
			}
			sort.Slice(want, func(i, j int) bool { return want[i] > want[j] }) // ids sort by start time, then randomly
			byStart := map[string]time.Time{}
			for _, ss := range all {
				byStart[ss.ID] = ss.StartedAt
			}
			sort.SliceStable(want, func(i, j int) bool { return byStart[want[i]].After(byStart[want[j]]) })
			for _, pageSize := range []int{2, 7, 1000} {
				var got []string
				cursor, pages := "", 0
				for {
					page, next, err := s.ListSessions(ctx, f, cursor, pageSize)
					if err != nil {
						t.Fatal(err)
					}
					if len(page) > pageSize || (next != "" && len(page) != pageSize) {
						t.Fatalf("page of %d with limit %d, next %q", len(page), pageSize, next)
					}
					for _, ss := range page {
						got = append(got, ss.ID)
					}
					pages++
					if next == "" {
						break
					}
					cursor = next
				}
				if !slices.Equal(got, want) {
					t.Fatalf("page size %d: %d sessions in %d pages, want %d; first diff at %d", pageSize, len(got), pages, len(want), firstDiff(got, want))
				}
			}
		})
	}
	if _, _, err := s.ListSessions(ctx, SessionFilter{}, "!!!", 10); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad cursor: %v", err)
	}
	if _, _, err := s.ListSessions(ctx, SessionFilter{States: []SessionState{"gone"}}, "", 10); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad state: %v", err)
	}
	// A session added after the first page does not shift the later pages.
	first, next, _ := s.ListSessions(ctx, SessionFilter{}, "", 10)
	must[Session](t)(s.CreateSession(ctx, Session{UserName: "late", Protocol: ProtocolSSH, StartedAt: base.Add(1000 * time.Hour)}))
	second, _, _ := s.ListSessions(ctx, SessionFilter{}, next, 10)
	if second[0].ID == first[len(first)-1].ID || !second[0].StartedAt.Before(first[len(first)-1].StartedAt) &&
		second[0].StartedAt != first[len(first)-1].StartedAt {
		t.Errorf("second page starts at %+v after %+v", second[0], first[len(first)-1])
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestTranscripts(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	a := must[Session](t)(s.CreateSession(ctx, Session{UserName: "alice", Protocol: ProtocolSSH}))
	b := must[Session](t)(s.CreateSession(ctx, Session{UserName: "bob", Protocol: ProtocolSSH}))
	err := s.AddTranscript(ctx, a.ID, 0, []TranscriptLine{
		{OffsetMS: 1200, Text: "alice@db1:~$ ls -la /etc"},
		{OffsetMS: 4500, Text: "alice@db1:~$ sudo cat /etc/shadow"},
		{OffsetMS: 9000, Text: `echo "DROP TABLE users;" | psql`},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddTranscript(ctx, b.ID, 2, []TranscriptLine{{OffsetMS: 777, Text: "bob ran cat /etc/SHADOW here, café"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddTranscript(ctx, "missing", 0, []TranscriptLine{{Text: "x"}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing session: %v", err)
	}
	type hit struct {
		id  string
		seg int
		off int64
	}
	tests := []struct {
		q    SessionSearch
		want []hit
	}{
		{SessionSearch{Text: "shadow"}, []hit{{b.ID, 2, 777}, {a.ID, 0, 4500}}},
		{SessionSearch{Text: "etc/shadow"}, []hit{{b.ID, 2, 777}, {a.ID, 0, 4500}}},
		{SessionSearch{Text: "shadow", SessionID: a.ID}, []hit{{a.ID, 0, 4500}}},
		{SessionSearch{Text: "sudo shadow"}, []hit{{a.ID, 0, 4500}}},
		{SessionSearch{Text: "shadow", Limit: 1}, []hit{{b.ID, 2, 777}}},
		{SessionSearch{Text: "cafe"}, []hit{{b.ID, 2, 777}}},
		{SessionSearch{Text: `"DROP TABLE`}, []hit{{a.ID, 0, 9000}}},
		{SessionSearch{Text: "NOT OR AND * -la"}, nil},
		{SessionSearch{Text: "-la"}, []hit{{a.ID, 0, 1200}}},
		{SessionSearch{Text: "nothinglikethis"}, nil},
	}
	for _, tt := range tests {
		hits, err := searchLines(ctx, s, tt.q)
		if err != nil {
			t.Errorf("%+v: %v", tt.q, err)
			continue
		}
		var got []hit
		for _, h := range hits {
			got = append(got, hit{h.SessionID, h.Segment, h.OffsetMS})
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%+v: got %v, want %v", tt.q, got, tt.want)
		}
	}
	hits := must[[]TranscriptHit](t)(searchLines(ctx, s, SessionSearch{Text: "sudo", SessionID: a.ID}))
	if len(hits) != 1 || !strings.Contains(hits[0].Snippet, SnippetStart+"sudo"+SnippetEnd) {
		t.Errorf("hits %+v", hits)
	}
	if _, _, err := s.SearchSessions(ctx, SessionSearch{Text: "  "}); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty search: %v", err)
	}
}

// searchLines is the first page of SearchSessions as the matching lines
// it holds, session after session.
func searchLines(ctx context.Context, s *Store, q SessionSearch) ([]TranscriptHit, error) {
	found, _, err := s.SearchSessions(ctx, q)
	var hits []TranscriptHit
	for _, f := range found {
		hits = append(hits, f.Hits...)
	}
	return hits, err
}

// History pages must walk an index in (started_at, id) order and stop at
// the page size, never sort the matching rows.
func TestListSessionsPlans(t *testing.T) {
	s, _ := newTestStore(t)
	since := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cur := encodeCursor(ns(since), "X")
	tests := []struct {
		f     SessionFilter
		index string
	}{
		{SessionFilter{}, "sessions_started"},
		{SessionFilter{Since: since, Protocol: ProtocolSSH}, "sessions_started"},
		{SessionFilter{States: []SessionState{SessionEnded, SessionKilled}}, "sessions_started"},
		{SessionFilter{UserName: "a", TargetName: "b", States: []SessionState{SessionKilled}}, "sessions_user"},
		{SessionFilter{TargetName: "b", States: []SessionState{SessionKilled}, Since: since}, "sessions_target"},
		{SessionFilter{States: []SessionState{SessionActive}}, "sessions_state"},
	}
	for _, tt := range tests {
		for _, c := range []string{"", cur} {
			q, args, err := sessionSelect(tt.f, c, 51)
			if err != nil {
				t.Fatal(err)
			}
			plan := explain(t, s, q, args...)
			if !strings.Contains(plan, "INDEX "+tt.index+" ") || strings.Contains(plan, "TEMP B-TREE") {
				t.Errorf("%+v cursor %q: plan %q, want index %s without a sort", tt.f, c, plan, tt.index)
			}
		}
	}
}
