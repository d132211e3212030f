package store

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testKey is the sealing key of test stores.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// clock is a settable time source for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newTestStore opens a store in a fresh directory, closed at the end of t.
func newTestStore(t testing.TB) (*Store, *clock) {
	t.Helper()
	c := newClock()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "vigil.db"), Options{SealingKey: testKey, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, c
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
