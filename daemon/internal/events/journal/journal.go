package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Sentinel errors.
var (
	ErrClosed   = errors.New("journal: closed")
	ErrCorrupt  = errors.New("journal: corrupt")
	ErrGone     = errors.New("journal: position no longer in the journal")
	ErrTooLarge = errors.New("journal: record too large")
)

const (
	headerSize = 32
	recHeader  = 8  // len + crc
	recMeta    = 16 // seq + time
	magic      = "VGLJ"
	version    = 1
	segSuffix  = ".seg"

	// MaxPayload bounds one record, so a corrupt length never makes a reader
	// allocate gigabytes.
	MaxPayload = 8 << 20

	defaultSegmentMaxBytes = 8 << 20
	defaultSegmentMaxAge   = time.Hour
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Position is a place between two records: Seq is the sequence number of the
// record just before it (0 before the first record ever), Pos the global byte
// offset.
type Position struct {
	Seq uint64 `json:"seq"`
	Pos int64  `json:"pos"`
}

// Options tune a journal. Zero values take the defaults.
type Options struct {
	// SegmentMaxBytes starts a new segment once the current one would grow
	// past it (default 8 MiB). Consumers are skipped and segments deleted in
	// whole segments, so keep it well below any consumer's buffer limit.
	SegmentMaxBytes int64
	// SegmentMaxAge starts a new segment once the current one is this old
	// (default 1 h), so age limits can free a quiet journal.
	SegmentMaxAge time.Duration
	// MinNext is a floor for the next record's position, for a journal whose
	// directory was emptied while consumers kept cursors beyond its end.
	MinNext Position
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Recovery tells what Open found.
type Recovery struct {
	// Segments is how many segments were found.
	Segments int
	// TruncatedBytes were cut from the tail of the newest segment (a torn
	// or corrupt write); TruncatedSegment names it.
	TruncatedBytes   int64
	TruncatedSegment string
	// Next is where the next record goes.
	Next Position
}

// SegmentInfo describes one segment.
type SegmentInfo struct {
	FirstSeq   uint64
	LastSeq    uint64 // FirstSeq-1 when empty
	Start, End int64  // global positions
	LastAppend time.Time
	Sealed     bool
}

type segment struct {
	firstSeq uint64
	start    int64
	path     string
	created  time.Time

	size       atomic.Int64 // durable bytes in the file, header included
	lastSeq    atomic.Uint64
	lastAppend atomic.Int64 // Unix nanoseconds
	sealed     atomic.Bool
}

func (s *segment) end() int64 { return s.start + s.size.Load() - headerSize }

func (s *segment) info() SegmentInfo {
	sealed := s.sealed.Load()
	return SegmentInfo{
		FirstSeq:   s.firstSeq,
		LastSeq:    s.lastSeq.Load(),
		Start:      s.start,
		End:        s.end(),
		LastAppend: time.Unix(0, s.lastAppend.Load()).UTC(),
		Sealed:     sealed,
	}
}

type batch struct {
	buf      []byte
	count    int
	firstSeq uint64
	done     chan struct{}
	err      error
}

// Journal is an open journal. Append, Head, Changed, Segments and readers
// may be used concurrently.
type Journal struct {
	dir  string
	opts Options

	mu      sync.Mutex // guards pending, closed
	pending *batch
	closed  bool

	kick    chan struct{}
	stop    chan struct{}
	stopped chan struct{}

	// Owned by the committer goroutine.
	head     *segment
	headFile *os.File
	nextSeq  uint64
	mustRoll bool
	spare    []byte

	stateMu  sync.RWMutex // guards segments, durable, changed
	segments []*segment
	durable  Position
	changed  chan struct{}
}

// Open opens or creates the journal in dir, recovering a torn tail.
func Open(dir string, opts Options) (*Journal, Recovery, error) {
	if opts.SegmentMaxBytes <= 0 {
		opts.SegmentMaxBytes = defaultSegmentMaxBytes
	}
	if opts.SegmentMaxAge <= 0 {
		opts.SegmentMaxAge = defaultSegmentMaxAge
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	var rec Recovery
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, rec, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{
		dir:     dir,
		opts:    opts,
		kick:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		stopped: make(chan struct{}),
		changed: make(chan struct{}),
	}
	if err := j.load(&rec); err != nil {
		return nil, rec, err
	}
	next := Position{Seq: 0, Pos: 0}
	if n := len(j.segments); n > 0 {
		last := j.segments[n-1]
		next = Position{Seq: last.lastSeq.Load(), Pos: last.end()}
	}
	if opts.MinNext.Seq > next.Seq {
		next.Seq = opts.MinNext.Seq
	}
	if opts.MinNext.Pos > next.Pos {
		next.Pos = opts.MinNext.Pos
	}
	j.nextSeq = next.Seq + 1
	j.durable = next
	if err := j.roll(next.Pos); err != nil {
		return nil, rec, err
	}
	rec.Next = next
	j.pending = &batch{done: make(chan struct{})}
	go j.commitLoop()
	return j, rec, nil
}

func segmentName(firstSeq uint64) string { return fmt.Sprintf("%020d%s", firstSeq, segSuffix) }

// load reads the segment headers and recovers the newest segment. Every
// segment it keeps is sealed: appends always go to a fresh segment.
func (j *Journal) load(rec *Recovery) error {
	entries, err := os.ReadDir(j.dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	var segs []*segment
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		first, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil {
			continue
		}
		segs = append(segs, &segment{firstSeq: first, path: filepath.Join(j.dir, name)})
	}
	slices.SortFunc(segs, func(a, b *segment) int {
		if a.firstSeq < b.firstSeq {
			return -1
		}
		if a.firstSeq > b.firstSeq {
			return 1
		}
		return 0
	})
	rec.Segments = len(segs)
	for i, s := range segs {
		last := i == len(segs)-1
		st, err := os.Stat(s.path)
		if err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		hdrErr := readHeader(s)
		if hdrErr != nil {
			if last {
				// Created but its header never became durable: a crash
				// while rolling. It holds no record.
				if err := os.Remove(s.path); err != nil {
					return fmt.Errorf("journal: %w", err)
				}
				segs = segs[:i]
				rec.TruncatedBytes += st.Size()
				rec.TruncatedSegment = filepath.Base(s.path)
				break
			}
			return hdrErr
		}
		s.size.Store(st.Size())
		s.lastAppend.Store(st.ModTime().UnixNano())
		s.sealed.Store(true)
		if !last {
			s.lastSeq.Store(segs[i+1].firstSeq - 1)
			continue
		}
		if i > 0 {
			// The segment before this one may still carry the zeros it
			// was preallocated with, if a crash came between creating
			// this one and trimming that one: this header says where
			// its records end.
			prev := segs[i-1]
			if want := s.start - prev.start + headerSize; prev.size.Load() > want {
				if err := truncateSync(prev.path, want); err != nil {
					return err
				}
				prev.size.Store(want)
			}
		}
		good, lastSeq, lastTime, err := scanSegment(s, st.Size())
		if err != nil {
			return err
		}
		s.lastSeq.Store(lastSeq)
		if lastTime != 0 {
			s.lastAppend.Store(lastTime)
		}
		if good < st.Size() {
			torn, err := nonZeroAfter(s.path, good)
			if err != nil {
				return err
			}
			if err := truncateSync(s.path, good); err != nil {
				return err
			}
			s.size.Store(good)
			if torn {
				// Zeros alone are preallocated space, not a torn write.
				rec.TruncatedBytes += st.Size() - good
				rec.TruncatedSegment = filepath.Base(s.path)
			}
		}
	}
	// Drop a trailing empty segment: it holds nothing and the next roll
	// would reuse its name.
	for len(segs) > 0 {
		s := segs[len(segs)-1]
		if s.size.Load() > headerSize {
			break
		}
		if err := os.Remove(s.path); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		segs = segs[:len(segs)-1]
	}
	j.segments = segs
	return syncDir(j.dir)
}

func readHeader(s *segment) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	var h [headerSize]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return fmt.Errorf("%w: segment %s: short header", ErrCorrupt, filepath.Base(s.path))
	}
	if string(h[:4]) != magic || h[4] != version ||
		crc32.Checksum(h[:28], castagnoli) != binary.LittleEndian.Uint32(h[28:]) {
		return fmt.Errorf("%w: segment %s: bad header", ErrCorrupt, filepath.Base(s.path))
	}
	if first := binary.LittleEndian.Uint64(h[8:]); first != s.firstSeq {
		return fmt.Errorf("%w: segment %s: header says first seq %d", ErrCorrupt, filepath.Base(s.path), first)
	}
	s.start = int64(binary.LittleEndian.Uint64(h[16:]))
	return nil
}

func encodeHeader(firstSeq uint64, start int64) []byte {
	h := make([]byte, headerSize)
	copy(h, magic)
	h[4] = version
	binary.LittleEndian.PutUint64(h[8:], firstSeq)
	binary.LittleEndian.PutUint64(h[16:], uint64(start))
	binary.LittleEndian.PutUint32(h[28:], crc32.Checksum(h[:28], castagnoli))
	return h
}

// scanSegment returns the file offset after the last intact record, that
// record's seq (firstSeq-1 if none) and append time.
func scanSegment(s *segment, size int64) (good int64, lastSeq uint64, lastTime int64, err error) {
	f, err := os.Open(s.path)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	r := &segReader{f: f, size: size}
	good = headerSize
	lastSeq = s.firstSeq - 1
	for {
		rec, n, ok := r.record(good)
		if !ok || rec.Seq != lastSeq+1 {
			return good, lastSeq, lastTime, nil
		}
		good += n
		lastSeq = rec.Seq
		lastTime = rec.Time.UnixNano()
	}
}

// nonZeroAfter reports whether the file holds a non-zero byte at or after
// off.
func nonZeroAfter(path string, off int64) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		n, err := f.ReadAt(buf, off)
		for _, c := range buf[:n] {
			if c != 0 {
				return true, nil
			}
		}
		off += int64(n)
		if err != nil || n == 0 {
			return false, nil
		}
	}
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("journal: truncate torn tail: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("journal: truncate torn tail: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("journal: sync dir: %w", err)
	}
	return nil
}

// roll seals the head segment and starts a new one at start, named after
// the next sequence number. Only the committer (or Open) calls it.
func (j *Journal) roll(start int64) error {
	s := &segment{
		firstSeq: j.nextSeq,
		start:    start,
		path:     filepath.Join(j.dir, segmentName(j.nextSeq)),
		created:  j.opts.Now(),
	}
	if err := j.trimHead(); err != nil {
		return err
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return fmt.Errorf("journal: new segment: %w", err)
	}
	if _, err := f.Write(encodeHeader(s.firstSeq, start)); err != nil {
		f.Close()
		return fmt.Errorf("journal: new segment: %w", err)
	}
	if err := preallocate(f, j.opts.SegmentMaxBytes); err != nil {
		f.Close()
		return fmt.Errorf("journal: new segment: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("journal: new segment: %w", err)
	}
	if err := syncDir(j.dir); err != nil {
		f.Close()
		return err
	}
	s.size.Store(headerSize)
	s.lastSeq.Store(s.firstSeq - 1)
	s.lastAppend.Store(s.created.UnixNano())
	if j.headFile != nil {
		j.headFile.Close()
	}
	j.stateMu.Lock()
	if j.head != nil {
		j.head.sealed.Store(true)
	} else if n := len(j.segments); n > 0 {
		j.segments[n-1].sealed.Store(true)
	}
	j.segments = append(j.segments, s)
	j.stateMu.Unlock()
	j.head, j.headFile = s, f
	j.mustRoll = false
	return nil
}

// preallocate fills the segment with zeros up to size. Overwriting blocks
// that are already allocated and written lets fdatasync flush data alone:
// appending would change the file size and force a filesystem journal
// commit at every sync, which on ext4 (data=ordered) also waits for every
// other file's pending writes — captures, log files — and made syncs
// several times slower under load.
func preallocate(f *os.File, size int64) error {
	zeros := make([]byte, 1<<20)
	for off := int64(headerSize); off < size; {
		n := min(int64(len(zeros)), size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// trimHead cuts the head segment's unused preallocated zeros and syncs it,
// before it is sealed or closed.
func (j *Journal) trimHead() error {
	if j.headFile == nil {
		return nil
	}
	if err := j.headFile.Truncate(j.head.size.Load()); err != nil {
		return fmt.Errorf("journal: seal segment: %w", err)
	}
	if err := j.headFile.Sync(); err != nil {
		return fmt.Errorf("journal: seal segment: %w", err)
	}
	return nil
}

// Append makes payloads durable as consecutive records and returns the
// sequence number of the first. It returns once they are synced to disk
// (sharing the sync with concurrent callers).
func (j *Journal) Append(payloads ...[]byte) (uint64, error) {
	if len(payloads) == 0 {
		return 0, nil
	}
	need := 0
	for _, p := range payloads {
		if len(p) > MaxPayload {
			return 0, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(p))
		}
		need += recHeader + recMeta + len(p)
	}
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return 0, ErrClosed
	}
	b := j.pending
	idx := b.count
	b.buf = slices.Grow(b.buf, need)
	for _, p := range payloads {
		var h [recHeader + recMeta]byte
		binary.LittleEndian.PutUint32(h[:], uint32(recMeta+len(p)))
		b.buf = append(b.buf, h[:]...)
		b.buf = append(b.buf, p...)
	}
	b.count += len(payloads)
	j.mu.Unlock()
	select {
	case j.kick <- struct{}{}:
	default:
	}
	<-b.done
	if b.err != nil {
		return 0, b.err
	}
	return b.firstSeq + uint64(idx), nil
}

func (j *Journal) commitLoop() {
	defer close(j.stopped)
	for {
		stopping := false
		select {
		case <-j.kick:
		case <-j.stop:
			stopping = true
		}
		for {
			j.mu.Lock()
			b := j.pending
			if b.count == 0 {
				j.mu.Unlock()
				break
			}
			j.pending = &batch{buf: j.spare[:0], done: make(chan struct{})}
			j.mu.Unlock()
			b.err = j.commit(b)
			j.spare = b.buf
			b.buf = nil
			close(b.done)
		}
		if stopping {
			return
		}
	}
}

func (j *Journal) commit(b *batch) error {
	now := j.opts.Now()
	h := j.head
	size := h.size.Load()
	if j.mustRoll || (size > headerSize &&
		(size+int64(len(b.buf)) > j.opts.SegmentMaxBytes || now.Sub(h.created) >= j.opts.SegmentMaxAge)) {
		if err := j.roll(h.end()); err != nil {
			j.mustRoll = true
			return err
		}
		h = j.head
		size = h.size.Load()
	}
	seq := j.nextSeq
	b.firstSeq = seq
	nanos := uint64(now.UnixNano())
	for off := 0; off < len(b.buf); {
		l := int(binary.LittleEndian.Uint32(b.buf[off:]))
		body := b.buf[off+recHeader : off+recHeader+l]
		binary.LittleEndian.PutUint64(body, seq)
		binary.LittleEndian.PutUint64(body[8:], nanos)
		binary.LittleEndian.PutUint32(b.buf[off+4:], crc32.Checksum(body, castagnoli))
		off += recHeader + l
		seq++
	}
	if _, err := j.headFile.WriteAt(b.buf, size); err != nil {
		j.mustRoll = true
		return fmt.Errorf("journal: write: %w", err)
	}
	if err := unix.Fdatasync(int(j.headFile.Fd())); err != nil {
		// After a failed sync the kernel's view of the file cannot be
		// trusted: what follows goes to a new segment (the roll cuts this
		// one back to its last durable record).
		j.mustRoll = true
		return fmt.Errorf("journal: sync: %w", err)
	}
	j.nextSeq = seq
	h.lastSeq.Store(seq - 1)
	h.lastAppend.Store(now.UnixNano())
	h.size.Store(size + int64(len(b.buf)))
	j.stateMu.Lock()
	j.durable = Position{Seq: seq - 1, Pos: h.end()}
	close(j.changed)
	j.changed = make(chan struct{})
	j.stateMu.Unlock()
	return nil
}

// Head returns the position after the last durable record.
func (j *Journal) Head() Position {
	j.stateMu.RLock()
	defer j.stateMu.RUnlock()
	return j.durable
}

// Oldest returns the position before the oldest record still kept.
func (j *Journal) Oldest() Position {
	j.stateMu.RLock()
	defer j.stateMu.RUnlock()
	s := j.segments[0]
	return Position{Seq: s.firstSeq - 1, Pos: s.start}
}

// Changed returns a channel closed at the next durable commit.
func (j *Journal) Changed() <-chan struct{} {
	j.stateMu.RLock()
	defer j.stateMu.RUnlock()
	return j.changed
}

// Segments describes the segments, oldest first.
func (j *Journal) Segments() []SegmentInfo {
	j.stateMu.RLock()
	defer j.stateMu.RUnlock()
	out := make([]SegmentInfo, len(j.segments))
	for i, s := range j.segments {
		out[i] = s.info()
	}
	return out
}

// RemoveBefore deletes the sealed segments that end at or before pos and
// returns how many it deleted. The head segment is never deleted.
func (j *Journal) RemoveBefore(pos int64) (int, error) {
	j.stateMu.Lock()
	var gone []*segment
	for len(j.segments) > 1 {
		s := j.segments[0]
		if !s.sealed.Load() || s.end() > pos {
			break
		}
		gone = append(gone, s)
		j.segments = j.segments[1:]
	}
	j.stateMu.Unlock()
	if len(gone) == 0 {
		return 0, nil
	}
	for _, s := range gone {
		if err := os.Remove(s.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("journal: remove segment: %w", err)
		}
	}
	return len(gone), syncDir(j.dir)
}

// Close makes the pending appends durable and closes the journal. Appends
// after Close fail with ErrClosed.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	close(j.stop)
	<-j.stopped
	if j.headFile == nil {
		return nil
	}
	err := j.trimHead()
	if cerr := j.headFile.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("journal: %w", cerr)
	}
	return err
}

// segmentAt returns the segment holding pos (the one whose range contains
// it, or, at a boundary, the later one), the segment after s, or nil.
func (j *Journal) segmentAt(pos int64) (*segment, error) {
	j.stateMu.RLock()
	defer j.stateMu.RUnlock()
	if pos < j.segments[0].start {
		return nil, ErrGone
	}
	for i := len(j.segments) - 1; i >= 0; i-- {
		s := j.segments[i]
		if pos >= s.start {
			if pos > s.end() {
				return nil, fmt.Errorf("%w: position %d is past the end", ErrCorrupt, pos)
			}
			return s, nil
		}
	}
	return nil, ErrGone
}

func (j *Journal) nextSegment(s *segment) (*segment, error) {
	j.stateMu.RLock()
	defer j.stateMu.RUnlock()
	for i, t := range j.segments {
		if t == s {
			if i+1 < len(j.segments) {
				return j.segments[i+1], nil
			}
			return nil, nil
		}
	}
	return nil, ErrGone
}
