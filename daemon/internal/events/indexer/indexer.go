package indexer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/events"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Index is what the store implements. IndexEvents must skip events whose
// Seq it already holds; both calls may be retried after an error.
type Index interface {
	IndexEvents(ctx context.Context, evs []event.Event) (int64, error)
	PruneEvents(ctx context.Context, olderThan time.Time) (int64, error)
}

// Config tunes an Indexer. Zero values take the defaults.
type Config struct {
	// Consumer is the journal consumer's name (default "index").
	Consumer string
	// Retention is how long indexed events are kept (default 90 days;
	// negative: forever). PruneEvery is how often old ones are pruned
	// (default 1 h).
	Retention  time.Duration
	PruneEvery time.Duration
	// BatchSize is the most events per IndexEvents call (default 500).
	BatchSize int
	// MaxBackoff caps the wait between retries after an error (default 30 s).
	MaxBackoff time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

const (
	defaultRetention  = 90 * 24 * time.Hour
	defaultPruneEvery = time.Hour
	defaultBatch      = 500
	defaultMaxBackoff = 30 * time.Second
	minBackoff        = 100 * time.Millisecond
)

func (c *Config) setDefaults() {
	if c.Consumer == "" {
		c.Consumer = "index"
	}
	if c.Retention == 0 {
		c.Retention = defaultRetention
	}
	if c.PruneEvery <= 0 {
		c.PruneEvery = defaultPruneEvery
	}
	if c.BatchSize <= 0 {
		c.BatchSize = defaultBatch
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = defaultMaxBackoff
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Indexer moves events from the journal into an Index.
type Indexer struct {
	cfg Config
	idx Index
	c   *events.Consumer

	mu      sync.Mutex
	lastErr error
	pruned  int64
}

// New opens the indexer's journal consumer. Run does the work.
func New(bus *events.Bus, idx Index, cfg Config) (*Indexer, error) {
	cfg.setDefaults()
	c, err := bus.Consumer(cfg.Consumer, events.ConsumerOptions{})
	if err != nil {
		return nil, fmt.Errorf("indexer: %w", err)
	}
	return &Indexer{cfg: cfg, idx: idx, c: c}, nil
}

// Run indexes events as they become durable and prunes old ones, until ctx
// ends; then it closes the consumer and returns nil. Errors from the index
// are retried with capped exponential backoff (see LastError).
func (x *Indexer) Run(ctx context.Context) error {
	defer x.c.Close()
	nextPrune := x.cfg.Now()
	backoff := time.Duration(0)
	for ctx.Err() == nil {
		if x.cfg.Retention > 0 && !x.cfg.Now().Before(nextPrune) {
			n, err := x.idx.PruneEvents(ctx, x.cfg.Now().Add(-x.cfg.Retention))
			x.note(err)
			if err == nil {
				x.mu.Lock()
				x.pruned += n
				x.mu.Unlock()
			}
			nextPrune = x.cfg.Now().Add(x.cfg.PruneEvery)
		}
		wait, cancel := context.WithTimeout(ctx, x.cfg.PruneEvery)
		evs, err := x.c.Next(wait, x.cfg.BatchSize)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				continue
			}
			return fmt.Errorf("indexer: %w", err)
		}
		if len(evs) == 0 {
			continue
		}
		if _, err := x.idx.IndexEvents(ctx, evs); err != nil {
			x.note(err)
			x.c.Rewind()
			backoff = min(max(2*backoff, minBackoff), x.cfg.MaxBackoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		x.note(nil)
		if err := x.c.Ack(evs[len(evs)-1].Seq); err != nil {
			return fmt.Errorf("indexer: %w", err)
		}
	}
	return nil
}

func (x *Indexer) note(err error) {
	x.mu.Lock()
	x.lastErr = err
	x.mu.Unlock()
}

// Status is the indexer's progress.
type Status struct {
	events.ConsumerStats
	// LastError is the error of the last attempt, nil once one succeeds.
	LastError error
	// Pruned counts the index entries removed by retention since start.
	Pruned int64
}

// Status reports the indexer's progress.
func (x *Indexer) Status() Status {
	x.mu.Lock()
	defer x.mu.Unlock()
	return Status{ConsumerStats: x.c.Stats(), LastError: x.lastErr, Pruned: x.pruned}
}
