package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/wui"
)

// TestSearchSessionsPages: a transcript search pages through every
// matching session that passes the history's filters, each once, in
// pages that stay full although the newest matches belong to sessions
// the filter drops.
func TestSearchSessionsPages(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "vigil.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	b := &wuiBackend{d: &Daemon{store: st}}
	base := time.Date(2025, 5, 1, 8, 0, 0, 0, time.UTC)
	// Indexed oldest first: alice's sessions alternate with two of bob's,
	// so every store page of alice's matches is interleaved with bob's.
	var alice []string
	for i := range 9 {
		for j, user := range []string{"alice", "bob", "bob"} {
			s, err := st.CreateSession(ctx, store.Session{UserName: user, Protocol: store.ProtocolSSH,
				StartedAt: base.Add(time.Duration(3*i+j) * time.Minute)})
			if err != nil {
				t.Fatal(err)
			}
			lines := []store.TranscriptLine{{OffsetMS: 1500, Text: "$ sudo -i"}, {OffsetMS: 2500, Text: "# tail /var/log/secure"}}
			if err := st.AddTranscript(ctx, s.ID, 0, lines); err != nil {
				t.Fatal(err)
			}
			if user == "alice" {
				alice = append(alice, s.ID)
			}
		}
	}
	slices.Reverse(alice) // newest match first
	var got []string
	q := wui.SessionQuery{Text: "sudo", UserName: "alice", Limit: 4}
	for pages := 1; ; pages++ {
		page, err := b.ListSessions(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if (page.Next != "" && len(page.Sessions) != q.Limit) || pages > 3 {
			t.Fatalf("page %d: %d sessions, next %q", pages, len(page.Sessions), page.Next)
		}
		for _, s := range page.Sessions {
			if s.UserName != "alice" || len(s.Hits) != 1 || s.Hits[0].Segment != 1 || s.Hits[0].OffsetMS != 1500 ||
				s.Hits[0].Snippet != "$ "+wui.SnippetStart+"sudo"+wui.SnippetEnd+" -i" {
				t.Fatalf("page %d: %+v", pages, s)
			}
			got = append(got, s.ID)
		}
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if !slices.Equal(got, alice) {
		t.Errorf("got %v, want %v", got, alice)
	}

	// The history's other filters apply to a search too.
	page, err := b.ListSessions(ctx, wui.SessionQuery{Text: "secure", Since: base.Add(24 * time.Minute), Limit: 10})
	if err != nil || len(page.Sessions) != 3 || page.Next != "" {
		t.Errorf("since: %+v, %v", page, err)
	}
	for _, s := range page.Sessions {
		if s.StartedAt.Before(base.Add(24 * time.Minute)) {
			t.Errorf("since: session of %s", s.StartedAt)
		}
	}

	for _, cursor := range []string{"!!!", "MTAuMTE", fmt.Sprint(time.Now().UnixNano()) + "." + alice[0]} {
		_, err := b.ListSessions(ctx, wui.SessionQuery{Text: "sudo", Cursor: cursor})
		if !errors.Is(err, wui.ErrInvalid) || !strings.Contains(err.Error(), "bad cursor") {
			t.Errorf("cursor %q: %v", cursor, err)
		}
	}
}
