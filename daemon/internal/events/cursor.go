package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/events/journal"
)

const cursorSuffix = ".cursor"

var validName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)

// cursor is a consumer's persisted progress. It exists for every consumer
// known to the bus: open now, or opened in an earlier run (its file is in
// the cursor directory). Known consumers hold back segment deletion, within
// their buffer limits.
type cursor struct {
	name string
	path string

	mu        sync.Mutex
	ack       journal.Position
	dropped   uint64
	epoch     uint64 // bumped when the bus moves ack forward past a reader
	dirty     bool
	persisted journal.Position
	maxBytes  int64         // < 0: none
	maxAge    time.Duration // < 0: none
	sink      string
	open      bool
	// corruptThrough is the end of the last damaged range counted, so a
	// rewind across it does not count it twice.
	corruptThrough int64
}

type cursorFile struct {
	Seq     uint64 `json:"seq"`
	Pos     int64  `json:"pos"`
	Dropped uint64 `json:"dropped"`
}

func (b *Bus) cursorPath(name string) string {
	return filepath.Join(b.cursorDir, name+cursorSuffix)
}

// loadCursors reads every cursor file and returns the furthest position
// any of them reached: the journal never starts behind it.
func (b *Bus) loadCursors() (journal.Position, error) {
	var furthest journal.Position
	entries, err := os.ReadDir(b.cursorDir)
	if err != nil {
		return furthest, fmt.Errorf("events: %w", err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), cursorSuffix)
		if !ok || !validName.MatchString(name) {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(b.cursorDir, e.Name()))
		if err != nil {
			return furthest, fmt.Errorf("events: cursor %s: %w", name, err)
		}
		var cf cursorFile
		if err := json.Unmarshal(raw, &cf); err != nil {
			return furthest, fmt.Errorf("events: cursor %s: %w: %w", name, ErrCorrupt, err)
		}
		pos := journal.Position{Seq: cf.Seq, Pos: cf.Pos}
		b.cursors[name] = &cursor{
			name: name, path: b.cursorPath(name), sink: name,
			ack: pos, persisted: pos, dropped: cf.Dropped,
			maxBytes: b.cfg.BufferMaxBytes, maxAge: b.cfg.BufferMaxAge,
		}
		furthest.Seq = max(furthest.Seq, pos.Seq)
		furthest.Pos = max(furthest.Pos, pos.Pos)
	}
	return furthest, nil
}

// flushCursors persists every cursor that changed.
func (b *Bus) flushCursors() error {
	var errs []error
	for _, c := range b.cursorList() {
		errs = append(errs, c.flush())
	}
	return errors.Join(errs...)
}

func (c *cursor) flush() error {
	c.mu.Lock()
	if !c.dirty {
		c.mu.Unlock()
		return nil
	}
	cf := cursorFile{Seq: c.ack.Seq, Pos: c.ack.Pos, Dropped: c.dropped}
	c.dirty = false
	c.mu.Unlock()
	if err := writeFileAtomic(c.path, cf); err != nil {
		c.mu.Lock()
		c.dirty = true
		c.mu.Unlock()
		return fmt.Errorf("events: cursor %s: %w", c.name, err)
	}
	c.mu.Lock()
	if p := (journal.Position{Seq: cf.Seq, Pos: cf.Pos}); p.Pos >= c.persisted.Pos {
		c.persisted = p
	}
	c.mu.Unlock()
	return nil
}

// writeFileAtomic replaces path with v as JSON: written to a temporary file,
// synced, renamed over path, and the directory synced, so a crash leaves the
// old cursor or the new one, never a torn one.
func writeFileAtomic(path string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// enforceLimits moves the cursor forward, in whole segments, past the
// events that put it over its byte or age limit, and says what it dropped.
func (c *cursor) enforceLimits(segs []journal.SegmentInfo, head journal.Position, now time.Time) (drop, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	target, reason := c.ack, ""
	if c.maxBytes > 0 && head.Pos-c.ack.Pos > c.maxBytes {
		for _, s := range segs {
			if head.Pos-s.Start <= c.maxBytes {
				if s.Start > target.Pos {
					target, reason = journal.Position{Seq: s.FirstSeq - 1, Pos: s.Start}, DropBufferBytes
				}
				break
			}
		}
	}
	if c.maxAge > 0 {
		cutoff := now.Add(-c.maxAge)
		cand := head
		for _, s := range segs {
			if s.End > s.Start && !s.LastAppend.Before(cutoff) {
				cand = journal.Position{Seq: s.FirstSeq - 1, Pos: s.Start}
				break
			}
		}
		if cand.Pos > target.Pos {
			target, reason = cand, DropBufferAge
		}
	}
	if target.Pos <= c.ack.Pos {
		return drop{}, false
	}
	n := target.Seq - c.ack.Seq
	c.ack = target
	c.dropped += n
	c.epoch++
	c.dirty = true
	return drop{consumer: c.name, sink: c.sink, reason: reason, count: n, total: c.dropped}, true
}
