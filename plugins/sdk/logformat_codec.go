package sdk

import (
	"fmt"
	"slices"
	"sync"

	"github.com/klauspost/compress/s2"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	logformatv1 "github.com/vigilgw/vigil/plugins/sdk/proto/logformat/v1"
)

// Field numbers of the Format call's messages (logformat.proto).
const (
	requestEvents   protowire.Number = 1 // FormatRequest.events
	responseLines   protowire.Number = 1 // FormatResponse.lines
	responseLengths protowire.Number = 2 // FormatResponse.line_lengths
	requestSnappy   protowire.Number = 2 // FormatRequest.events_snappy
	responseSnappy  protowire.Number = 3 // FormatResponse.lines_snappy
)

// formatCodec is the gRPC codec of the Format call on both sides: it
// marshals and unmarshals FormatRequest and FormatResponse itself and
// leaves every other message to gRPC's proto codec. What it writes is plain
// protobuf, so a peer using the proto codec reads it, and the other way
// round; what it saves is the proto codec's copies of a few hundred KiB a
// call, into pool buffers of 1 MiB that gRPC clears each time.
//
// Marshalling hands gRPC the messages' byte fields as they are: the host
// reuses its request buffer only once the call returned, when gRPC has sent
// the request whole, and a plugin's response buffers go back to linesPool
// when gRPC frees them. Unmarshalling copies the message once out of gRPC's
// buffers and points the byte fields into that copy, which is the message's
// own.
type formatCodec struct{}

var (
	_          encoding.CodecV2 = formatCodec{}
	protoCodec                  = encoding.GetCodecV2(grpcproto.Name)
)

// Name is the proto codec's: the content-subtype stays "proto".
func (formatCodec) Name() string { return grpcproto.Name }

func (formatCodec) Marshal(v any) (mem.BufferSlice, error) {
	switch m := v.(type) {
	case *logformatv1.FormatRequest:
		out := appendBytesField(nil, requestEvents, mem.SliceBuffer(m.GetEvents()))
		return appendBytesField(out, requestSnappy, mem.SliceBuffer(m.GetEventsSnappy())), nil
	case *logformatv1.FormatResponse:
		out := appendBytesField(nil, responseLines, mem.NewBuffer(&m.Lines, linesPool))
		if lengths := m.GetLineLengths(); len(lengths) > 0 {
			packed := 0
			for _, l := range lengths {
				packed += protowire.SizeVarint(uint64(l))
			}
			b := protowire.AppendTag(make([]byte, 0, 16+packed), responseLengths, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(packed))
			for _, l := range lengths {
				b = appendVarint(b, uint64(l))
			}
			out = append(out, mem.SliceBuffer(b))
		}
		return appendBytesField(out, responseSnappy, mem.NewBuffer(&m.LinesSnappy, linesPool)), nil
	}
	return protoCodec.Marshal(v)
}

// appendBytesField appends to out the bytes field num holding value, or
// nothing when value is empty.
func appendBytesField(out mem.BufferSlice, num protowire.Number, value mem.Buffer) mem.BufferSlice {
	if value.Len() == 0 {
		value.Free()
		return out
	}
	hdr := protowire.AppendTag(make([]byte, 0, 16), num, protowire.BytesType)
	hdr = protowire.AppendVarint(hdr, uint64(value.Len()))
	return append(out, mem.SliceBuffer(hdr), value)
}

func (formatCodec) Unmarshal(data mem.BufferSlice, v any) error {
	switch m := v.(type) {
	case *logformatv1.FormatRequest:
		m.Reset()
		if err := unmarshalRequest(m, data.Materialize()); err != nil {
			return fmt.Errorf("format request: %w: %v", errMalformed, err)
		}
		return nil
	case *logformatv1.FormatResponse:
		m.Reset()
		if err := unmarshalResponse(m, data.Materialize()); err != nil {
			return fmt.Errorf("format response: %w: %v", errMalformed, err)
		}
		return nil
	}
	return protoCodec.Unmarshal(data, v)
}

func unmarshalRequest(m *logformatv1.FormatRequest, b []byte) error {
	return eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		switch {
		case typ == protowire.BytesType && num == requestEvents:
			m.Events = v
		case typ == protowire.BytesType && num == requestSnappy:
			m.EventsSnappy = v
		}
		return nil
	})
}

func unmarshalResponse(m *logformatv1.FormatResponse, b []byte) error {
	return eachField(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case typ == protowire.BytesType && num == responseLines:
			m.Lines = v
		case typ == protowire.BytesType && num == responseSnappy:
			m.LinesSnappy = v
		case typ == protowire.BytesType && num == responseLengths: // packed
			m.LineLengths = slices.Grow(m.LineLengths, varintCount(v))
			for len(v) > 0 {
				l, n := protowire.ConsumeVarint(v)
				if n < 0 {
					return protowire.ParseError(n)
				}
				m.LineLengths = append(m.LineLengths, uint32(l))
				v = v[n:]
			}
		case typ == protowire.VarintType && num == responseLengths: // not packed
			m.LineLengths = append(m.LineLengths, uint32(x))
		}
		return nil
	})
}

// varintCount is how many varints b holds, if it holds only varints.
func varintCount(b []byte) int {
	n := 0
	for _, c := range b {
		if c < 0x80 {
			n++
		}
	}
	return n
}

// linesPool keeps the buffers a plugin joins and compresses lines into, for
// the next responses: a batch's lines are its largest allocation by far.
var linesPool mem.BufferPool = &bytesPool{}

// bytesPool is a mem.BufferPool that, unlike gRPC's own, does not clear
// what it hands out: every user here overwrites it whole.
type bytesPool struct{ pool sync.Pool }

func (p *bytesPool) Get(size int) *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok && cap(*b) >= size {
		*b = (*b)[:size]
		return b
	}
	b := make([]byte, size)
	return &b
}

func (p *bytesPool) Put(b *[]byte) { p.pool.Put(b) }

// joinLines puts lines one after the other into one buffer from linesPool,
// as FormatResponse.lines carries them, and returns their lengths.
func joinLines(lines [][]byte) ([]byte, []uint32) {
	total := 0
	for _, l := range lines {
		total += len(l)
	}
	buf := (*linesPool.Get(total))[:0]
	lengths := make([]uint32, len(lines))
	for i, l := range lines {
		buf = append(buf, l...)
		lengths[i] = uint32(len(l))
	}
	return buf, lengths
}

// compressLines returns lines compressed for FormatResponse.lines_snappy,
// in a buffer from linesPool, or false when that is not worth it.
func compressLines(lines []byte) ([]byte, bool) {
	if len(lines) < minCompressed {
		return nil, false
	}
	dst := linesPool.Get(s2.MaxEncodedLen(len(lines)))
	z, ok := compressSnappy(*dst, lines)
	if !ok {
		linesPool.Put(dst)
	}
	return z, ok
}

// compressSnappy compresses src in Snappy's block format, into dst if it
// is large enough, and reports whether that was worth it: src is long
// enough, and shrank by an eighth at least. Snappy is the format every
// language has a library for; s2 writes it fast.
func compressSnappy(dst, src []byte) ([]byte, bool) {
	if len(src) < minCompressed {
		return nil, false
	}
	z := s2.EncodeSnappy(dst[:cap(dst)], src)
	if len(z) > len(src)-len(src)/8 {
		return nil, false
	}
	return z, true
}

// minCompressed is the least number of bytes worth compressing.
const minCompressed = 4 << 10

// decompressSnappy undoes compressSnappy into a new buffer, refusing more
// than max bytes: what the message could have carried uncompressed.
func decompressSnappy(z []byte, max int) ([]byte, error) {
	n, err := s2.DecodedLen(z)
	if err != nil {
		return nil, err
	}
	if n > max {
		return nil, fmt.Errorf("%d bytes uncompressed, more than the %d a message may carry", n, max)
	}
	return s2.Decode(make([]byte, n), z)
}

// splitLines is joinLines undone: it stores in dst one line per length,
// each a slice of buf whose capacity ends where the line does, so that
// appending to one never overwrites the next.
func splitLines(dst [][]byte, buf []byte, lengths []uint32) error {
	if len(lengths) != len(dst) {
		return fmt.Errorf("plugin returned %d lines for %d events", len(lengths), len(dst))
	}
	off := 0
	for i, n := range lengths {
		end := off + int(n)
		if end > len(buf) {
			return fmt.Errorf("plugin's line lengths add up to more than the %d bytes of lines", len(buf))
		}
		dst[i] = buf[off:end:end]
		off = end
	}
	if off != len(buf) {
		return fmt.Errorf("plugin's line lengths add up to %d bytes, lines holds %d", off, len(buf))
	}
	return nil
}
