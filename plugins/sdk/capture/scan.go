package capture

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// maxPendingBytes bounds the bytes a verifying reader holds between two
// checkpoints: what the writer may put there at most, plus the record that
// crossed the line and the checkpoint itself.
const maxPendingBytes = MaxCheckpointBytes + 2*maxBody

// maxSealFrame is the largest checkpoint or trailer record.
const maxSealFrame = 1 + binary.MaxVarintLen64 + 32 + 3*binary.MaxVarintLen64 + 32 + binary.MaxVarintLen64 + 4*maxTags + 64

var (
	errShort     = errors.New("file ends inside a record")
	errStop      = errors.New("verification stopped") // s.res says why
	errBadFrame  = errors.New("bad record frame")
	errNotHeader = errors.New("first record is not a header")
)

// link is what a segment's header must say when it follows another.
type link struct {
	segment int
	session string
	prev    [32]byte
}

// dataRec is a data record read from a segment; its payload is
// arena[p0:p1] when the scanner keeps payloads.
type dataRec struct {
	index  uint64
	off    int64
	kind   Kind
	ch     uint32
	t      uint64
	p0, p1 int
}

// segResult is what verifying one segment found.
type segResult struct {
	status     Status
	record     uint64 // Altered
	offset     int64  // Altered
	checkpoint int    // Truncated: the last good checkpoint, 1-based; 0 if none
	records    uint64 // records verified in the segment
	err        error
}

// scanner reads one segment. With verify it checks the hash chain and the
// signatures and hands out data records only once a checkpoint vouches for
// them, batch by batch; without, it hands them out as it parses them.
type scanner struct {
	ra     io.ReaderAt
	size   int64
	br     *bufio.Reader
	off    int64
	pub    ed25519.PublicKey
	want   [32]byte
	verify bool
	keep   bool
	link   *link // nil when no previous segment was given

	chain   *chainer
	prevH   [32]byte // the chain before the last record read
	h0      [32]byte
	hdr     Header
	haveHdr bool
	started bool
	idx     uint64 // records read
	body    []byte
	fh      [1 + binary.MaxVarintLen64]byte
	msg     [sealMessageLen]byte

	// Records since the last good checkpoint.
	pendFrom  uint64
	pendTags  []uint32
	pendOffs  []int64
	pendBytes int64
	recs      []dataRec
	arena     []byte

	goodCP      int
	goodRecords uint64
	goodOff     int64
	goodT       uint64 // the last good seal's time offset
	goodChain   [32]byte
	trailer     bool
	flags       uint64
	res         segResult
	err         error // sticky: io.EOF at a clean end, errStop after a verdict
}

func newScanner(ra io.ReaderAt, size int64, pub ed25519.PublicKey, verify, keep bool, l *link) *scanner {
	s := &scanner{
		ra:     ra,
		size:   size,
		br:     bufio.NewReaderSize(io.NewSectionReader(ra, 0, size), 64<<10),
		pub:    pub,
		verify: verify,
		keep:   keep,
		link:   l,
		chain:  newChainer(),
	}
	if verify {
		s.want = keyIDOf(pub)
	}
	return s
}

// nextBatch returns the next data records. The slice and payloads are
// valid until the next call.
func (s *scanner) nextBatch() ([]dataRec, error) {
	if s.err != nil {
		return nil, s.err
	}
	if !s.started {
		s.started = true
		if err := s.readMagic(); err != nil {
			return nil, err
		}
	}
	s.recs, s.arena = s.recs[:0], s.arena[:0]
	for {
		kind, body, off, err := s.readRecord()
		if err != nil {
			return nil, s.endOfData(err, off)
		}
		i := s.idx - 1
		switch {
		case i == 0:
			if kind != KindHeader {
				return nil, s.malformed(i, off, errNotHeader)
			}
			hdr, err := decodeHeader(body)
			if err != nil {
				return nil, s.malformed(i, off, err)
			}
			s.hdr, s.haveHdr, s.h0 = hdr, true, s.chain.h
			if err := s.checkLink(); err != nil {
				return nil, s.stop(segResult{status: Altered, record: 0, offset: off, err: err})
			}
		case kind == KindCheckpoint || kind == KindTrailer:
			done, err := s.onSeal(kind, body, i, off)
			if err != nil {
				return nil, err
			}
			if done || (s.verify && len(s.recs) > 0) {
				return s.recs, nil
			}
		case kind.IsData():
			d := decoder{b: body}
			t := d.uvarint(1<<63 - 1)
			ch := d.uvarint(1<<32 - 1)
			if d.err != nil {
				return nil, s.malformed(i, off, fmt.Errorf("%v record: %w", kind, d.err))
			}
			r := dataRec{index: i, off: off, kind: kind, ch: uint32(ch), t: t}
			if s.keep {
				r.p0 = len(s.arena)
				s.arena = append(s.arena, d.b...)
				r.p1 = len(s.arena)
			}
			s.recs = append(s.recs, r)
			if !s.verify {
				return s.recs, nil
			}
		default:
			return nil, s.malformed(i, off, fmt.Errorf("unexpected %v record: %w", kind, ErrMalformed))
		}
		if s.verify && (len(s.pendTags) > maxTags+1 || s.pendBytes > maxPendingBytes) {
			return nil, s.stop(segResult{status: Altered, record: i, offset: off,
				err: fmt.Errorf("no checkpoint for %d records (%d bytes): %w", len(s.pendTags), s.pendBytes, ErrMalformed)})
		}
	}
}

func (s *scanner) readMagic() error {
	var m [len(Magic)]byte
	n, err := io.ReadFull(s.br, m[:])
	s.off = int64(n)
	switch {
	case err == nil && string(m[:]) == Magic:
		s.goodOff = s.off
		return nil
	case err != nil && Magic[:n] == string(m[:n]):
		if !s.verify {
			s.err = fmt.Errorf("empty, or cut before its header: %w", ErrMalformed)
			return s.err
		}
		return s.stop(segResult{status: Truncated})
	default:
		if !s.verify {
			s.err = fmt.Errorf("not a capture file: %w", ErrMalformed)
			return s.err
		}
		return s.stop(segResult{status: Altered, err: fmt.Errorf("not a capture file: %w", ErrMalformed)})
	}
}

// readRecord reads one frame, extends the chain with its exact bytes and
// notes its tag. off is where it starts.
func (s *scanner) readRecord() (kind Kind, body []byte, off int64, err error) {
	off = s.off
	k, err := s.br.ReadByte()
	if err != nil {
		return 0, nil, off, io.EOF
	}
	s.fh[0] = k
	hn := 1
	var length uint64
	for shift := uint(0); ; shift += 7 {
		if hn == len(s.fh) {
			return 0, nil, off, errBadFrame
		}
		b, err := s.br.ReadByte()
		if err != nil {
			return 0, nil, off, errShort
		}
		s.fh[hn] = b
		hn++
		length |= uint64(b&0x7f) << shift
		if b < 0x80 {
			if b == 0 && hn > 2 { // a non-minimal varint would hash differently from its re-encoding
				return 0, nil, off, errBadFrame
			}
			break
		}
	}
	if length > maxBody {
		return 0, nil, off, errBadFrame
	}
	// Grow the body as bytes arrive, so a lying length costs nothing.
	s.body = s.body[:0]
	for remaining := int(length); remaining > 0; {
		chunk := min(remaining, 64<<10)
		n := len(s.body)
		s.body = slices.Grow(s.body, chunk)[:n+chunk]
		if _, err := io.ReadFull(s.br, s.body[n:]); err != nil {
			return 0, nil, off, errShort
		}
		remaining -= chunk
	}
	s.off += int64(hn) + int64(length)
	s.idx++
	if s.verify {
		s.prevH = s.chain.h
		s.chain.add(s.fh[:hn], s.body)
		s.pendTags = append(s.pendTags, binary.BigEndian.Uint32(s.chain.h[:4]))
		s.pendOffs = append(s.pendOffs, off)
		s.pendBytes += int64(hn) + int64(length)
	}
	return Kind(k), s.body, off, nil
}

func (s *scanner) checkLink() error {
	h := s.hdr
	if s.link == nil {
		if h.Segment == 0 && h.Prev != ([32]byte{}) {
			return fmt.Errorf("segment 0 names a previous segment: %w", ErrMalformed)
		}
		return nil
	}
	switch {
	case h.SessionID != s.link.session:
		return fmt.Errorf("segment of session %q follows one of session %q: %w", h.SessionID, s.link.session, ErrMalformed)
	case h.Segment != s.link.segment:
		return fmt.Errorf("segment %d where segment %d should follow: %w", h.Segment, s.link.segment, ErrMalformed)
	case h.Prev != s.link.prev:
		return fmt.Errorf("segment %d does not follow segment %d: previous-segment hash differs: %w",
			h.Segment, h.Segment-1, ErrMalformed)
	}
	return nil
}

// onSeal handles a checkpoint or trailer at record i.
func (s *scanner) onSeal(kind Kind, body []byte, i uint64, off int64) (done bool, err error) {
	sl, err := decodeSeal(kind, body)
	if err != nil {
		return false, s.malformed(i, off, err)
	}
	if !s.verify {
		if kind == KindTrailer {
			s.trailer, s.flags, s.err = true, sl.flags, io.EOF
			return true, nil
		}
		return false, nil
	}
	sealMessage(&s.msg, kind, &sl)
	sigOK := ed25519.Verify(s.pub, s.msg[:], sl.sig)
	chainOK := sl.headerHash == s.h0 && sl.count == i && sl.chain == s.prevH
	switch {
	case !sigOK && s.hdr.KeyID != s.want:
		return false, s.stop(segResult{status: WrongKey})
	case !sigOK:
		return false, s.stop(segResult{status: Altered, record: i, offset: off,
			err: fmt.Errorf("%v signature does not verify", kind)})
	case !chainOK:
		return false, s.stop(s.localize(&sl, i, off))
	}
	s.goodCP++
	s.goodRecords, s.goodOff, s.goodT, s.goodChain = i+1, s.off, sl.offset, s.chain.h
	s.pendFrom = i + 1
	s.pendTags, s.pendOffs, s.pendBytes = s.pendTags[:0], s.pendOffs[:0], 0
	if kind != KindTrailer {
		return false, nil
	}
	s.trailer, s.flags = true, sl.flags
	if s.off != s.size {
		s.res = segResult{status: Altered, record: i + 1, offset: s.off, records: s.goodRecords,
			err: fmt.Errorf("bytes after the trailer: %w", ErrMalformed)}
		s.err = errStop
		return true, nil
	}
	s.res = segResult{status: Intact, records: s.goodRecords}
	s.err = io.EOF
	return true, nil
}

// localize names the first altered record among those read since the last
// good checkpoint, using the per-record tags of a signed seal; failing
// that, the record at i.
func (s *scanner) localize(sl *seal, i uint64, off int64) segResult {
	ntags := uint64(len(sl.tags) / 4)
	from := sl.count - min(ntags, sl.count)
	for k, tag := range s.pendTags {
		j := s.pendFrom + uint64(k)
		if j >= i {
			break
		}
		if j < from || j >= sl.count {
			continue
		}
		if binary.BigEndian.Uint32(sl.tags[4*(j-from):]) != tag {
			return segResult{status: Altered, record: j, offset: s.pendOffs[k],
				err: fmt.Errorf("record %d differs from what checkpoint at record %d signed", j, i)}
		}
	}
	return segResult{status: Altered, record: i, offset: off,
		err: fmt.Errorf("hash chain differs at the checkpoint at record %d", i)}
}

// malformed handles bytes that do not parse as the record expected at i.
func (s *scanner) malformed(i uint64, off int64, cause error) error {
	if !s.verify {
		s.res.err = fmt.Errorf("record %d (offset %d): %w", i, off, cause)
		s.err = io.EOF
		return s.err
	}
	if sl, ok := s.resync(); ok {
		r := s.localize(&sl, i, off)
		if r.record == i {
			r.err = fmt.Errorf("record %d (offset %d): %w", i, off, cause)
		}
		return s.stop(r)
	}
	return s.stop(segResult{status: Altered, record: i, offset: off,
		err: fmt.Errorf("record %d (offset %d): %w", i, off, cause)})
}

// endOfData handles the end of the bytes, or a frame that cannot be read,
// at offset off.
func (s *scanner) endOfData(err error, off int64) error {
	i := s.idx
	if errors.Is(err, errBadFrame) {
		return s.malformed(i, off, fmt.Errorf("%w: %w", errBadFrame, ErrMalformed))
	}
	if !s.verify {
		if errors.Is(err, errShort) {
			s.res.err = fmt.Errorf("record %d (offset %d): %w", i, off, errShort)
		}
		s.err = io.EOF
		return s.err
	}
	// Bytes that end early were cut, unless a checkpoint signed for this
	// segment lies past the last good one: then framing was altered.
	if errors.Is(err, errShort) && s.haveHdr {
		if sl, ok := s.resync(); ok {
			return s.stop(s.localize(&sl, i, off))
		}
	}
	return s.stop(segResult{status: Truncated, err: fmt.Errorf("file ends at offset %d, record %d: %w", off, i, errShort)})
}

// resync looks past the last good checkpoint for a checkpoint or trailer
// of this segment that verifies: proof that bytes were altered rather than
// cut. It reads the file again, in windows; it only runs on a failure.
func (s *scanner) resync() (seal, bool) {
	if !s.haveHdr {
		return seal{}, false
	}
	const win = 1 << 20
	buf := make([]byte, min(int64(win+maxSealFrame), s.size-s.goodOff))
	var msg [sealMessageLen]byte
	for base := s.goodOff; base < s.size; base += win {
		n, err := s.ra.ReadAt(buf, base)
		if err != nil && !errors.Is(err, io.EOF) {
			return seal{}, false
		}
		data := buf[:n]
		for p := 0; p < min(win, n); p++ {
			k := Kind(data[p])
			if k != KindCheckpoint && k != KindTrailer {
				continue
			}
			l, m := binary.Uvarint(data[p+1:])
			start := p + 1 + m
			if m <= 0 || l < 32 || l > maxSealFrame || start+int(l) > n || !bytes.Equal(data[start:start+32], s.h0[:]) {
				continue
			}
			sl, err := decodeSeal(k, data[start:start+int(l)])
			if err != nil {
				continue
			}
			sealMessage(&msg, k, &sl)
			if ed25519.Verify(s.pub, msg[:], sl.sig) {
				return sl, true
			}
		}
	}
	return seal{}, false
}

// stop records the verdict on the segment.
func (s *scanner) stop(r segResult) error {
	r.checkpoint = s.goodCP
	r.records = s.goodRecords
	s.res = r
	s.err = errStop
	return s.err
}
