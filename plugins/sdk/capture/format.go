package capture

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Magic opens every segment file. Like PNG's, it catches text-mode
// transfers (CR LF, ^Z) that would otherwise look like tampering.
const Magic = "\x89VSL\r\n\x1a\n"

// FormatVersion is the version written in every segment header.
const FormatVersion = 1

// Limits that bound what a reader allocates, whatever the file holds.
const (
	// MaxPayload is the largest payload of one record. Writes of stream
	// kinds (output, input, screen data) that are larger are split.
	MaxPayload = 1 << 20
	// maxTags is the most records one checkpoint covers; the writer
	// checkpoints early rather than exceed it.
	maxTags = 1 << 16
	// maxBody bounds a record body: a full data record, or a checkpoint
	// with maxTags tags.
	maxBody = MaxPayload + 2*binary.MaxVarintLen64
	// maxSessionID bounds the session id in a header.
	maxSessionID = 256
)

// Kind says what a record holds.
type Kind uint8

// Structural kinds, written by the writer itself.
const (
	KindHeader     Kind = 1
	KindCheckpoint Kind = 2
	KindTrailer    Kind = 3
)

// Data kinds, written through Writer.Write.
const (
	// Output is server-to-client terminal data (an SSH channel's data).
	Output Kind = 16
	// Stderr is an SSH channel's extended (stderr) data.
	Stderr Kind = 17
	// Input is client-to-server data, kept only when input recording is on.
	Input Kind = 18
	// Resize is a terminal or screen size: see AppendResize.
	Resize Kind = 19
	// Exec is a command line run without a shell (SSH "exec").
	Exec Kind = 20
	// ExitStatus is a command's exit status: see AppendExitStatus.
	ExitStatus Kind = 21
	// Signal is the name of a signal delivered to the remote process.
	Signal Kind = 22
	// Meta is a JSON object of session facts: see Meta.
	Meta Kind = 23
	// Transfer is a JSON object describing a file transfer: see Transfer.
	Transfer Kind = 24
	// ScreenServer is the raw RFB byte stream from the VNC server.
	ScreenServer Kind = 25
	// ScreenClient is the raw RFB byte stream from the VNC client. It is
	// always recorded: the server stream cannot be decoded without the
	// pixel format and encodings the client asked for.
	ScreenClient Kind = 26
	// Marker is a free-text mark on the timeline.
	Marker Kind = 27
)

var kindNames = map[Kind]string{
	KindHeader:     "header",
	KindCheckpoint: "checkpoint",
	KindTrailer:    "trailer",
	Output:         "output",
	Stderr:         "stderr",
	Input:          "input",
	Resize:         "resize",
	Exec:           "exec",
	ExitStatus:     "exit-status",
	Signal:         "signal",
	Meta:           "meta",
	Transfer:       "transfer",
	ScreenServer:   "screen-server",
	ScreenClient:   "screen-client",
	Marker:         "marker",
}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// IsData reports whether k is a kind callers write and readers yield.
func (k Kind) IsData() bool { return k >= Output && k <= Marker }

// isStream reports whether a payload of kind k is a byte stream that may
// be split across records without changing its meaning.
func (k Kind) isStream() bool {
	switch k {
	case Output, Stderr, Input, ScreenServer, ScreenClient:
		return true
	}
	return false
}

// Errors callers branch on.
var (
	// ErrInvalidKind: Write was given a structural or unknown kind.
	ErrInvalidKind = errors.New("invalid record kind")
	// ErrTooLarge: a non-stream payload is larger than MaxPayload.
	ErrTooLarge = errors.New("payload too large")
	// ErrClosed: the writer was closed.
	ErrClosed = errors.New("writer closed")
	// ErrMalformed: bytes that are not a capture, or not one this reader
	// knows.
	ErrMalformed = errors.New("malformed capture")
	// ErrNoCheckpoint: Recover found nothing signed to keep.
	ErrNoCheckpoint = errors.New("no valid checkpoint")
)

// Trailer flags.
const (
	// FlagRecovered marks a trailer written by Recover after a crash.
	FlagRecovered = 1 << 0
	// FlagContinued marks the trailer of a segment sealed because it was
	// full: the session goes on in the next segment. Without it, a
	// session's last segments could be deleted unnoticed.
	FlagContinued = 1 << 1
)

// Header is what a segment's first record says about it.
type Header struct {
	Version      int
	Segment      int // 0, 1, 2, ...
	SessionStart time.Time
	Start        time.Time // this segment's start: record times count from it
	KeyID        [32]byte  // SHA-256 of the signing public key
	Prev         [32]byte  // the previous segment's final hash; zero for segment 0
	SessionID    string
}

func appendHeader(dst []byte, h *Header) []byte {
	dst = binary.AppendUvarint(dst, uint64(h.Version))
	dst = binary.AppendUvarint(dst, uint64(h.Segment))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.SessionStart.UnixNano()))
	dst = binary.BigEndian.AppendUint64(dst, uint64(h.Start.UnixNano()))
	dst = append(dst, h.KeyID[:]...)
	dst = append(dst, h.Prev[:]...)
	dst = binary.AppendUvarint(dst, uint64(len(h.SessionID)))
	return append(dst, h.SessionID...)
}

func decodeHeader(b []byte) (Header, error) {
	var h Header
	d := decoder{b: b}
	h.Version = int(d.uvarint(1 << 16))
	h.Segment = int(d.uvarint(1 << 31))
	h.SessionStart = time.Unix(0, int64(d.uint64()))
	h.Start = time.Unix(0, int64(d.uint64()))
	copy(h.KeyID[:], d.bytes(32))
	copy(h.Prev[:], d.bytes(32))
	h.SessionID = string(d.bytes(int(d.uvarint(maxSessionID))))
	if err := d.end(); err != nil {
		return Header{}, fmt.Errorf("header: %w", err)
	}
	if h.Version != FormatVersion {
		return Header{}, fmt.Errorf("header: version %d: %w", h.Version, ErrMalformed)
	}
	return h, nil
}

// seal is the body of a checkpoint or trailer record.
type seal struct {
	headerHash [32]byte
	count      uint64 // records before this one in the segment
	chain      [32]byte
	offset     uint64 // microseconds since the segment start
	flags      uint64 // trailer only
	tags       []byte // 4 bytes per record since the previous checkpoint
	sig        []byte
}

func appendSealFields(dst []byte, kind Kind, s *seal) []byte {
	dst = append(dst, s.headerHash[:]...)
	dst = binary.AppendUvarint(dst, s.count)
	dst = append(dst, s.chain[:]...)
	dst = binary.AppendUvarint(dst, s.offset)
	if kind == KindTrailer {
		dst = binary.AppendUvarint(dst, s.flags)
	}
	dst = binary.AppendUvarint(dst, uint64(len(s.tags)/4))
	return append(dst, s.tags...)
}

func decodeSeal(kind Kind, b []byte) (seal, error) {
	var s seal
	d := decoder{b: b}
	copy(s.headerHash[:], d.bytes(32))
	s.count = d.uvarint(1 << 62)
	copy(s.chain[:], d.bytes(32))
	s.offset = d.uvarint(1 << 62)
	if kind == KindTrailer {
		s.flags = d.uvarint(1 << 62)
	}
	n := d.uvarint(maxTags)
	s.tags = d.bytes(int(n) * 4)
	s.sig = d.bytes(64)
	if err := d.end(); err != nil {
		return seal{}, fmt.Errorf("%s: %w", kind, err)
	}
	return s, nil
}

// sealMessageLen is the length of the signed message.
const sealMessageLen = len(sealDomain) + 1 + 32 + 8 + 32 + 8 + 8 + 32

const sealDomain = "vigil capture seal v1\x00"

// sealMessage is what a checkpoint or trailer signs: the segment (by its
// header hash), how many records precede the seal, the chain hash after
// them, when, the trailer flags, and a digest of the tags so that the
// localisation hints cannot be forged either.
func sealMessage(dst *[sealMessageLen]byte, kind Kind, s *seal) {
	b := dst[:0]
	b = append(b, sealDomain...)
	b = append(b, byte(kind))
	b = append(b, s.headerHash[:]...)
	b = binary.BigEndian.AppendUint64(b, s.count)
	b = append(b, s.chain[:]...)
	b = binary.BigEndian.AppendUint64(b, s.offset)
	b = binary.BigEndian.AppendUint64(b, s.flags)
	t := sha256.Sum256(s.tags)
	_ = append(b, t[:]...)
}

// decoder reads fields from a record body, remembering the first error.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%s: %w", what, ErrMalformed)
	}
}

func (d *decoder) uvarint(max uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	if v > max {
		d.fail("value out of range")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint64() uint64 {
	b := d.bytes(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (d *decoder) bytes(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.fail("short body")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("trailing bytes")
	}
	return d.err
}

// chainer extends a hash chain, h = SHA-256(h || record), with one
// reusable hasher: no allocation per record.
type chainer struct {
	h   [32]byte
	sum []byte
	dig interface {
		Reset()
		Write([]byte) (int, error)
		Sum([]byte) []byte
	}
}

func newChainer() *chainer {
	return &chainer{dig: sha256.New(), sum: make([]byte, 0, 32)}
}

// add extends the chain with one record's bytes, given in up to two parts.
func (c *chainer) add(a, b []byte) {
	c.dig.Reset()
	c.dig.Write(c.h[:])
	c.dig.Write(a)
	if len(b) > 0 {
		c.dig.Write(b)
	}
	c.sum = c.dig.Sum(c.sum[:0])
	copy(c.h[:], c.sum)
}
