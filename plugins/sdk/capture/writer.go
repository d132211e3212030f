package capture

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// Defaults for Options.
const (
	DefaultSegmentMaxBytes    = 150_000_000
	DefaultCheckpointInterval = time.Second
	DefaultCheckpointBytes    = 1 << 20
	// MaxCheckpointBytes bounds CheckpointBytes, and so what a verifying
	// reader holds back until a checkpoint vouches for it.
	MaxCheckpointBytes = 16 << 20
	minSegmentMaxBytes = 1024
)

// The writer is a pipeline: Write only stamps a record and copies it into
// a block, under a mutex; a flusher goroutine frames, hashes, checkpoints,
// rolls and writes. The relay's goroutines so pay for a copy, not for
// SHA-256, and on more than one core the hashing runs beside them.
const (
	blockSize = 128 << 10 // a block of entries handed to the flusher
	nBlocks   = 3         // the one being filled, one queued, one being flushed
	// entryHdr is kind (1), channel (4), time (8), length (4).
	entryHdr = 1 + 4 + 8 + 4
	// bigPayload: payloads at least this large are not copied into a block
	// but lent to the flusher, and Write waits until they are written.
	bigPayload = blockSize / 2
	// bufSize is the flusher's output buffer: frames reach the file in one
	// write(2) when it fills, at a checkpoint or at the end of a block.
	bufSize = blockSize
)

// bufPool holds the blocks' and the flusher's buffers between uses, for all
// writers: a writer takes one only while it has entries to hand over or
// frames to write, so a quiet session holds none.
var bufPool = sync.Pool{New: func() any { return new([blockSize]byte) }}

func getBuf() []byte { return bufPool.Get().(*[blockSize]byte)[:0] }

// putBuf returns a buffer from getBuf to the pool; it ignores others.
func putBuf(b []byte) {
	if cap(b) == blockSize {
		bufPool.Put((*[blockSize]byte)(b[:blockSize]))
	}
}

// Options configure a Writer.
type Options struct {
	ActiveDir string // open segments, created 0750 if missing
	SealedDir string // sealed segments; same filesystem as ActiveDir
	Team      string
	User      string
	SessionID string
	Start     time.Time // the session start; zero means now
	Key       ed25519.PrivateKey
	// SegmentMaxBytes is the size at which a segment is sealed and the
	// next one begun (default 150 MB).
	SegmentMaxBytes int64
	// CheckpointInterval bounds how long a record stays unsigned
	// (default 1 s), CheckpointBytes how many bytes (default 1 MiB).
	CheckpointInterval time.Duration
	CheckpointBytes    int64
	// RecordInput keeps Input records; without it Write drops them.
	RecordInput bool
	// OnSeal is called once per sealed segment, in segment order, from a
	// goroutine of the writer (never two calls at once).
	OnSeal func(SealedSegment)
}

// CheckAndSetDefaults fills the defaults and validates o.
func (o *Options) CheckAndSetDefaults() error {
	switch {
	case o.ActiveDir == "" || o.SealedDir == "":
		return errors.New("capture: options: ActiveDir and SealedDir are required")
	case len(o.Key) != ed25519.PrivateKeySize:
		return errors.New("capture: options: Key is not an Ed25519 private key")
	case o.SessionID == "" || len(o.SessionID) > maxSessionID:
		return fmt.Errorf("capture: options: SessionID must be 1 to %d bytes", maxSessionID)
	case o.SegmentMaxBytes < 0 || o.CheckpointBytes < 0 || o.CheckpointInterval < 0:
		return errors.New("capture: options: sizes and intervals must not be negative")
	}
	if o.Start.IsZero() {
		o.Start = time.Now()
	}
	if o.SegmentMaxBytes == 0 {
		o.SegmentMaxBytes = DefaultSegmentMaxBytes
	}
	if o.CheckpointInterval == 0 {
		o.CheckpointInterval = DefaultCheckpointInterval
	}
	if o.CheckpointBytes == 0 {
		o.CheckpointBytes = DefaultCheckpointBytes
	}
	if o.SegmentMaxBytes < minSegmentMaxBytes {
		return fmt.Errorf("capture: options: SegmentMaxBytes %d is below %d", o.SegmentMaxBytes, minSegmentMaxBytes)
	}
	if o.CheckpointBytes > MaxCheckpointBytes {
		return fmt.Errorf("capture: options: CheckpointBytes %d is above %d", o.CheckpointBytes, MaxCheckpointBytes)
	}
	return nil
}

// SealedSegment describes a segment once it is signed, durable and in the
// sealed directory.
type SealedSegment struct {
	Path      string // in SealedDir
	Segment   int
	Size      int64
	SHA256    string // hex SHA-256 of the file
	FinalHash string // hex hash-chain head after the trailer
	Recovered bool   // sealed by Recover after a crash
}

// Writer appends records to a session's capture. It is safe for concurrent
// use (the two directions of a relay write through one Writer).
//
// A failed write to the file (disk full, I/O error) makes every later Write
// fail, within a block or two of records: the session must then end, since
// policy never allows unrecorded traffic.
type Writer struct {
	opts  Options
	base0 time.Time // the session start, with a monotonic reading: entry times count from it

	mu     sync.Mutex
	cur    *block
	armed  bool
	closed bool
	timer  *time.Timer

	work      chan *block
	free      chan *block
	processed chan struct{}
	flushDone chan struct{}
	seals     chan sealJob
	sealDone  chan struct{}
	fl        *flusher // owned by the flusher goroutine once it runs

	errMu sync.Mutex
	err   error // the first error of the flusher or the seal loop

	pathMu sync.Mutex
	path   string
}

// block carries entries from Write to the flusher.
type block struct {
	buf        []byte         // entries, in a buffer from getBuf; or hdr's
	hdr        [entryHdr]byte // the big path's one entry header
	big        []byte         // the one entry's payload, lent by the caller (big path)
	checkpoint bool           // checkpoint once processed
	final      bool           // seal once processed: the last block
	wait       bool           // signal processed once done
}

// New creates the session's first segment in opts.ActiveDir, named
// SegmentFileName(SessionBase(Start, Team, User), 0), and writes its header
// and a first checkpoint, so that a capture that exists is verifiable.
func New(opts Options) (*Writer, error) {
	if err := opts.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	for _, d := range []string{opts.ActiveDir, opts.SealedDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("capture: %w", err)
		}
	}
	// A start time read from elsewhere may lack a monotonic clock reading:
	// rebase it on now, so that offsets follow the monotonic clock.
	now := time.Now()
	w := &Writer{
		opts:      opts,
		base0:     now.Add(-now.Sub(opts.Start)),
		work:      make(chan *block, nBlocks-2),
		free:      make(chan *block, nBlocks),
		processed: make(chan struct{}),
		flushDone: make(chan struct{}),
		seals:     make(chan sealJob, 2),
		sealDone:  make(chan struct{}),
	}
	w.fl = &flusher{
		w:       w,
		base:    SessionBase(opts.Start, opts.Team, opts.User),
		keyID:   keyIDOf(opts.Key.Public().(ed25519.PublicKey)),
		chain:   newChainer(),
		fileSum: sha256.New(),
		sizes:   map[uint32][]byte{},
	}
	w.fl.openSegment(0, [32]byte{}, 0)
	w.fl.releaseBuf()
	if w.fl.err != nil {
		return nil, w.fl.err
	}
	w.cur = &block{}
	for range nBlocks - 1 {
		w.free <- &block{}
	}
	w.timer = time.AfterFunc(time.Hour, w.onTimer)
	w.timer.Stop()
	go w.flushLoop()
	go w.sealLoop()
	return w, nil
}

// Path is the active segment's path.
func (w *Writer) Path() string {
	w.pathMu.Lock()
	defer w.pathMu.Unlock()
	return w.path
}

// Write appends one record. An Input record is dropped unless
// RecordInput is set. Stream payloads larger than MaxPayload are split.
// Write does not keep payload after it returns.
func (w *Writer) Write(kind Kind, channel uint32, payload []byte) error {
	if !kind.IsData() {
		return fmt.Errorf("capture: write %v: %w", kind, ErrInvalidKind)
	}
	if kind == Input && !w.opts.RecordInput {
		return nil
	}
	if len(payload) > MaxPayload && !kind.isStream() {
		return fmt.Errorf("capture: write %v of %d bytes: %w", kind, len(payload), ErrTooLarge)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("capture: write: %w", ErrClosed)
	}
	if err := w.error(); err != nil {
		return err
	}
	for {
		n := min(len(payload), MaxPayload)
		w.put(kind, channel, payload[:n])
		payload = payload[n:]
		if len(payload) == 0 {
			return nil
		}
	}
}

// put queues one entry; w.mu is held.
func (w *Writer) put(kind Kind, channel uint32, p []byte) {
	t := max(time.Since(w.base0), 0)
	if len(p) >= bigPayload {
		if len(w.cur.buf) > 0 {
			w.submit(false)
		}
		b := <-w.free
		b.buf = appendEntryHeader(b.hdr[:0], kind, channel, t, len(p))
		b.big, b.wait = p, true
		w.work <- b
		<-w.processed
		return
	}
	if w.cur.buf == nil {
		w.cur.buf = getBuf()
	}
	if len(w.cur.buf)+entryHdr+len(p) > cap(w.cur.buf) {
		w.submit(false)
		w.cur.buf = getBuf()
	}
	w.cur.buf = appendEntryHeader(w.cur.buf, kind, channel, t, len(p))
	w.cur.buf = append(w.cur.buf, p...)
	if !w.armed {
		w.armed = true
		w.timer.Reset(w.opts.CheckpointInterval)
	}
}

func appendEntryHeader(b []byte, kind Kind, channel uint32, t time.Duration, n int) []byte {
	b = append(b, byte(kind))
	b = binary.LittleEndian.AppendUint32(b, channel)
	b = binary.LittleEndian.AppendUint64(b, uint64(t))
	return binary.LittleEndian.AppendUint32(b, uint32(n))
}

// submit hands the current block to the flusher and takes a free one;
// w.mu is held.
func (w *Writer) submit(checkpoint bool) {
	w.cur.checkpoint = checkpoint
	w.work <- w.cur
	w.cur = <-w.free
}

// onTimer makes sure that no record waits longer than the checkpoint
// interval for its checkpoint, even when nothing else is written.
func (w *Writer) onTimer() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.armed = false
	if !w.closed {
		w.submit(true)
	}
}

// Close seals the active segment: trailer, fsync, move into SealedDir,
// fsync of both directories, OnSeal. It waits for earlier segments' seals.
// After a failed write the segment is left in ActiveDir for Recover.
func (w *Writer) Close() error {
	w.timer.Stop()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return fmt.Errorf("capture: close: %w", ErrClosed)
	}
	w.closed = true
	w.cur.final = true
	w.work <- w.cur
	w.cur = nil
	close(w.work)
	w.mu.Unlock()
	<-w.flushDone
	<-w.sealDone
	return w.error()
}

func (w *Writer) setErr(err error) {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

func (w *Writer) error() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

// flushLoop runs the flusher over the blocks, in order.
func (w *Writer) flushLoop() {
	defer close(w.flushDone)
	defer close(w.seals)
	fl := w.fl
	for b := range w.work {
		fl.process(b)
		wait := b.wait
		putBuf(b.buf)
		b.buf, b.big = nil, nil
		b.checkpoint, b.final, b.wait = false, false, false
		w.free <- b
		if wait {
			w.processed <- struct{}{}
		}
	}
}

// sealLoop makes sealed segments durable off the relay's path, in order.
func (w *Writer) sealLoop() {
	defer close(w.sealDone)
	for job := range w.seals {
		s, err := finishSeal(job.f, job.path, w.opts.SealedDir, job.segment, job.final, false, job.sum)
		if err != nil {
			w.setErr(err)
			continue
		}
		if w.opts.OnSeal != nil {
			w.opts.OnSeal(s)
		}
	}
}
