package logsink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/events"
	"github.com/vigilgw/vigil/daemon/internal/logsink/file"
	"github.com/vigilgw/vigil/daemon/internal/logsink/syslog"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Writer is where a sink puts formatted lines: a set of log files or a
// syslog server.
type Writer interface {
	// Write hands over lines[i], the formatted evs[i]. An error means the
	// batch must be written again.
	Write(ctx context.Context, evs []event.Event, lines [][]byte) error
	// Progress returns the highest Seq known delivered and whether all
	// that was written is; an error means the output broke and everything
	// after confirmed must be written again.
	Progress() (confirmed uint64, all bool, err error)
	// Connected reports whether the output works now.
	Connected() bool
	Close() error
}

var (
	_ Writer = (*file.Writer)(nil)
	_ Writer = (*syslog.Writer)(nil)
)

// Options are what a sink needs from the daemon besides its Config.
type Options struct {
	// LogDir is where relative file paths point (e.g. /var/log/vigil).
	LogDir string
	// BatchSize is the most events per Format call and write (default 1000).
	BatchSize int
	// MaxBackoff caps the wait between attempts after a failure (default
	// 30 s; the first wait is 100 ms, doubling).
	MaxBackoff time.Duration
	// Settle is how long a syslog stream must stay up after the server
	// acknowledged a batch before it counts as delivered (default 2 s).
	Settle time.Duration
	// Now is the clock of file rotation and retention (default time.Now).
	Now func() time.Time
}

// Status is a sink's state, for the UI.
type Status struct {
	Name, Type, Format string
	// Connected: the output works (syslog: a connection is up; file: the
	// last write succeeded).
	Connected bool
	// LastError is the last failure (write, format or connection), kept
	// after recovery; LastErrorAt says when.
	LastError   string
	LastErrorAt time.Time
	// Backlog is how many events wait in the journal for this sink, and
	// BacklogBytes their size.
	Backlog      uint64
	BacklogBytes int64
	// Dropped counts events this sink lost to its buffer limits, ever.
	Dropped uint64
	// Delivered counts events acknowledged since start (filtered-out
	// events included).
	Delivered uint64
}

// Sink moves events from the journal to one output: it reads batches from
// its consumer, keeps the configured components, formats them with one
// Format call per batch, writes them, and acknowledges only what the writer
// confirms. After any failure it rewinds to the last acknowledged event and
// tries again with capped exponential backoff, while new events wait in the
// journal. Delivery is at least once (see package events). A batch that can
// never be delivered (a formatter that keeps refusing an event) is retried
// until the sink's buffer limit drops it, which log.sink.dropped reports;
// Status shows the error meanwhile.
type Sink struct {
	cfg  Config
	opts Options
	f    sdk.LogFormatter
	w    Writer
	c    *events.Consumer
	keep map[string]bool

	// lastRead is the last event read and handed on (written or filtered
	// out) since the last rewind; only Run uses it.
	lastRead uint64

	mu        sync.Mutex
	lastErr   error
	lastErrAt time.Time
	delivered uint64
	acked     uint64
}

const (
	defaultBatch      = 1000
	defaultMaxBackoff = 30 * time.Second
	minBackoff        = 100 * time.Millisecond
	pollUnconfirmed   = 50 * time.Millisecond
	pollIdle          = time.Second
)

// New builds the sink for cfg and opens its journal consumer. Run starts
// it; the formatter stays the caller's to close.
func New(cfg Config, bus *events.Bus, f sdk.LogFormatter, opts Options) (*Sink, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	if f == nil {
		return nil, keyErr(cfg.Name, "format", "no formatter for %q", cfg.Format)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = defaultBatch
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = defaultMaxBackoff
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var w Writer
	switch cfg.Type {
	case TypeFile:
		fw, err := file.New(file.Config{
			Dir: opts.LogDir, Path: cfg.Path, MaxSize: cfg.MaxSize, MaxAge: cfg.MaxAge,
			Retention: cfg.Retention, Compress: cfg.Compress, Now: opts.Now,
		})
		if err != nil {
			return nil, fmt.Errorf("logsink %s: %w", cfg.Name, err)
		}
		w = fw
	case TypeSyslog:
		sw, err := syslog.New(cfg.syslogConfig(opts.Settle, nil))
		if err != nil {
			return nil, fmt.Errorf("logsink %s: %w", cfg.Name, err)
		}
		w = sw
	}
	c, err := bus.Consumer(ConsumerName(cfg.Name), events.ConsumerOptions{
		BufferMaxBytes: cfg.BufferMaxBytes, BufferMaxAge: cfg.BufferMaxAge, Sink: cfg.Name,
	})
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("logsink %s: %w", cfg.Name, err)
	}
	s := &Sink{cfg: cfg, opts: opts, f: f, w: w, c: c, acked: c.Stats().Acked}
	if len(cfg.Components) > 0 {
		s.keep = map[string]bool{}
		for _, comp := range cfg.Components {
			s.keep[strings.ToLower(strings.TrimSpace(comp))] = true
		}
	}
	return s, nil
}

// Name returns the sink's name.
func (s *Sink) Name() string { return s.cfg.Name }

// Run delivers events until ctx ends, then acknowledges what was confirmed,
// closes the writer and the consumer, and returns nil. It fails only when
// the journal does (events.ErrClosed when the bus closed first).
func (s *Sink) Run(ctx context.Context) error {
	defer s.c.Close()
	defer s.w.Close()
	defer s.settle()
	backoff := time.Duration(0)
	fail := func(err error) {
		s.noteErr(err)
		s.c.Rewind()
		s.lastRead = 0
		backoff = min(max(2*backoff, minBackoff), s.opts.MaxBackoff)
		t := time.NewTimer(backoff)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
	for ctx.Err() == nil {
		all, err := s.ack()
		if err != nil {
			fail(err)
			continue
		}
		poll := pollIdle
		if !all {
			poll = pollUnconfirmed
		}
		wait, cancel := context.WithTimeout(ctx, poll)
		evs, err := s.c.Next(wait, s.opts.BatchSize)
		cancel()
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
				continue
			}
			return fmt.Errorf("logsink %s: %w", s.cfg.Name, err)
		}
		if err := s.deliver(ctx, evs); err != nil {
			fail(err)
			continue
		}
		s.lastRead = evs[len(evs)-1].Seq
		backoff = 0
	}
	return nil
}

// deliver formats and writes the events of the configured components.
func (s *Sink) deliver(ctx context.Context, evs []event.Event) error {
	sel := evs
	if s.keep != nil {
		sel = make([]event.Event, 0, len(evs))
		for _, e := range evs {
			if s.keep[strings.ToLower(e.Component)] {
				sel = append(sel, e)
			}
		}
	}
	if len(sel) == 0 {
		return nil
	}
	lines, err := s.f.Format(ctx, sel)
	if err != nil {
		return fmt.Errorf("logsink %s: format %s: %w", s.cfg.Name, s.cfg.Format, err)
	}
	if len(lines) != len(sel) {
		return fmt.Errorf("logsink %s: format %s returned %d lines for %d events", s.cfg.Name, s.cfg.Format, len(lines), len(sel))
	}
	if err := s.w.Write(ctx, sel, lines); err != nil {
		return fmt.Errorf("logsink %s: %w", s.cfg.Name, err)
	}
	return nil
}

// ack acknowledges what the writer confirmed (everything read, when the
// writer has nothing unconfirmed) and reports whether nothing waits for
// confirmation.
func (s *Sink) ack() (bool, error) {
	confirmed, all, err := s.w.Progress()
	if err != nil {
		return false, fmt.Errorf("logsink %s: %w", s.cfg.Name, err)
	}
	target := confirmed
	if all && s.lastRead > target {
		target = s.lastRead
	}
	s.mu.Lock()
	prev := s.acked
	s.mu.Unlock()
	if target <= prev {
		return all, nil
	}
	if err := s.c.Ack(target); err != nil && !errors.Is(err, events.ErrNotDelivered) {
		return all, err
	}
	s.mu.Lock()
	s.delivered += target - prev
	s.acked = target
	s.mu.Unlock()
	return all, nil
}

// settle gives a stream writer a last chance to confirm what it sent
// before Run returns.
func (s *Sink) settle() {
	deadline := time.Now().Add(s.opts.Settle + time.Second)
	for time.Now().Before(deadline) {
		all, err := s.ack()
		if err != nil || all {
			return
		}
		time.Sleep(pollUnconfirmed)
	}
}

func (s *Sink) noteErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastErr, s.lastErrAt = err, time.Now()
}

// Status reports the sink's state.
func (s *Sink) Status() Status {
	st := s.c.Stats()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := Status{
		Name: s.cfg.Name, Type: s.cfg.Type, Format: s.cfg.Format,
		Connected: s.w.Connected(),
		Backlog:   st.Backlog, BacklogBytes: st.BacklogBytes, Dropped: st.Dropped,
		Delivered: s.delivered,
	}
	if s.lastErr != nil {
		out.LastError, out.LastErrorAt = s.lastErr.Error(), s.lastErrAt
	}
	return out
}
