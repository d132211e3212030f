package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/mem"

	commonv1 "github.com/vigilgw/vigil/plugins/sdk/proto/common/v1"
	storagev1 "github.com/vigilgw/vigil/plugins/sdk/proto/storage/v1"
)

// StoragePlugin is go-plugin's glue for the storage kind at API version 1.
// Impl is set on the plugin side only.
type StoragePlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Storage
}

var _ plugin.GRPCPlugin = (*StoragePlugin)(nil)

// GRPCServer registers the plugin's implementation.
func (p *StoragePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	storagev1.RegisterStorageServer(s, &storageServer{impl: p.Impl, files: storageInbox.Load()})
	return nil
}

// GRPCClient returns the host side: an sdk.Storage.
func (p *StoragePlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	c := storagev1.NewStorageClient(cc)
	return &storageClient{
		clientBase: clientBase{kind: KindStorage, done: ctx, info: c.Info, configure: c.Configure},
		c:          c,
	}, nil
}

func objectInfoToProto(o ObjectInfo) *storagev1.ObjectInfo {
	p := &storagev1.ObjectInfo{
		Key: o.Key, Size: o.Size, ContentType: o.ContentType, Sha256: o.SHA256, Metadata: o.Metadata,
	}
	if !o.ModTime.IsZero() {
		p.ModTime = timeToProto(o.ModTime)
	}
	return p
}

func objectInfoFromProto(p *storagev1.ObjectInfo) ObjectInfo {
	return ObjectInfo{
		Key:         p.GetKey(),
		Size:        p.GetSize(),
		ModTime:     timeFromProto(p.GetModTime()),
		ContentType: p.GetContentType(),
		SHA256:      p.GetSha256(),
		Metadata:    p.GetMetadata(),
	}
}

// storageServer is the plugin side.
type storageServer struct {
	storagev1.UnimplementedStorageServer
	impl  Storage
	files *fileInbox // the files the host passes; nil without side channels
}

func (s *storageServer) Info(ctx context.Context, _ *commonv1.InfoRequest) (*commonv1.InfoResponse, error) {
	return serveInfo(ctx, s.impl)
}

func (s *storageServer) Configure(ctx context.Context, req *commonv1.ConfigureRequest) (*commonv1.ConfigureResponse, error) {
	return serveConfigure(ctx, s.impl, req)
}

func (s *storageServer) Put(stream grpc.ClientStreamingServer[storagev1.PutRequest, storagev1.PutResponse]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	h := first.GetHeader()
	if h == nil {
		return toStatus(errors.New("sdk: storage put: the stream did not start with a header"))
	}
	opts := PutOptions{ContentType: h.GetContentType(), Metadata: h.GetMetadata(), SHA256: h.GetSha256()}
	var info ObjectInfo
	if tok := h.GetFileToken(); tok != 0 {
		info, err = s.putFile(stream.Context(), h, opts)
	} else {
		r := &putReader{stream: stream}
		defer r.close()
		info, err = s.impl.Put(stream.Context(), h.GetKey(), r, h.GetSize(), opts)
	}
	if err != nil {
		return toStatus(err)
	}
	return stream.SendAndClose(&storagev1.PutResponse{Info: objectInfoToProto(info)})
}

// putFile is a Put whose content is a file the host passed on the side
// channel: the implementation reads it where it lies, and it is closed
// once the Put is over.
func (s *storageServer) putFile(ctx context.Context, h *storagev1.PutHeader, opts PutOptions) (ObjectInfo, error) {
	if s.files == nil {
		return ObjectInfo{}, errors.New("sdk: storage put: content passed as a file, but the plugin has no side channel")
	}
	f, err := s.files.claim(ctx, h.GetFileToken())
	if err != nil {
		return ObjectInfo{}, err
	}
	content, err := openFileContent(f, h.GetFileOffset(), h.GetSize())
	if err != nil {
		f.Close()
		return ObjectInfo{}, err
	}
	defer content.close()
	return s.impl.Put(ctx, h.GetKey(), content, h.GetSize(), opts)
}

// putReader is the content of a Put as the plugin's implementation reads
// it. Only the client's CloseSend ends it with io.EOF: a client that gives
// up cancels the call, and the implementation sees an error, so it never
// commits a partial object. Chunks are read straight out of gRPC's buffers
// (storageCodec); close gives back what the implementation left unread.
type putReader struct {
	stream grpc.ClientStreamingServer[storagev1.PutRequest, storagev1.PutResponse]
	msg    putContent
	buf    []byte // a chunk the proto codec decoded
	err    error
}

func (r *putReader) Read(p []byte) (int, error) {
	for {
		if r.msg.chunk.Remaining() > 0 {
			return r.msg.chunk.Read(p)
		}
		if len(r.buf) > 0 {
			n := copy(p, r.buf)
			r.buf = r.buf[n:]
			return n, nil
		}
		if r.err != nil {
			return 0, r.err
		}
		err := r.stream.RecvMsg(&r.msg)
		switch {
		case errors.Is(err, io.EOF):
			r.err = io.EOF
		case err != nil:
			r.err = fmt.Errorf("sdk: storage put: content stream ended early: %w", err)
		case r.msg.req == nil:
		case r.msg.req.GetHeader() != nil:
			r.err = errors.New("sdk: storage put: a second header in the content stream")
		default:
			r.buf = r.msg.req.GetChunk()
		}
	}
}

func (r *putReader) close() { r.msg.chunk.Close() }

func (s *storageServer) Get(req *storagev1.GetRequest, stream grpc.ServerStreamingServer[storagev1.GetResponse]) error {
	rc, info, err := s.impl.Get(stream.Context(), req.GetKey(), req.GetOffset(), req.GetLength())
	if err != nil {
		return toStatus(err)
	}
	defer rc.Close()
	if err := stream.Send(&storagev1.GetResponse{Msg: &storagev1.GetResponse_Info{Info: objectInfoToProto(info)}}); err != nil {
		return err
	}
	buf := getChunk()
	defer putChunk(buf)
	chunk := &storagev1.GetResponse_Chunk{}
	msg := &storagev1.GetResponse{Msg: chunk}
	for {
		n, rerr := io.ReadFull(rc, buf)
		if n > 0 {
			chunk.Chunk = buf[:n]
			if err := stream.Send(msg); err != nil {
				return err
			}
		}
		switch {
		case rerr == nil:
		case errors.Is(rerr, io.EOF), errors.Is(rerr, io.ErrUnexpectedEOF):
			return nil
		default:
			return toStatus(rerr)
		}
	}
}

func (s *storageServer) Head(ctx context.Context, req *storagev1.HeadRequest) (*storagev1.HeadResponse, error) {
	info, err := s.impl.Head(ctx, req.GetKey())
	if err != nil {
		return nil, toStatus(err)
	}
	return &storagev1.HeadResponse{Info: objectInfoToProto(info)}, nil
}

func (s *storageServer) List(req *storagev1.ListRequest, stream grpc.ServerStreamingServer[storagev1.ListResponse]) error {
	objs, err := s.impl.List(stream.Context(), req.GetPrefix())
	if err != nil {
		return toStatus(err)
	}
	for start := 0; start < len(objs); start += listPageSize {
		page := &storagev1.ListResponse{}
		for _, o := range objs[start:min(start+listPageSize, len(objs))] {
			page.Objects = append(page.Objects, objectInfoToProto(o))
		}
		if err := stream.Send(page); err != nil {
			return err
		}
	}
	return nil
}

func (s *storageServer) Delete(ctx context.Context, req *storagev1.DeleteRequest) (*storagev1.DeleteResponse, error) {
	if err := s.impl.Delete(ctx, req.GetKey()); err != nil {
		return nil, toStatus(err)
	}
	return &storagev1.DeleteResponse{}, nil
}

func (s *storageServer) Presign(ctx context.Context, req *storagev1.PresignRequest) (*storagev1.PresignResponse, error) {
	url, err := s.impl.Presign(ctx, req.GetKey(), req.GetMethod(), time.Duration(req.GetExpiryNanos()))
	if err != nil {
		return nil, toStatus(err)
	}
	return &storagev1.PresignResponse{Url: url}, nil
}

// storageClient is the host side.
type storageClient struct {
	clientBase
	c     storagev1.StorageClient
	files atomic.Pointer[fileSender] // the side channel; nil without one
}

var _ sideChannelUser = (*storageClient)(nil)

// useSideChannels passes the content of Puts that is a file on the first
// side channel (storage_side.go).
func (c *storageClient) useSideChannels(conns []*net.UnixConn) {
	c.files.Store(newFileSender(conns[0]))
}

var _ Storage = (*storageClient)(nil)

// chunkPool holds the buffers that Get streams content through.
// One buffer serves a whole call: Send has encoded the message into gRPC's
// own buffers by the time it returns, and no stats handler or binary log,
// which could read a message after Send, is ever installed on these
// connections.
var chunkPool = sync.Pool{New: func() any { return new([chunkSize]byte) }}

func getChunk() []byte { return chunkPool.Get().(*[chunkSize]byte)[:] }

func putChunk(b []byte) { chunkPool.Put((*[chunkSize]byte)(b)) }

// wireKey refuses, before anything is sent, a key the wire cannot carry
// (proto3 strings are UTF-8). Every other rule is the plugin's to enforce.
func wireKey(op, key string) error {
	if !utf8.ValidString(key) {
		return fmt.Errorf("sdk: storage %s: key %q is not valid UTF-8: %w", op, key, ErrInvalidKey)
	}
	return nil
}

func (c *storageClient) Put(ctx context.Context, key string, r io.Reader, size int64, opts PutOptions) (ObjectInfo, error) {
	if err := wireKey("put", key); err != nil {
		return ObjectInfo{}, err
	}
	op := fmt.Sprintf("storage put %q", key)
	header := &storagev1.PutHeader{
		Key: key, Size: size, ContentType: opts.ContentType, Metadata: opts.Metadata, Sha256: opts.SHA256,
	}
	if fs := c.files.Load(); fs != nil {
		if f, off, ok := passableFile(r, size); ok {
			if tok, err := fs.send(f); err == nil {
				header.FileToken, header.FileOffset = tok, off
				info, err := c.put(ctx, op, header, nil)
				if err != nil {
					return ObjectInfo{}, err
				}
				// Where reading the content would have left it.
				if _, err := f.Seek(off+size, io.SeekStart); err != nil {
					return ObjectInfo{}, fmt.Errorf("sdk: %s: %w", op, err)
				}
				return info, nil
			}
			// The plugin is gone or going: streaming says how.
		}
	}
	return c.put(ctx, op, header, r)
}

// put makes the Put call: the header, then r's content in chunks (none
// when r is nil: the header names a passed file).
func (c *storageClient) put(ctx context.Context, op string, header *storagev1.PutHeader, r io.Reader) (ObjectInfo, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.c.Put(ctx)
	if err != nil {
		return ObjectInfo{}, callError(op, fromStatus(ctx, c.done, err))
	}
	if err := stream.Send(&storagev1.PutRequest{Msg: &storagev1.PutRequest_Header{Header: header}}); err != nil {
		return ObjectInfo{}, c.putFailed(ctx, op, stream, err)
	}
	for r != nil {
		buf := contentPool.Get(chunkSize)
		n, rerr := io.ReadFull(r, *buf)
		if n > 0 {
			*buf = (*buf)[:n]
			if err := stream.SendMsg(&putChunkMsg{data: mem.NewBuffer(buf, contentPool)}); err != nil {
				return ObjectInfo{}, c.putFailed(ctx, op, stream, err)
			}
		} else {
			contentPool.Put(buf)
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			// Cancelling, not closing, the stream tells the plugin the
			// content is incomplete: it must not commit.
			cancel()
			return ObjectInfo{}, fmt.Errorf("sdk: %s: read content: %w", op, rerr)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		return ObjectInfo{}, callError(op, fromStatus(ctx, c.done, err))
	}
	return objectInfoFromProto(resp.GetInfo()), nil
}

// putFailed reports a Put whose Send failed: io.EOF there means the plugin
// ended the call, and its status says why.
func (c *storageClient) putFailed(ctx context.Context, op string, stream grpc.ClientStreamingClient[storagev1.PutRequest, storagev1.PutResponse], err error) error {
	if errors.Is(err, io.EOF) {
		_, err = stream.CloseAndRecv()
	}
	return callError(op, fromStatus(ctx, c.done, err))
}

func (c *storageClient) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, ObjectInfo, error) {
	if err := wireKey("get", key); err != nil {
		return nil, ObjectInfo{}, err
	}
	op := fmt.Sprintf("storage get %q", key)
	ctx, cancel := context.WithCancel(ctx)
	stream, err := c.c.Get(ctx, &storagev1.GetRequest{Key: key, Offset: offset, Length: length})
	if err != nil {
		cancel()
		return nil, ObjectInfo{}, callError(op, fromStatus(ctx, c.done, err))
	}
	first, err := stream.Recv()
	if err != nil {
		cancel()
		return nil, ObjectInfo{}, callError(op, fromStatus(ctx, c.done, err))
	}
	if first.GetInfo() == nil {
		cancel()
		return nil, ObjectInfo{}, fmt.Errorf("sdk: %s: the plugin sent content before the object's info", op)
	}
	return &getReader{ctx: ctx, done: c.done, op: op, stream: stream, cancel: cancel}, objectInfoFromProto(first.GetInfo()), nil
}

// getReader reads the chunks of a Get. Close ends the call.
type getReader struct {
	ctx    context.Context
	done   context.Context
	op     string
	stream grpc.ServerStreamingClient[storagev1.GetResponse]
	cancel context.CancelFunc
	buf    []byte
	err    error
}

func (r *getReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		msg, err := r.stream.Recv()
		switch {
		case errors.Is(err, io.EOF):
			r.err = io.EOF
		case err != nil:
			r.err = callError(r.op, fromStatus(r.ctx, r.done, err))
		default:
			r.buf = msg.GetChunk()
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *getReader) Close() error {
	r.cancel()
	return nil
}

func (c *storageClient) Head(ctx context.Context, key string) (ObjectInfo, error) {
	if err := wireKey("head", key); err != nil {
		return ObjectInfo{}, err
	}
	resp, err := c.c.Head(ctx, &storagev1.HeadRequest{Key: key})
	if err != nil {
		return ObjectInfo{}, callError(fmt.Sprintf("storage head %q", key), fromStatus(ctx, c.done, err))
	}
	return objectInfoFromProto(resp.GetInfo()), nil
}

func (c *storageClient) List(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	if err := wireKey("list", prefix); err != nil {
		return nil, err
	}
	op := fmt.Sprintf("storage list %q", prefix)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.c.List(ctx, &storagev1.ListRequest{Prefix: prefix})
	if err != nil {
		return nil, callError(op, fromStatus(ctx, c.done, err))
	}
	objs := []ObjectInfo{}
	for {
		page, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, callError(op, fromStatus(ctx, c.done, err))
		}
		for _, o := range page.GetObjects() {
			objs = append(objs, objectInfoFromProto(o))
		}
	}
}

func (c *storageClient) Delete(ctx context.Context, key string) error {
	if err := wireKey("delete", key); err != nil {
		return err
	}
	if _, err := c.c.Delete(ctx, &storagev1.DeleteRequest{Key: key}); err != nil {
		return callError(fmt.Sprintf("storage delete %q", key), fromStatus(ctx, c.done, err))
	}
	return nil
}

func (c *storageClient) Presign(ctx context.Context, key, method string, expiry time.Duration) (string, error) {
	if err := wireKey("presign", key); err != nil {
		return "", err
	}
	resp, err := c.c.Presign(ctx, &storagev1.PresignRequest{Key: key, Method: method, ExpiryNanos: int64(expiry)})
	if err != nil {
		return "", callError(fmt.Sprintf("storage presign %q", key), fromStatus(ctx, c.done, err))
	}
	return resp.GetUrl(), nil
}
