package control

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTripAndMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigild.sock")
	srv, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("echo", func(_ context.Context, in json.RawMessage) (any, error) {
		var v struct{ Name string }
		if err := json.Unmarshal(in, &v); err != nil {
			return nil, err
		}
		return map[string]string{"hello": v.Name}, nil
	})
	srv.Handle("fail", func(context.Context, json.RawMessage) (any, error) {
		return nil, errors.New("sessions: no session abc")
	})
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode %04o, want 0600", st.Mode().Perm())
	}

	c := NewClient(path)
	var out map[string]string
	if err := c.Call(context.Background(), "echo", map[string]string{"Name": "alice"}, &out); err != nil {
		t.Fatal(err)
	}
	if out["hello"] != "alice" {
		t.Fatalf("got %v", out)
	}
	err = c.Call(context.Background(), "fail", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "no session abc") {
		t.Fatalf("want the handler's error, got %v", err)
	}
	if _, err := Listen(path); err == nil {
		t.Fatal("a second daemon on the same socket must be refused")
	}
}

func TestNotRunning(t *testing.T) {
	c := NewClient(filepath.Join(t.TempDir(), "absent.sock"))
	if err := c.Call(context.Background(), "status", nil, nil); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("want ErrNotRunning, got %v", err)
	}
}
