package sdk

import (
	"bytes"
	"io"
	"testing"

	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	storagev1 "github.com/vigilgw/vigil/plugins/sdk/proto/storage/v1"
)

// split cuts b into buffers of at most n bytes, as gRPC may hand a
// message to the codec.
func split(b []byte, n int) mem.BufferSlice {
	var s mem.BufferSlice
	for len(b) > n {
		s = append(s, mem.SliceBuffer(b[:n]))
		b = b[n:]
	}
	return append(s, mem.SliceBuffer(b))
}

// TestStorageCodecMatchesGeneratedCode: a chunk the host's codec writes is
// a PutRequest to the proto codec, and the plugin's codec reads every
// PutRequest the proto codec writes, however gRPC cut it into buffers.
func TestStorageCodecMatchesGeneratedCode(t *testing.T) {
	c := storageCodec{}
	content := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320000 bytes: a 3-byte length

	data, err := c.Marshal(&putChunkMsg{data: mem.SliceBuffer(content)})
	if err != nil {
		t.Fatal(err)
	}
	var viaProto storagev1.PutRequest
	if err := proto.Unmarshal(data.Materialize(), &viaProto); err != nil || !bytes.Equal(viaProto.GetChunk(), content) {
		t.Fatalf("proto read %d chunk bytes (%v), want %d", len(viaProto.GetChunk()), err, len(content))
	}

	chunk := func(b []byte) *storagev1.PutRequest {
		return &storagev1.PutRequest{Msg: &storagev1.PutRequest_Chunk{Chunk: b}}
	}
	header := &storagev1.PutRequest{Msg: &storagev1.PutRequest_Header{Header: &storagev1.PutHeader{Key: "k", Size: 3}}}
	withUnknown, err := proto.Marshal(chunk([]byte("abc")))
	if err != nil {
		t.Fatal(err)
	}
	withUnknown = protowire.AppendVarint(protowire.AppendTag(withUnknown, 99, protowire.VarintType), 7)
	for _, tc := range []struct {
		name      string
		wire      func() []byte
		wantChunk []byte // read through putContent
		wantReq   bool   // decoded by the proto codec instead
	}{
		{"chunk", func() []byte { b, _ := proto.Marshal(chunk(content)); return b }, content, false},
		{"small chunk", func() []byte { b, _ := proto.Marshal(chunk([]byte("x"))); return b }, []byte("x"), false},
		{"empty chunk", func() []byte { b, _ := proto.Marshal(chunk([]byte{})); return b }, nil, false},
		{"header", func() []byte { b, _ := proto.Marshal(header); return b }, nil, true},
		{"chunk and an unknown field", func() []byte { return withUnknown }, []byte("abc"), true},
	} {
		for _, n := range []int{1, 2, 1000, 1 << 20} {
			var m putContent
			if err := c.Unmarshal(split(tc.wire(), n), &m); err != nil {
				t.Fatalf("%s in %d-byte buffers: %v", tc.name, n, err)
			}
			if (m.req != nil) != tc.wantReq {
				t.Fatalf("%s in %d-byte buffers: decoded by the proto codec: %v, want %v", tc.name, n, m.req != nil, tc.wantReq)
			}
			got, _ := io.ReadAll(&m.chunk)
			if m.req != nil {
				got = m.req.GetChunk()
			}
			if !bytes.Equal(got, tc.wantChunk) {
				t.Fatalf("%s in %d-byte buffers: read %d chunk bytes, want %d", tc.name, n, len(got), len(tc.wantChunk))
			}
			if tc.name == "header" && !proto.Equal(m.req, header) {
				t.Fatalf("header read as %v", m.req)
			}
			m.chunk.Close()
		}
	}

	// Truncated messages are errors, not short chunks.
	full, _ := proto.Marshal(chunk(content))
	for _, cut := range []int{1, 2, 3, len(full) - 1} {
		var m putContent
		if err := c.Unmarshal(split(full[:cut], 1000), &m); err == nil {
			t.Fatalf("a chunk message cut to %d bytes was accepted", cut)
		}
	}

	// Other messages pass through to the proto codec.
	data, err = c.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	var back storagev1.PutRequest
	if err := c.Unmarshal(data, &back); err != nil || !proto.Equal(&back, header) {
		t.Fatalf("codec read %v (%v), want %v", &back, err, header)
	}
}
