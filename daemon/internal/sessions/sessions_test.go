package sessions

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

type killLog struct {
	mu   sync.Mutex
	reqs map[string][]KillRequest
}

func (k *killLog) fn(id string) KillFunc {
	return func(r KillRequest) {
		k.mu.Lock()
		defer k.mu.Unlock()
		k.reqs[id] = append(k.reqs[id], r)
	}
}

func (k *killLog) get(id string) []KillRequest {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]KillRequest(nil), k.reqs[id]...)
}

func TestRegisterListDone(t *testing.T) {
	r := New()
	kl := &killLog{reqs: map[string][]KillRequest{}}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := r.Register(Info{ID: "a", Protocol: "ssh", User: "alice", Target: "web01", Start: t0.Add(time.Second)}, kl.fn("a"))
	b := r.Register(Info{ID: "b", Protocol: "ssh", User: "bob", Target: "db01", Start: t0}, kl.fn("b"))
	a.AddBytes(10, 200)
	a.AddBytes(5, 0)
	if got := r.Count(); got != 2 {
		t.Fatalf("Count = %d, want 2", got)
	}
	list := r.List()
	if len(list) != 2 || list[0].ID != "b" || list[1].ID != "a" {
		t.Fatalf("List order = %+v, want b then a (oldest first)", list)
	}
	if list[1].BytesIn != 15 || list[1].BytesOut != 200 {
		t.Errorf("bytes = %d/%d, want 15/200", list[1].BytesIn, list[1].BytesOut)
	}
	b.Done()
	b.Done() // idempotent
	if got := r.Count(); got != 1 {
		t.Fatalf("Count after Done = %d, want 1", got)
	}
	if _, ok := r.Get("b"); ok {
		t.Error("b still listed after Done")
	}
	if s, ok := r.Get("a"); !ok || s.User != "alice" {
		t.Errorf("Get(a) = %+v, %v", s, ok)
	}
}

func TestRegisterPanics(t *testing.T) {
	tests := []struct {
		name string
		info Info
		kill KillFunc
	}{
		{"empty id", Info{}, func(KillRequest) {}},
		{"nil kill", Info{ID: "x"}, nil},
		{"duplicate", Info{ID: "dup"}, func(KillRequest) {}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New()
			r.Register(Info{ID: "dup"}, func(KillRequest) {})
			defer func() {
				if recover() == nil {
					t.Fatal("Register did not panic")
				}
			}()
			r.Register(tt.info, tt.kill)
		})
	}
}

func TestKill(t *testing.T) {
	tests := []struct {
		name     string
		do       func(r *Registry) (int, error)
		wantKill map[string][]KillRequest
		wantErr  error
	}{
		{
			name:     "one by id",
			do:       func(r *Registry) (int, error) { return 1, r.Kill("a1", "root") },
			wantKill: map[string][]KillRequest{"a1": {{By: "root"}}},
		},
		{
			name:    "unknown id",
			do:      func(r *Registry) (int, error) { return 0, r.Kill("nope", "root") },
			wantErr: ErrNotFound,
		},
		{
			name:     "twice kills once",
			do:       func(r *Registry) (int, error) { r.Kill("a1", "x"); return 1, r.Kill("a1", "y") },
			wantKill: map[string][]KillRequest{"a1": {{By: "x"}}},
		},
		{
			name: "all of one user",
			do:   func(r *Registry) (int, error) { return r.KillAll("alice", "ops"), nil },
			wantKill: map[string][]KillRequest{
				"a1": {{By: "ops", All: true}}, "a2": {{By: "ops", All: true}},
			},
		},
		{
			name: "all",
			do:   func(r *Registry) (int, error) { return r.KillAll("", "shutdown"), nil },
			wantKill: map[string][]KillRequest{
				"a1": {{By: "shutdown", All: true}}, "a2": {{By: "shutdown", All: true}}, "b1": {{By: "shutdown", All: true}},
			},
		},
		{
			name: "all of a user without sessions",
			do:   func(r *Registry) (int, error) { return r.KillAll("carol", "ops"), nil },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New()
			kl := &killLog{reqs: map[string][]KillRequest{}}
			for _, s := range []struct{ id, user string }{{"a1", "alice"}, {"a2", "alice"}, {"b1", "bob"}} {
				r.Register(Info{ID: s.id, User: s.user}, kl.fn(s.id))
			}
			n, err := tt.do(r)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			killed := 0
			for _, id := range []string{"a1", "a2", "b1"} {
				got, want := kl.get(id), tt.wantKill[id]
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("%s kill requests = %v, want %v", id, got, want)
				}
				if len(got) > 0 {
					killed++
				}
			}
			if n != killed {
				t.Errorf("reported %d kills, %d sessions saw one", n, killed)
			}
		})
	}
}

func TestDrain(t *testing.T) {
	r := New()
	if err := r.Drain(context.Background()); err != nil {
		t.Fatalf("Drain of an empty registry: %v", err)
	}
	h1 := r.Register(Info{ID: "1"}, func(KillRequest) {})
	h2 := r.Register(Info{ID: "2"}, func(KillRequest) {})

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := r.Drain(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Drain with live sessions = %v, want deadline exceeded", err)
	}

	done := make(chan error, 1)
	go func() { done <- r.Drain(context.Background()) }()
	h1.Done()
	select {
	case err := <-done:
		t.Fatalf("Drain returned %v with a session still live", err)
	default:
	}
	h2.Done()
	if err := <-done; err != nil {
		t.Fatalf("Drain = %v", err)
	}
	// Registering again after draining must re-arm the wait.
	h3 := r.Register(Info{ID: "3"}, func(KillRequest) {})
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel2()
	if err := r.Drain(ctx2); err == nil {
		t.Fatal("Drain returned nil with session 3 live")
	}
	h3.Done()
}

func TestConcurrentUse(t *testing.T) {
	r := New()
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := r.Register(Info{ID: fmt.Sprint("s", i), User: "u"}, func(KillRequest) {})
			for j := 0; j < 100; j++ {
				h.AddBytes(1, 2)
			}
			r.List()
			r.KillAll("nobody", "x")
			h.Done()
		}()
	}
	wg.Wait()
	if err := r.Drain(context.Background()); err != nil || r.Count() != 0 {
		t.Fatalf("after all Done: count %d, drain %v", r.Count(), err)
	}
}
