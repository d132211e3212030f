package events

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/events/journal"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Sentinel errors.
var (
	ErrClosed         = errors.New("events: bus closed")
	ErrInvalidEvent   = errors.New("events: invalid event")
	ErrInvalidName    = errors.New("events: invalid consumer name")
	ErrInvalidOptions = errors.New("events: invalid options")
	ErrConsumerActive = errors.New("events: consumer already open")
	ErrNotDelivered   = errors.New("events: ack of an event not delivered")
	ErrCorrupt        = errors.New("events: corrupt journal")
)

// Metric names the bus itself emits.
const (
	MetricSinkDropped      = "log.sink.dropped"
	MetricJournalRecovered = "events.journal.recovered"
)

// Drop reasons, in the "reason" extra field of log.sink.dropped.
const (
	DropBufferBytes = "buffer_max_bytes"
	DropBufferAge   = "buffer_max_age"
	DropCorrupt     = "corrupt"
	DropGone        = "gone"
)

// Config configures a Bus. Zero values take the documented defaults.
type Config struct {
	// Dir holds the journal segments and, in Dir/cursors, one cursor file
	// per consumer (e.g. <state_dir>/events).
	Dir string
	// Host, ServerID and Process fill the events that leave them empty.
	Host, ServerID, Process string
	// SegmentMaxBytes (default 8 MiB) and SegmentMaxAge (default 1 h) bound
	// one journal segment. Disk is freed and lagging consumers skipped in
	// whole segments.
	SegmentMaxBytes int64
	SegmentMaxAge   time.Duration
	// BufferMaxBytes (default 1 GiB) and BufferMaxAge (default none) bound
	// how far behind the head a consumer may fall before its oldest events
	// are dropped; ConsumerOptions override them per consumer.
	BufferMaxBytes int64
	BufferMaxAge   time.Duration
	// MaintainInterval is how often cursors are persisted, buffer limits
	// enforced and consumed segments deleted (default 1 s).
	MaintainInterval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

const (
	defaultSegmentMaxBytes  = 8 << 20
	defaultBufferMaxBytes   = 1 << 30
	defaultMaintainInterval = time.Second
)

func (c *Config) checkAndSetDefaults() error {
	if c.Dir == "" {
		return fmt.Errorf("%w: no directory", ErrInvalidOptions)
	}
	if c.SegmentMaxBytes <= 0 {
		c.SegmentMaxBytes = defaultSegmentMaxBytes
	}
	if c.SegmentMaxAge <= 0 {
		c.SegmentMaxAge = time.Hour
	}
	if c.BufferMaxBytes == 0 {
		c.BufferMaxBytes = defaultBufferMaxBytes
	}
	if c.MaintainInterval <= 0 {
		c.MaintainInterval = defaultMaintainInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// Bus accepts events, makes them durable in the journal and hands them to
// named consumers. All methods are safe for concurrent use.
type Bus struct {
	cfg       Config
	j         *journal.Journal
	cursorDir string

	mu       sync.Mutex // guards cursors, watchers
	cursors  map[string]*cursor
	watchers map[*watcher]struct{}

	watcherCount atomic.Int64

	bufPool sync.Pool

	closeOnce sync.Once
	closing   chan struct{}
	maintDone chan struct{}
}

// Open opens the journal in cfg.Dir (recovering a torn tail), loads the
// consumers' cursors and starts the maintenance loop. Close releases it.
func Open(cfg Config) (*Bus, error) {
	if err := cfg.checkAndSetDefaults(); err != nil {
		return nil, err
	}
	b := &Bus{
		cfg:       cfg,
		cursorDir: filepath.Join(cfg.Dir, "cursors"),
		cursors:   map[string]*cursor{},
		watchers:  map[*watcher]struct{}{},
		closing:   make(chan struct{}),
		maintDone: make(chan struct{}),
	}
	b.bufPool.New = func() any { return new([]byte) }
	if err := os.MkdirAll(b.cursorDir, 0o750); err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	minNext, err := b.loadCursors()
	if err != nil {
		return nil, err
	}
	j, rec, err := journal.Open(cfg.Dir, journal.Options{
		SegmentMaxBytes: cfg.SegmentMaxBytes,
		SegmentMaxAge:   cfg.SegmentMaxAge,
		MinNext:         minNext,
		Now:             cfg.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	b.j = j
	go b.maintainLoop()
	if rec.TruncatedBytes > 0 {
		// Whatever was cut was never acknowledged to a publisher: a torn
		// write is one whose sync did not complete.
		err := b.Publish(event.Event{
			MetricName: MetricJournalRecovered,
			Level:      event.LevelWarning,
			Component:  "core",
			Message:    fmt.Sprintf("event journal recovered: cut %d bytes of an unfinished write from %s", rec.TruncatedBytes, rec.TruncatedSegment),
			Extra: map[string]string{
				"truncated_bytes": strconv.FormatInt(rec.TruncatedBytes, 10),
				"segment":         rec.TruncatedSegment,
			},
		})
		if err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

// Publish fills e's defaults (Time now in UTC, Level INFO, Component core,
// Host, ServerID and Process from the config) and appends it to the journal.
// It returns once the event is durable: from then on it survives a crash and
// reaches every consumer at least once, unless a consumer's buffer limit
// drops it, which is itself reported as a log.sink.dropped event.
func (b *Bus) Publish(e event.Event) error {
	if err := b.fill(&e); err != nil {
		return err
	}
	bp := b.bufPool.Get().(*[]byte)
	buf := encodeEvent((*bp)[:0], &e)
	seq, err := b.j.Append(buf)
	*bp = buf
	b.bufPool.Put(bp)
	if err != nil {
		return b.appendErr(err)
	}
	if b.hasWatchers() {
		e.Seq = seq
		b.fanOut([]event.Event{e})
	}
	return nil
}

// PublishBatch is Publish for many events, made durable together and given
// consecutive sequence numbers. The caller's slice is not modified.
func (b *Bus) PublishBatch(evs []event.Event) error {
	if len(evs) == 0 {
		return nil
	}
	filled := make([]event.Event, len(evs))
	copy(filled, evs)
	var buf []byte
	ends := make([]int, len(filled))
	for i := range filled {
		if err := b.fill(&filled[i]); err != nil {
			return fmt.Errorf("%w (event %d)", err, i)
		}
		buf = encodeEvent(buf, &filled[i])
		ends[i] = len(buf)
	}
	payloads := make([][]byte, len(filled))
	start := 0
	for i, end := range ends {
		payloads[i] = buf[start:end]
		start = end
	}
	seq, err := b.j.Append(payloads...)
	if err != nil {
		return b.appendErr(err)
	}
	if b.hasWatchers() {
		for i := range filled {
			filled[i].Seq = seq + uint64(i)
		}
		b.fanOut(filled)
	}
	return nil
}

func (b *Bus) appendErr(err error) error {
	if errors.Is(err, journal.ErrClosed) {
		return ErrClosed
	}
	return fmt.Errorf("events: publish: %w", err)
}

func (b *Bus) fill(e *event.Event) error {
	if e.MetricName == "" {
		return fmt.Errorf("%w: no metric name", ErrInvalidEvent)
	}
	if e.Time.IsZero() {
		e.Time = b.cfg.Now()
	}
	e.Time = e.Time.UTC()
	if e.Level == "" {
		e.Level = event.LevelInfo
	}
	if e.Component == "" {
		e.Component = "core"
	}
	if e.Host == "" {
		e.Host = b.cfg.Host
	}
	if e.ServerID == "" {
		e.ServerID = b.cfg.ServerID
	}
	if e.Process == "" {
		e.Process = b.cfg.Process
	}
	e.Seq = 0
	return nil
}

// Head returns the sequence number of the last durable event.
func (b *Bus) Head() uint64 { return b.j.Head().Seq }

// Close stops maintenance, persists every cursor and closes the journal.
// Consumers blocked in Next return ErrClosed. Stop the consumers (sinks,
// indexer) first so that their last acks are kept.
func (b *Bus) Close() error {
	var err error
	b.closeOnce.Do(func() {
		close(b.closing)
		<-b.maintDone
		b.mu.Lock()
		for w := range b.watchers {
			delete(b.watchers, w)
			b.watcherCount.Add(-1)
			close(w.ch)
		}
		b.mu.Unlock()
		err = errors.Join(b.flushCursors(), b.j.Close())
	})
	return err
}

func (b *Bus) maintainLoop() {
	defer close(b.maintDone)
	t := time.NewTicker(b.cfg.MaintainInterval)
	defer t.Stop()
	for {
		select {
		case <-b.closing:
			return
		case <-t.C:
			b.maintain()
		}
	}
}

// maintain enforces the consumers' buffer limits, persists cursors and
// deletes the segments every known consumer has consumed. Errors are
// retried at the next round: the cursors in memory stay ahead of those on
// disk, which only means more redelivery after a crash.
func (b *Bus) maintain() {
	now := b.cfg.Now()
	segs := b.j.Segments()
	head := b.j.Head()
	var drops []drop
	for _, c := range b.cursorList() {
		if d, ok := c.enforceLimits(segs, head, now); ok {
			drops = append(drops, d)
		}
	}
	for _, d := range drops {
		b.publishDrop(d)
	}
	if b.flushCursors() != nil {
		return
	}
	b.removeConsumed()
}

func (b *Bus) cursorList() []*cursor {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]*cursor, 0, len(b.cursors))
	for _, c := range b.cursors {
		out = append(out, c)
	}
	slices.SortFunc(out, func(x, y *cursor) int {
		if x.name < y.name {
			return -1
		}
		if x.name > y.name {
			return 1
		}
		return 0
	})
	return out
}

// removeConsumed deletes the segments behind every known cursor as
// persisted, so that a crash never leaves a cursor pointing into a deleted
// segment. With no consumer at all nothing is deleted.
func (b *Bus) removeConsumed() {
	cs := b.cursorList()
	if len(cs) == 0 {
		return
	}
	lowest := int64(-1)
	for _, c := range cs {
		c.mu.Lock()
		p := c.persisted.Pos
		c.mu.Unlock()
		if lowest < 0 || p < lowest {
			lowest = p
		}
	}
	_, _ = b.j.RemoveBefore(lowest)
}

var dropWhy = map[string]string{
	DropBufferBytes: "it fell further behind than its buffer_max_bytes",
	DropBufferAge:   "its oldest events waited longer than its buffer_max_age",
	DropCorrupt:     "the journal was damaged on disk",
	DropGone:        "the journal no longer held them",
}

type drop struct {
	consumer, sink, reason string
	count, total           uint64
}

func (b *Bus) publishDrop(d drop) {
	// A failure here means the journal itself is failing or closing; the
	// count stays in the cursor and in the consumer's stats.
	_ = b.Publish(event.Event{
		MetricName: MetricSinkDropped,
		Level:      event.LevelError,
		Component:  "core",
		Message:    fmt.Sprintf("log sink %s dropped %d events: %s", d.sink, d.count, dropWhy[d.reason]),
		Result:     "failure",
		Reason:     d.reason,
		Extra: map[string]string{
			"sink":          d.sink,
			"consumer":      d.consumer,
			"dropped":       strconv.FormatUint(d.count, 10),
			"dropped_total": strconv.FormatUint(d.total, 10),
			"reason":        d.reason,
		},
	})
}
