package sdk

import (
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	storagev1 "github.com/vigilgw/vigil/plugins/sdk/proto/storage/v1"
)

// putChunkTag starts a PutRequest that carries a chunk (storage.proto:
// PutRequest.chunk, field 2, bytes); it fits one byte.
var putChunkTag = byte(protowire.EncodeTag(2, protowire.BytesType))

// storageCodec is the gRPC codec of the storage kind on both sides, for
// the content messages of a Put; every other message goes to gRPC's proto
// codec. What it writes is plain protobuf, so a peer using the proto codec
// reads it, and the other way round.
//
// The host sends a chunk as a putChunkMsg: the buffer the content was read
// into goes to gRPC as it is, and back to contentPool once gRPC wrote it.
// The plugin reads a chunk into a putContent, which leaves the bytes in
// gRPC's own buffers until the implementation reads them. The proto codec
// would, on each side, take a cleared buffer or a new slice for every
// chunk and copy the chunk into it.
type storageCodec struct{}

var _ encoding.CodecV2 = storageCodec{}

// Name is the proto codec's: the content-subtype stays "proto".
func (storageCodec) Name() string { return grpcproto.Name }

func (storageCodec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(*putChunkMsg)
	if !ok {
		return protoCodec.Marshal(v)
	}
	hdr := protowire.AppendVarint(append(make([]byte, 0, 16), putChunkTag), uint64(m.data.Len()))
	return mem.BufferSlice{mem.SliceBuffer(hdr), m.data}, nil
}

func (storageCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*putContent)
	if !ok {
		return protoCodec.Unmarshal(data, v)
	}
	m.req = nil
	m.chunk.Reset(data)
	if lone, err := loneChunk(&m.chunk); err == nil && lone {
		return nil
	}
	// Anything but a chunk alone (a header, unknown fields): the proto
	// codec decodes it whole.
	m.chunk.Close()
	req := &storagev1.PutRequest{}
	if err := protoCodec.Unmarshal(data, req); err != nil {
		return err
	}
	m.req = req
	return nil
}

// loneChunk reads the start of a PutRequest and reports whether it is the
// chunk field and nothing else; r is then at the chunk's first byte.
func loneChunk(r *mem.Reader) (bool, error) {
	tag, err := r.ReadByte()
	if err != nil || tag != putChunkTag {
		return false, err
	}
	var n uint64
	for shift := uint(0); shift < 64; shift += 7 {
		c, err := r.ReadByte()
		if err != nil {
			return false, err
		}
		n |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return n == uint64(r.Remaining()), nil
		}
	}
	return false, fmt.Errorf("sdk: storage put: chunk length: %w", protowire.ParseError(-1))
}

// putChunkMsg is a PutRequest carrying a chunk, as the host sends it: data
// is gRPC's to free once sent.
type putChunkMsg struct{ data mem.Buffer }

// contentPool keeps the buffers the host reads Put content into. They are
// not cleared: each is filled before it is sent.
var contentPool mem.BufferPool = &bytesPool{}

// putContent is one content message of a Put as storageCodec decodes it:
// a chunk whose bytes chunk reads (and gives back to gRPC as it goes), or
// any other message in req.
type putContent struct {
	chunk mem.Reader
	req   *storagev1.PutRequest
}

// storageServerOptions are added to the gRPC server of a storage plugin,
// and storageDialOptions to the host's connection to it. (Fixed, larger
// flow-control windows and I/O buffers, as logformat has, made no
// measurable difference to a Put.)
func storageServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.ForceServerCodecV2(storageCodec{})}
}

func storageDialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.ForceCodecV2(storageCodec{}))}
}
