package journal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Record is one record read back. Payload is valid until the next Read.
type Record struct {
	Seq     uint64
	Time    time.Time
	End     Position // the position after this record
	Payload []byte
}

const readChunk = 256 << 10

// segReader reads records of one segment file through a buffer.
type segReader struct {
	f        *os.File
	size     int64 // bytes that may be read
	buf      []byte
	bufStart int64 // file offset of buf[0]
}

// record returns the intact record at off and its total length; ok is false
// when there is no complete, intact record there.
func (r *segReader) record(off int64) (rec Record, n int64, ok bool) {
	hdr, ok := r.bytes(off, recHeader)
	if !ok {
		return rec, 0, false
	}
	l := int64(binary.LittleEndian.Uint32(hdr))
	sum := binary.LittleEndian.Uint32(hdr[4:])
	if l < recMeta || l > recMeta+MaxPayload {
		return rec, 0, false
	}
	body, ok := r.bytes(off+recHeader, int(l))
	if !ok || crc32.Checksum(body, castagnoli) != sum {
		return rec, 0, false
	}
	rec.Seq = binary.LittleEndian.Uint64(body)
	rec.Time = time.Unix(0, int64(binary.LittleEndian.Uint64(body[8:]))).UTC()
	rec.Payload = body[recMeta:]
	return rec, recHeader + l, true
}

// holds reports whether the whole record at off is in the buffer.
func (r *segReader) holds(off int64) bool {
	end := r.bufStart + int64(len(r.buf))
	if off < r.bufStart || off+recHeader > end {
		return false
	}
	l := int64(binary.LittleEndian.Uint32(r.buf[off-r.bufStart:]))
	return off+recHeader+l <= end
}

// bytes returns n bytes at file offset off, reading more of the file when
// the buffer does not hold them.
func (r *segReader) bytes(off int64, n int) ([]byte, bool) {
	if off+int64(n) > r.size {
		return nil, false
	}
	if off >= r.bufStart && off+int64(n) <= r.bufStart+int64(len(r.buf)) {
		i := off - r.bufStart
		return r.buf[i : i+int64(n)], true
	}
	want := max(n, readChunk)
	if rest := r.size - off; int64(want) > rest {
		want = int(rest)
	}
	if cap(r.buf) < want {
		r.buf = make([]byte, want)
	}
	r.buf = r.buf[:want]
	got, err := r.f.ReadAt(r.buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		r.buf = r.buf[:0]
		return nil, false
	}
	r.buf = r.buf[:got]
	r.bufStart = off
	if got < n {
		return nil, false
	}
	return r.buf[:n], true
}

// Reader reads durable records in order from a position. A Reader is used by
// one goroutine.
type Reader struct {
	j   *Journal
	seg *segment
	sr  segReader
	off int64 // file offset in seg
	at  Position
}

// NewReader returns a reader positioned at at, which must be a position
// returned by the journal (a record's End, Head, Oldest or a segment start).
// It fails with ErrGone when at is older than the oldest segment.
func (j *Journal) NewReader(at Position) (*Reader, error) {
	s, err := j.segmentAt(at.Pos)
	if err != nil {
		return nil, err
	}
	r := &Reader{j: j, at: at}
	if err := r.open(s, headerSize+at.Pos-s.start); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Reader) open(s *segment, off int64) error {
	if r.sr.f != nil {
		r.sr.f.Close()
		r.sr.f = nil
	}
	f, err := os.Open(s.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ErrGone
		}
		return fmt.Errorf("journal: %w", err)
	}
	r.seg, r.off = s, off
	r.sr = segReader{f: f, buf: r.sr.buf[:0]}
	return nil
}

// Position returns the position after the last record read.
func (r *Reader) Position() Position { return r.at }

// Read appends up to max durable records to dst, or none when the reader is
// at the head. It fails with ErrCorrupt on a damaged record (SkipSegment
// moves past it) and ErrGone when the segment it was in was deleted.
func (r *Reader) Read(dst []Record, max int) ([]Record, error) {
	first := len(dst)
	for len(dst) < max {
		sealed := r.seg.sealed.Load()
		r.sr.size = r.seg.size.Load()
		if r.off >= r.sr.size {
			if !sealed || len(dst) > first {
				// At the head, or about to switch files: the switch
				// reuses the buffer the returned payloads point into.
				return dst, nil
			}
			next, err := r.j.nextSegment(r.seg)
			if err != nil {
				return dst, err
			}
			if next == nil {
				return dst, nil
			}
			if err := r.open(next, headerSize); err != nil {
				return dst, err
			}
			continue
		}
		if len(dst) > first && !r.sr.holds(r.off) {
			// Refilling the buffer would overwrite the payloads returned.
			return dst, nil
		}
		rec, n, ok := r.sr.record(r.off)
		if !ok || rec.Seq <= r.at.Seq {
			return dst, fmt.Errorf("%w: segment %s offset %d", ErrCorrupt, filepath.Base(r.seg.path), r.off)
		}
		r.off += n
		r.at = Position{Seq: rec.Seq, Pos: r.seg.start + r.off - headerSize}
		rec.End = r.at
		dst = append(dst, rec)
	}
	return dst, nil
}

// SkipSegment moves the reader to the start of the segment after its
// current one, past a corrupt record, and returns the new position.
func (r *Reader) SkipSegment() (Position, error) {
	next, err := r.j.nextSegment(r.seg)
	if err != nil {
		return r.at, err
	}
	if next == nil {
		// The head itself is damaged on disk: jump to its durable end.
		r.off = r.seg.size.Load()
		r.at = Position{Seq: r.seg.lastSeq.Load(), Pos: r.seg.end()}
		return r.at, nil
	}
	if err := r.open(next, headerSize); err != nil {
		return r.at, err
	}
	r.at = Position{Seq: next.firstSeq - 1, Pos: next.start}
	return r.at, nil
}

// Close releases the reader's file.
func (r *Reader) Close() error {
	if r.sr.f == nil {
		return nil
	}
	err := r.sr.f.Close()
	r.sr.f = nil
	return err
}
