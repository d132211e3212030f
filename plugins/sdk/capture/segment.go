package capture

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"fmt"
	"hash"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// flusher turns entries into segment files: framing, hash chain, tags,
// checkpoints, rolls. Only the flusher goroutine touches it (and New,
// before that goroutine starts).
type flusher struct {
	w     *Writer
	base  string
	keyID [32]byte

	f           *os.File
	hdr         Header
	segStart    time.Duration // since w.base0
	chain       *chainer
	fileSum     hash.Hash // SHA-256 of the bytes written to the segment file
	h0          [32]byte
	count       uint64 // records in the segment
	coveredTo   uint64 // records [0, coveredTo) are covered by a checkpoint
	tags        []byte
	buf         []byte
	size        int64 // bytes in the segment, buffered ones included
	sinceSeal   int64 // bytes since the last checkpoint
	dataRecords int
	metas       [][]byte          // every Meta payload, repeated in each new segment
	sizes       map[uint32][]byte // the last Resize payload per channel, likewise
	scratch     []byte
	msg         [sealMessageLen]byte
	err         error
}

func (fl *flusher) fail(err error) {
	if fl.err == nil {
		fl.err = err
		fl.w.setErr(err)
	}
}

// process writes a block's entries, then checkpoints or seals as asked.
func (fl *flusher) process(b *block) {
	for p := b.buf; len(p) >= entryHdr && fl.err == nil; {
		kind := Kind(p[0])
		ch := binary.LittleEndian.Uint32(p[1:])
		t := time.Duration(binary.LittleEndian.Uint64(p[5:]))
		n := int(binary.LittleEndian.Uint32(p[13:]))
		p = p[entryHdr:]
		payload := b.big
		if payload == nil {
			payload, p = p[:n], p[n:]
		}
		fl.record(kind, ch, t, payload)
	}
	switch {
	case fl.err != nil:
		if b.final && fl.f != nil {
			fl.f.Close() // left in the active directory for Recover
			fl.f = nil
		}
	case b.final:
		fl.seal(0)
	case b.checkpoint && fl.count > fl.coveredTo:
		fl.checkpoint(KindCheckpoint, 0)
	}
	fl.releaseBuf()
}

// releaseBuf writes what the output buffer holds and gives the buffer
// back: between blocks the flusher holds none.
func (fl *flusher) releaseBuf() {
	fl.flush()
	putBuf(fl.buf)
	fl.buf = nil
}

// offset is t in microseconds since the segment's start.
func (fl *flusher) offset(t time.Duration) uint64 {
	return uint64(max(t-fl.segStart, 0) / time.Microsecond)
}

func (fl *flusher) now() time.Duration { return max(time.Since(fl.w.base0), fl.segStart) }

// trailerReserve is the most bytes a trailer covering n records takes.
func trailerReserve(n int) int64 { return 1 + 3 + 32 + 10 + 32 + 10 + 10 + 3 + 4*int64(n) + 64 }

func (fl *flusher) record(kind Kind, channel uint32, t time.Duration, p []byte) {
	var pre [2 * binary.MaxVarintLen64]byte
	n := binary.PutUvarint(pre[:], fl.offset(t))
	n += binary.PutUvarint(pre[n:], uint64(channel))
	frame := int64(1 + uvarintLen(uint64(n+len(p))) + n + len(p))
	if fl.dataRecords > 0 && fl.size+frame+trailerReserve(len(fl.tags)/4+1) > fl.w.opts.SegmentMaxBytes {
		fl.seal(FlagContinued)
		fl.openSegment(fl.hdr.Segment+1, fl.chain.h, t)
		if fl.err != nil {
			return
		}
		n = binary.PutUvarint(pre[:], fl.offset(t))
		n += binary.PutUvarint(pre[n:], uint64(channel))
	}
	fl.emit(kind, pre[:n], p)
	fl.dataRecords++
	switch kind {
	case Meta:
		fl.metas = append(fl.metas, bytes.Clone(p))
	case Resize:
		fl.sizes[channel] = append(fl.sizes[channel][:0], p...)
	}
	fl.checkpointIfDue()
}

func (fl *flusher) checkpointIfDue() {
	if fl.sinceSeal >= fl.w.opts.CheckpointBytes || len(fl.tags)/4 >= maxTags-1 {
		fl.checkpoint(KindCheckpoint, 0)
	}
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// emit frames one record (kind, uvarint body length, prefix, payload),
// extends the hash chain with it and queues it for the file.
func (fl *flusher) emit(kind Kind, prefix, payload []byte) {
	if fl.buf == nil {
		fl.buf = getBuf()
	}
	var hdr [1 + binary.MaxVarintLen64]byte
	hdr[0] = byte(kind)
	hn := 1 + binary.PutUvarint(hdr[1:], uint64(len(prefix)+len(payload)))
	frame := hn + len(prefix) + len(payload)
	if len(fl.buf)+frame > cap(fl.buf) {
		fl.flush()
	}
	start := len(fl.buf)
	fl.buf = append(fl.buf, hdr[:hn]...)
	fl.buf = append(fl.buf, prefix...)
	if frame <= cap(fl.buf)-start {
		fl.buf = append(fl.buf, payload...)
		fl.chain.add(fl.buf[start:], nil)
	} else {
		fl.chain.add(fl.buf[start:], payload)
		fl.flush()
		fl.writeFile(payload)
	}
	fl.tags = append(fl.tags, fl.chain.h[:4]...)
	fl.count++
	fl.size += int64(frame)
	fl.sinceSeal += int64(frame)
}

func (fl *flusher) flush() {
	if len(fl.buf) > 0 {
		fl.writeFile(fl.buf)
		fl.buf = fl.buf[:0]
	}
}

func (fl *flusher) writeFile(b []byte) {
	if fl.err != nil {
		return
	}
	if _, err := fl.f.Write(b); err != nil {
		fl.fail(fmt.Errorf("capture: segment %d: %w", fl.hdr.Segment, err))
		return
	}
	// Hashing what is written, while it is at hand, spares the seal
	// reading the whole segment back.
	fl.fileSum.Write(b)
}

// checkpoint signs what the segment holds so far and writes it to the
// file; with KindTrailer it ends the segment.
func (fl *flusher) checkpoint(kind Kind, flags uint64) {
	s := seal{
		headerHash: fl.h0,
		count:      fl.count,
		chain:      fl.chain.h,
		offset:     fl.offset(fl.now()),
		flags:      flags,
		tags:       fl.tags,
	}
	sealMessage(&fl.msg, kind, &s)
	sig := ed25519.Sign(fl.w.opts.Key, fl.msg[:])
	fl.scratch = append(appendSealFields(fl.scratch[:0], kind, &s), sig...)
	fl.emit(kind, nil, fl.scratch)
	fl.tags = fl.tags[:0]
	fl.coveredTo = fl.count
	fl.sinceSeal = 0
	fl.flush()
}

// openSegment creates segment n, starting at start, and writes its header,
// the Meta and Resize records a renderer needs to begin there, and a
// checkpoint.
func (fl *flusher) openSegment(n int, prev [32]byte, start time.Duration) {
	if fl.err != nil {
		return
	}
	opts := &fl.w.opts
	name := SegmentFileName(fl.base, n)
	if _, err := os.Lstat(filepath.Join(opts.SealedDir, name)); err == nil {
		fl.fail(fmt.Errorf("capture: segment %d: %s already sealed: %w", n, name, os.ErrExist))
		return
	}
	path := filepath.Join(opts.ActiveDir, name)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		fl.fail(fmt.Errorf("capture: segment %d: %w", n, err))
		return
	}
	if err := f.Chmod(0o640); err != nil { // whatever the umask
		f.Close()
		os.Remove(path)
		fl.fail(fmt.Errorf("capture: segment %d: %w", n, err))
		return
	}
	fl.f, fl.segStart = f, start
	fl.w.pathMu.Lock()
	fl.w.path = path
	fl.w.pathMu.Unlock()
	fl.hdr = Header{
		Version:      FormatVersion,
		Segment:      n,
		SessionStart: opts.Start,
		Start:        fl.w.base0.Add(start),
		KeyID:        fl.keyID,
		Prev:         prev,
		SessionID:    opts.SessionID,
	}
	fl.chain.h = [32]byte{}
	fl.fileSum.Reset()
	fl.count, fl.coveredTo, fl.dataRecords = 0, 0, 0
	fl.tags = fl.tags[:0]
	if fl.buf == nil {
		fl.buf = getBuf()
	}
	fl.buf = append(fl.buf, Magic...) // empty: a roll seals first, which flushes
	fl.size, fl.sinceSeal = int64(len(Magic)), 0
	fl.scratch = appendHeader(fl.scratch[:0], &fl.hdr)
	fl.emit(KindHeader, nil, fl.scratch)
	fl.h0 = fl.chain.h
	var pre [2 * binary.MaxVarintLen64]byte
	replay := func(kind Kind, channel uint32, p []byte) {
		k := binary.PutUvarint(pre[:], 0)
		k += binary.PutUvarint(pre[k:], uint64(channel))
		fl.emit(kind, pre[:k], p)
		fl.checkpointIfDue()
	}
	for _, m := range fl.metas {
		replay(Meta, 0, m)
	}
	for _, ch := range slices.Sorted(maps.Keys(fl.sizes)) {
		replay(Resize, ch, fl.sizes[ch])
	}
	fl.checkpoint(KindCheckpoint, 0)
}

// seal writes the trailer and hands the segment to the seal loop.
func (fl *flusher) seal(flags uint64) {
	fl.checkpoint(KindTrailer, flags)
	if fl.err != nil {
		return
	}
	fl.w.seals <- sealJob{f: fl.f, path: fl.w.Path(), segment: fl.hdr.Segment, final: fl.chain.h, sum: fl.fileSum.Sum(nil)}
	fl.f = nil
}

type sealJob struct {
	f       *os.File
	path    string
	segment int
	final   [32]byte
	sum     []byte // SHA-256 of the file
}
