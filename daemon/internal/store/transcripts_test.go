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

// searchFixture is a store with sessions whose transcripts were indexed
// segment by segment in a shuffled order, so that the newest matching line
// does not follow the session start, and the answers the tests expect.
type searchFixture struct {
	s        *Store
	sessions []Session
	// matches are each session's lines that hold "needle", oldest first.
	matches map[string][]TranscriptHit
	// newest is the indexing sequence number of each session's newest
	// match: searches order sessions by it, descending.
	newest map[string]int
	seq    int
}

func newSearchFixture(t *testing.T, n int) *searchFixture {
	t.Helper()
	ctx := context.Background()
	s, _ := newTestStore(t)
	f := &searchFixture{s: s, matches: map[string][]TranscriptHit{}, newest: map[string]int{}}
	base := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	users := []string{"alice", "bob", "carol"}
	for i := range n {
		ss := must[Session](t)(s.CreateSession(ctx, Session{UserName: users[i%len(users)], TargetName: fmt.Sprintf("t%d", i%4),
			Protocol: ProtocolSSH, StartedAt: base.Add(time.Duration(i) * time.Minute)}))
		f.sessions = append(f.sessions, ss)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for seg := range 3 {
		for _, i := range rng.Perm(n) {
			if i%5 == 4 && seg > 0 {
				continue // some sessions have one segment only
			}
			// 0 to 7 matching lines among others, so that some sessions
			// have more than HitsPerSession hits and some have none.
			f.add(t, f.sessions[i].ID, seg, rng.IntN(8), rng.IntN(3))
		}
	}
	return f
}

// add indexes one segment of matching and other lines, interleaved.
func (f *searchFixture) add(t *testing.T, id string, seg, matching, other int) {
	t.Helper()
	var lines []TranscriptLine
	for k := range matching + other {
		l := TranscriptLine{OffsetMS: int64(1000*seg + k), Text: fmt.Sprintf("line %d of segment %d", k, seg)}
		if k%2 == 0 && matching > 0 || other == 0 {
			matching--
			l.Text = fmt.Sprintf("$ grep needle /var/log/%d", k)
			f.matches[id] = append(f.matches[id], TranscriptHit{SessionID: id, Segment: seg, OffsetMS: l.OffsetMS})
			f.newest[id] = f.seq
		} else {
			other--
		}
		f.seq++
		lines = append(lines, l)
	}
	if err := f.s.AddTranscript(context.Background(), id, seg, lines); err != nil {
		t.Fatal(err)
	}
}

// want is the ids SearchSessions must return for "needle", in order.
func (f *searchFixture) want(keep func(Session) bool) []string {
	var ids []string
	for _, ss := range f.sessions {
		if _, ok := f.newest[ss.ID]; ok && keep(ss) {
			ids = append(ids, ss.ID)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return f.newest[ids[i]] > f.newest[ids[j]] })
	return ids
}

// all pages through a search, checking each page and each session's hits.
func (f *searchFixture) all(t *testing.T, q SessionSearch) []string {
	t.Helper()
	var got []string
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("%+v: no last page", q)
		}
		page, next, err := f.s.SearchSessions(context.Background(), q)
		if err != nil {
			t.Fatalf("%+v: %v", q, err)
		}
		if len(page) > q.Limit || (next != "" && len(page) != q.Limit) {
			t.Fatalf("%+v: page of %d, next %q", q, len(page), next)
		}
		for _, sh := range page {
			got = append(got, sh.Session.ID)
			m := f.matches[sh.Session.ID]
			want := slices.Clone(m[max(len(m)-HitsPerSession, 0):])
			slices.Reverse(want)
			var hits []TranscriptHit
			for _, h := range sh.Hits {
				if !strings.Contains(h.Snippet, SnippetStart+"needle"+SnippetEnd) {
					t.Fatalf("%s: snippet %q", sh.Session.ID, h.Snippet)
				}
				h.Snippet = ""
				hits = append(hits, h)
			}
			if !slices.Equal(hits, want) {
				t.Fatalf("%s: hits %v, want %v", sh.Session.ID, hits, want)
			}
		}
		if next == "" {
			return got
		}
		q.Cursor = next
	}
}

func TestSearchSessionsPages(t *testing.T) {
	f := newSearchFixture(t, 40)
	every := func(Session) bool { return true }
	tests := []struct {
		f    SessionFilter
		keep func(Session) bool
	}{
		{SessionFilter{}, every},
		// Filtered-out sessions, among them the newest matches, neither
		// shorten pages nor shift the cursor.
		{SessionFilter{UserName: "bob"}, func(s Session) bool { return s.UserName == "bob" }},
		{SessionFilter{TargetName: "t1", Since: f.sessions[10].StartedAt}, func(s Session) bool {
			return s.TargetName == "t1" && !s.StartedAt.Before(f.sessions[10].StartedAt)
		}},
		{SessionFilter{Protocol: ProtocolVNC}, func(Session) bool { return false }},
	}
	for _, tt := range tests {
		want := f.want(tt.keep)
		if tt.f.UserName == "" && tt.f.TargetName == "" && tt.f.Protocol == "" && len(want) < 30 {
			t.Fatalf("fixture: only %d sessions match", len(want))
		}
		for _, limit := range []int{1, 3, 7, 1000} {
			got := f.all(t, SessionSearch{Text: "needle", Filter: tt.f, Limit: limit})
			if !slices.Equal(got, want) {
				t.Errorf("%+v limit %d: %d sessions, want %d; first diff at %d", tt.f, limit, len(got), len(want), firstDiff(got, want))
			}
		}
	}
	one := f.want(every)[5]
	if got := f.all(t, SessionSearch{Text: "needle", SessionID: one, Limit: 2}); !slices.Equal(got, []string{one}) {
		t.Errorf("session %s alone: %v", one, got)
	}
	if got := f.all(t, SessionSearch{Text: "needle", SessionID: "missing", Limit: 2}); len(got) != 0 {
		t.Errorf("missing session: %v", got)
	}
	if got := f.all(t, SessionSearch{Text: "nothinglikethis", Limit: 2}); len(got) != 0 {
		t.Errorf("no match: %v", got)
	}
}

// Lines indexed between two pages neither repeat a session already shown
// nor skip one: later pages see the index as the first page did.
func TestSearchSessionsStableAcrossIndexing(t *testing.T) {
	f := newSearchFixture(t, 20)
	ctx := context.Background()
	want := f.want(func(Session) bool { return true })
	first, next, err := f.s.SearchSessions(ctx, SessionSearch{Text: "needle", Limit: 5})
	if err != nil || next == "" {
		t.Fatalf("first page: %d sessions, next %q, %v", len(first), next, err)
	}
	// A session of a later page and one of the first get new matches.
	f.add(t, want[len(want)-1], 7, 1, 0)
	f.add(t, want[0], 8, 1, 0)
	got := []string{}
	for _, sh := range first {
		got = append(got, sh.Session.ID)
	}
	for next != "" {
		var page []SessionHits
		if page, next, err = f.s.SearchSessions(ctx, SessionSearch{Text: "needle", Limit: 5, Cursor: next}); err != nil {
			t.Fatal(err)
		}
		for _, sh := range page {
			got = append(got, sh.Session.ID)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("%d sessions, want %d; first diff at %d", len(got), len(want), firstDiff(got, want))
	}
}

func TestSearchSessionsInvalid(t *testing.T) {
	f := newSearchFixture(t, 3)
	ctx := context.Background()
	_, next, err := f.s.SearchSessions(ctx, SessionSearch{Text: "needle", Limit: 1})
	if err != nil || next == "" {
		t.Fatalf("first page: next %q, %v", next, err)
	}
	top, after, err := decodeSearchCursor(next)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{
		"!!!", "AAAA", "MTAuMw==", // padded
		encodeCursor(top, "01JBENCH000000000000000001"), // a history cursor
		encodeCursor(top, "0"), encodeCursor(top, "-3"), encodeCursor(top, "+3"), encodeCursor(top, "03"),
		encodeCursor(after-1, fmt.Sprint(after)), // after beyond the top
		encodeCursor(top, "99999999999999999999"),
	} {
		page, next, err := f.s.SearchSessions(ctx, SessionSearch{Text: "needle", Cursor: c})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "bad cursor") || page != nil || next != "" {
			t.Errorf("cursor %q: %d sessions, next %q, %v", c, len(page), next, err)
		}
	}
	for _, text := range []string{"", "  \t"} {
		if _, _, err := f.s.SearchSessions(ctx, SessionSearch{Text: text}); !errors.Is(err, ErrInvalid) {
			t.Errorf("search %q: %v", text, err)
		}
	}
	if _, _, err := f.s.SearchSessions(ctx, SessionSearch{Text: "needle", Filter: SessionFilter{States: []SessionState{"gone"}}}); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad state: %v", err)
	}
}

// What users type is searched for, never obeyed as FTS5 syntax.
func TestSearchSessionsLiteral(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	a := must[Session](t)(s.CreateSession(ctx, Session{UserName: "alice", Protocol: ProtocolSSH}))
	b := must[Session](t)(s.CreateSession(ctx, Session{UserName: "bob", Protocol: ProtocolSSH}))
	if err := s.AddTranscript(ctx, a.ID, 0, []TranscriptLine{{OffsetMS: 5, Text: `echo "DROP TABLE users;" | psql`},
		{OffsetMS: 9, Text: "ls -la /etc"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddTranscript(ctx, b.ID, 0, []TranscriptLine{{OffsetMS: 7, Text: "NEAR the table: ls * OR not"}}); err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string][]string{
		`"DROP TABLE`:       {a.ID},
		`table`:             {b.ID, a.ID},
		`NOT OR AND * -la`:  nil,
		`-la`:               {a.ID},
		`NEAR(table ls)`:    nil,
		`table: OR`:         {b.ID},
		`users;" | psql`:    {a.ID},
		`session_id:alice*`: nil,
	} {
		page, _, err := s.SearchSessions(ctx, SessionSearch{Text: text})
		if err != nil {
			t.Errorf("%q: %v", text, err)
			continue
		}
		var got []string
		for _, sh := range page {
			got = append(got, sh.Session.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%q: %v, want %v", text, got, want)
		}
	}
}

// The walk must follow the full-text index in rowid order with the
// sessions table inside it, and the lines be fetched by rowid: no sort,
// no scan of the sessions table.
func TestSearchSessionsPlans(t *testing.T) {
	s, _ := newTestStore(t)
	conds, args, err := sessionConds(SessionFilter{UserName: "a", States: []SessionState{SessionEnded}})
	if err != nil {
		t.Fatal(err)
	}
	walk := explain(t, s, `SELECT t.rowid, t.session_id FROM transcripts t CROSS JOIN sessions ON sessions.id = t.session_id
		WHERE `+strings.Join(conds, " AND ")+` AND transcripts MATCH ? AND t.rowid <= ? ORDER BY t.rowid DESC`, append(args, `"x"`, 9)...)
	if !strings.Contains(walk, "VIRTUAL TABLE") || !strings.Contains(walk, "sessions USING INDEX sqlite_autoindex_sessions_1 (id=?)") ||
		strings.Contains(walk, "TEMP B-TREE") || strings.Index(walk, "VIRTUAL") > strings.Index(walk, "sessions USING") {
		t.Errorf("walk plan %q", walk)
	}
	// FTS5's plan for a MATCH with rowid = ?, which it answers by seeking.
	lines := explain(t, s, `SELECT rowid FROM transcripts WHERE transcripts MATCH ? AND rowid IN (?, ?)`, `"x"`, 1, 2)
	if !strings.Contains(lines, "VIRTUAL TABLE INDEX 0:=M") {
		t.Errorf("lines plan %q", lines)
	}
}

// A search cursor decodes to what it was made of.
func TestSearchCursorRoundTrip(t *testing.T) {
	for _, c := range [][2]int64{{1, 1}, {10, 3}, {1 << 62, 1}} {
		top, after, err := decodeSearchCursor(encodeSearchCursor(c[0], c[1]))
		if err != nil || top != c[0] || after != c[1] {
			t.Errorf("%v: %d %d %v", c, top, after, err)
		}
	}
}

func FuzzDecodeSearchCursor(f *testing.F) {
	for _, seed := range []string{encodeSearchCursor(10, 3), encodeSearchCursor(1, 1), encodeCursor(5, "01JBENCH"),
		encodeCursor(5, "-1"), "", "!!!", "MTAuMw", "MTAuMw=="} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, c string) {
		top, after, err := decodeSearchCursor(c)
		if err != nil {
			if !errors.Is(err, ErrInvalid) || top != 0 || after != 0 {
				t.Fatalf("%q: %d %d %v", c, top, after, err)
			}
			return
		}
		if after <= 0 || after > top || encodeSearchCursor(top, after) != c {
			t.Fatalf("%q accepted as %d %d", c, top, after)
		}
	})
}
