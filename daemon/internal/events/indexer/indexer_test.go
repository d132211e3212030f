package indexer

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/events"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// memIndex is an in-memory Index, idempotent on Seq like the store's, that
// fails its first failures calls.
type memIndex struct {
	mu       sync.Mutex
	bySeq    map[uint64]event.Event
	calls    int
	failures int
	pruned   []time.Time
}

var errDown = errors.New("index down")

func (m *memIndex) IndexEvents(_ context.Context, evs []event.Event) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	if m.calls <= m.failures {
		return 0, errDown
	}
	var n int64
	for _, e := range evs {
		if _, ok := m.bySeq[e.Seq]; !ok {
			m.bySeq[e.Seq] = e
			n++
		}
	}
	return n, nil
}

func (m *memIndex) PruneEvents(_ context.Context, olderThan time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pruned = append(m.pruned, olderThan)
	var n int64
	for s, e := range m.bySeq {
		if e.Time.Before(olderThan) {
			delete(m.bySeq, s)
			n++
		}
	}
	return n, nil
}

func (m *memIndex) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.bySeq)
}

func TestIndexerIndexesEverythingDespiteErrors(t *testing.T) {
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	tests := []struct {
		name     string
		failures int
	}{
		{"healthy index", 0},
		{"index fails first", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bus, err := events.Open(events.Config{Dir: t.TempDir(), Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			defer bus.Close()
			idx := &memIndex{bySeq: map[uint64]event.Event{}, failures: tt.failures}
			// One old event, past the 30-day retention.
			if err := bus.Publish(event.Event{MetricName: "old", Time: now.Add(-31 * 24 * time.Hour)}); err != nil {
				t.Fatal(err)
			}
			x, err := New(bus, idx, Config{Retention: 30 * 24 * time.Hour, BatchSize: 100, MaxBackoff: 20 * time.Millisecond, Now: clock})
			if err != nil {
				t.Fatal(err)
			}
			for i := range 1000 {
				if err := bus.Publish(event.Event{MetricName: "m", Message: strconv.Itoa(i)}); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- x.Run(ctx) }()
			sdktest.WaitFor(t, 10*time.Second, "1001 events indexed", func() bool {
				return idx.count() >= 1001 && x.Status().Backlog == 0
			})
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if idx.count() != 1001 {
				t.Fatalf("indexed %d", idx.count())
			}
			for s := uint64(1); s <= 1001; s++ {
				if _, ok := idx.bySeq[s]; !ok {
					t.Fatalf("seq %d missing", s)
				}
			}
			if len(idx.pruned) == 0 || !idx.pruned[0].Equal(now.Add(-30*24*time.Hour)) {
				t.Fatalf("prune calls %v", idx.pruned)
			}
			if st := x.Status(); st.LastError != nil {
				t.Fatalf("last error after success: %v", st.LastError)
			}
		})
	}
}
