package wui

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLoginsFileKeepsSessions: with LoginsFile, a login survives a new
// server (a restart of vigild); the file holds no token and is 0600;
// logged-out and expired sessions do not come back; an unreadable file
// logs everyone out.
func TestLoginsFileKeepsSessions(t *testing.T) {
	now := time.Date(2025, 11, 23, 14, 0, 0, 0, time.UTC)
	file := filepath.Join(t.TempDir(), "wui_logins.json")
	cfg := Config{LoginsFile: file, IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, MaxLoginSessions: 10,
		Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)}

	a := newLoginStore(cfg)
	kept, keptToken := a.create(7, "alice")
	gone, goneToken := a.create(8, "bob")
	a.delete(gone.key)
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", file, st.Mode().Perm())
	}
	if bytes.Contains(b, []byte(keptToken)) || !bytes.Contains(b, []byte(kept.key)) || bytes.Contains(b, []byte(gone.key)) {
		t.Errorf("the file holds a token, or not exactly the live session's key:\n%s", b)
	}

	now = now.Add(10 * time.Minute)
	a.get(keptToken) // used: last seen now
	a.save()         // as Shutdown does
	restarted := newLoginStore(cfg)
	l := restarted.get(keptToken)
	if l == nil || l.userID != 7 || l.name != "alice" || l.csrf != kept.csrf || !l.created.Equal(kept.created) {
		t.Fatalf("after a restart alice's session is %+v, want %+v", l, kept)
	}
	if restarted.get(goneToken) != nil {
		t.Error("a logged-out session came back")
	}

	// Idle for longer than the idle timeout since the last save: not restored.
	now = now.Add(31 * time.Minute)
	if newLoginStore(cfg).len() != 0 {
		t.Error("an expired session was restored")
	}

	if err := os.WriteFile(file, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	now = now.Add(-31 * time.Minute)
	if newLoginStore(cfg).get(keptToken) != nil {
		t.Error("a session came back from a corrupt file")
	}
}
