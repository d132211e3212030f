package events

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/events/journal"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// ConsumerOptions tune one consumer.
type ConsumerOptions struct {
	// BufferMaxBytes and BufferMaxAge override the bus's limits: 0 keeps the
	// bus default, a negative value means no limit. The byte limit must be
	// at least twice the segment size, since events are dropped in whole
	// segments.
	BufferMaxBytes int64
	BufferMaxAge   time.Duration
	// StartAtEnd makes a consumer that has no cursor yet start after the
	// newest event instead of at the oldest one kept.
	StartAtEnd bool
	// Sink is the name log.sink.dropped reports (default the consumer name).
	Sink string
}

// ConsumerStats is a consumer's progress.
type ConsumerStats struct {
	Name string
	// Acked is the sequence number of the last event acknowledged (or
	// skipped), Head that of the newest durable event.
	Acked, Head uint64
	// Backlog is how many events wait (Head-Acked), BacklogBytes their size
	// in the journal.
	Backlog      uint64
	BacklogBytes int64
	// Dropped counts the events this consumer lost to its buffer limits or
	// to damage in the journal, over its whole life.
	Dropped uint64
	Open    bool
}

// Consumer reads the journal in order from its persisted cursor. It is
// used by one goroutine; Stats may be called from any.
//
// Delivery is at least once: Next hands out events after the last Ack, and
// after a crash (or a Rewind) everything after the last persisted Ack comes
// again. Cursors are persisted every MaintainInterval rather than at every
// Ack, which bounds that redelivery and keeps acking cheap.
type Consumer struct {
	b      *Bus
	c      *cursor
	r      *journal.Reader
	epoch  uint64
	closed bool

	// delivered holds the end position of every event handed out and not
	// yet acknowledged, in order, from index first on.
	delivered []journal.Position
	first     int
	recs      []journal.Record
}

// Consumer opens the named consumer. A name is letters, digits, '.', '_'
// and '-'. A consumer seen before resumes after its last persisted ack.
func (b *Bus) Consumer(name string, opts ConsumerOptions) (*Consumer, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("%w: %q", ErrInvalidName, name)
	}
	maxBytes, maxAge := b.cfg.BufferMaxBytes, b.cfg.BufferMaxAge
	if opts.BufferMaxBytes != 0 {
		maxBytes = opts.BufferMaxBytes
	}
	if opts.BufferMaxAge != 0 {
		maxAge = opts.BufferMaxAge
	}
	if maxBytes > 0 && maxBytes < 2*b.cfg.SegmentMaxBytes {
		return nil, fmt.Errorf("%w: consumer %s: buffer limit %d bytes is below twice the segment size %d",
			ErrInvalidOptions, name, maxBytes, b.cfg.SegmentMaxBytes)
	}
	sink := opts.Sink
	if sink == "" {
		sink = name
	}
	select {
	case <-b.closing:
		return nil, ErrClosed
	default:
	}
	b.mu.Lock()
	c, known := b.cursors[name]
	if known && c.open {
		b.mu.Unlock()
		return nil, fmt.Errorf("%w: %s", ErrConsumerActive, name)
	}
	if !known {
		start := b.j.Oldest()
		if opts.StartAtEnd {
			start = b.j.Head()
		}
		c = &cursor{name: name, path: b.cursorPath(name), ack: start, dirty: true}
		b.cursors[name] = c
	}
	c.mu.Lock()
	c.open = true
	c.maxBytes, c.maxAge, c.sink = maxBytes, maxAge, sink
	c.mu.Unlock()
	b.mu.Unlock()
	if !known {
		// Persist at once, so the new consumer holds back deletion even if
		// the daemon stops before the next maintenance round.
		if err := c.flush(); err != nil {
			return nil, err
		}
	}
	return &Consumer{b: b, c: c}, nil
}

// Next returns up to max events after the last acknowledged one (or after
// the last one returned, until Rewind), blocking until at least one is
// durable, ctx ends (ctx.Err()) or the bus closes (ErrClosed).
func (c *Consumer) Next(ctx context.Context, max int) ([]event.Event, error) {
	if c.closed {
		return nil, ErrClosed
	}
	max = clamp(max, 1, 1<<16)
	for {
		changed := c.b.j.Changed()
		select {
		case <-c.b.closing:
			return nil, ErrClosed
		default:
		}
		if err := c.position(); err != nil {
			return nil, err
		}
		recs, err := c.r.Read(c.recs[:0], max)
		c.recs = recs[:0]
		switch {
		case errors.Is(err, journal.ErrCorrupt):
			if err := c.skipDamage(); err != nil {
				return nil, err
			}
		case errors.Is(err, journal.ErrGone):
			c.r.Close()
			c.r = nil
		case err != nil:
			return nil, fmt.Errorf("events: consumer %s: %w", c.c.name, err)
		}
		if len(recs) > 0 {
			if evs := c.decode(recs); len(evs) > 0 {
				return evs, nil
			}
			continue
		}
		if err != nil {
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-c.b.closing:
			return nil, ErrClosed
		}
	}
}

func clamp(v, lo, hi int) int { return min(max(v, lo), hi) }

func (c *Consumer) decode(recs []journal.Record) []event.Event {
	evs := make([]event.Event, 0, len(recs))
	for _, r := range recs {
		c.delivered = append(c.delivered, r.End)
		e, err := decodeEvent(r.Payload)
		if err != nil {
			// The record passed its CRC, so this is a bug or a newer
			// codec: count it as damage rather than stop the consumer.
			c.countDamage(r.End.Pos, 1)
			continue
		}
		e.Seq = r.Seq
		evs = append(evs, e)
	}
	return evs
}

// position (re)opens the reader at the cursor when there is none or the
// bus moved the cursor past it.
func (c *Consumer) position() error {
	c.c.mu.Lock()
	ack, epoch := c.c.ack, c.c.epoch
	c.c.mu.Unlock()
	if c.r != nil && epoch == c.epoch {
		return nil
	}
	if c.r != nil {
		c.r.Close()
	}
	c.epoch = epoch
	c.delivered, c.first = c.delivered[:0], 0
	r, err := c.b.j.NewReader(ack)
	if errors.Is(err, journal.ErrGone) {
		// The segments after the cursor were deleted (a journal emptied by
		// hand, or a cursor restored from a backup): resume at the oldest
		// event kept and say how many were lost.
		oldest := c.b.j.Oldest()
		c.c.mu.Lock()
		var d drop
		if c.c.ack == ack && oldest.Pos > ack.Pos {
			n := oldest.Seq - ack.Seq
			c.c.ack, c.c.dirty = oldest, true
			c.c.dropped += n
			d = drop{consumer: c.c.name, sink: c.c.sink, reason: DropGone, count: n, total: c.c.dropped}
		}
		c.epoch = c.c.epoch
		c.c.mu.Unlock()
		if d.count > 0 {
			c.b.publishDrop(d)
		}
		r, err = c.b.j.NewReader(oldest)
	}
	if err != nil {
		return fmt.Errorf("events: consumer %s: %w", c.c.name, err)
	}
	c.r = r
	return nil
}

// skipDamage moves the reader past a damaged record to the next segment and
// counts what it could not read. The skipped range counts as delivered, so
// acking a later event moves the cursor past it.
func (c *Consumer) skipDamage() error {
	from := c.r.Position()
	to, err := c.r.SkipSegment()
	if err != nil && !errors.Is(err, journal.ErrGone) {
		return fmt.Errorf("events: consumer %s: %w", c.c.name, err)
	}
	if to.Pos > from.Pos {
		c.delivered = append(c.delivered, to)
		c.countDamage(to.Pos, to.Seq-from.Seq)
	}
	return nil
}

func (c *Consumer) countDamage(through int64, n uint64) {
	c.c.mu.Lock()
	if through <= c.c.corruptThrough {
		c.c.mu.Unlock()
		return
	}
	c.c.corruptThrough = through
	c.c.dropped += n
	c.c.dirty = true
	d := drop{consumer: c.c.name, sink: c.c.sink, reason: DropCorrupt, count: n, total: c.c.dropped}
	c.c.mu.Unlock()
	c.b.publishDrop(d)
}

// Ack records that every event up to and including seq was handled. Acking
// an event already acknowledged (or skipped by a buffer limit) does nothing;
// acking one not yet returned by Next fails with ErrNotDelivered.
func (c *Consumer) Ack(seq uint64) error {
	pending := c.delivered[c.first:]
	if n := len(pending); n > 0 && seq > pending[n-1].Seq {
		return fmt.Errorf("%w: consumer %s: seq %d", ErrNotDelivered, c.c.name, seq)
	}
	i := sort.Search(len(pending), func(i int) bool { return pending[i].Seq > seq })
	if i == 0 {
		c.c.mu.Lock()
		acked := c.c.ack.Seq
		c.c.mu.Unlock()
		if seq <= acked || len(pending) > 0 && seq < pending[0].Seq {
			return nil
		}
		return fmt.Errorf("%w: consumer %s: seq %d", ErrNotDelivered, c.c.name, seq)
	}
	at := pending[i-1]
	c.first += i
	if c.first > len(c.delivered)/2 {
		n := copy(c.delivered, c.delivered[c.first:])
		c.delivered, c.first = c.delivered[:n], 0
	}
	c.c.mu.Lock()
	if at.Pos > c.c.ack.Pos {
		c.c.ack, c.c.dirty = at, true
	}
	c.c.mu.Unlock()
	return nil
}

// Rewind makes Next start again after the last acknowledged event, for a
// consumer that failed to hand on what it was given.
func (c *Consumer) Rewind() {
	if c.r != nil {
		c.r.Close()
		c.r = nil
	}
}

// Stats returns the consumer's progress.
func (c *Consumer) Stats() ConsumerStats { return c.b.stats(c.c) }

// Close persists the cursor and releases the consumer. The bus keeps its
// cursor: the consumer resumes there when opened again, and until then it
// still holds back segment deletion within its buffer limits.
func (c *Consumer) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	if c.r != nil {
		c.r.Close()
		c.r = nil
	}
	c.c.mu.Lock()
	c.c.open = false
	c.c.mu.Unlock()
	return c.c.flush()
}

func (b *Bus) stats(c *cursor) ConsumerStats {
	head := b.j.Head()
	c.mu.Lock()
	defer c.mu.Unlock()
	st := ConsumerStats{Name: c.name, Acked: c.ack.Seq, Head: head.Seq, Dropped: c.dropped, Open: c.open}
	if head.Seq > c.ack.Seq {
		st.Backlog = head.Seq - c.ack.Seq
	}
	if head.Pos > c.ack.Pos {
		st.BacklogBytes = head.Pos - c.ack.Pos
	}
	return st
}

// Consumers returns the stats of every known consumer, open or not, by name.
func (b *Bus) Consumers() []ConsumerStats {
	cs := b.cursorList()
	out := make([]ConsumerStats, len(cs))
	for i, c := range cs {
		out[i] = b.stats(c)
	}
	return out
}

// DeleteConsumer forgets a consumer that is not open (a sink removed from
// the configuration): its cursor file goes, and it no longer holds back
// segment deletion.
func (b *Bus) DeleteConsumer(name string) error {
	b.mu.Lock()
	c, ok := b.cursors[name]
	if !ok {
		b.mu.Unlock()
		return nil
	}
	c.mu.Lock()
	open := c.open
	c.mu.Unlock()
	if open {
		b.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrConsumerActive, name)
	}
	delete(b.cursors, name)
	b.mu.Unlock()
	if err := os.Remove(c.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("events: delete consumer %s: %w", name, err)
	}
	return nil
}
