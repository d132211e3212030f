package sdk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/vigilgw/vigil/plugins/sdk/event"
	commonv1 "github.com/vigilgw/vigil/plugins/sdk/proto/common/v1"
	logformatv1 "github.com/vigilgw/vigil/plugins/sdk/proto/logformat/v1"
)

// LogFormatPlugin is go-plugin's glue for the logformat kind at API
// version 1. Impl is set on the plugin side only.
type LogFormatPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl LogFormatter
}

var _ plugin.GRPCPlugin = (*LogFormatPlugin)(nil)

// GRPCServer registers the plugin's implementation.
func (p *LogFormatPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	logformatv1.RegisterLogFormatServer(s, &logFormatServer{impl: p.Impl})
	return nil
}

// GRPCClient returns the host side: an sdk.LogFormatter.
func (p *LogFormatPlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	c := logformatv1.NewLogFormatClient(cc)
	return &logFormatClient{
		clientBase: clientBase{kind: KindLogFormat, done: ctx, info: c.Info, configure: c.Configure},
		c:          c,
	}, nil
}

// logFormatServerOptions are added to the gRPC server of a logformat
// plugin, and logFormatDialOptions to the host's connection to it: the
// Format call's codec, which leaves every other message to the proto codec,
// and the transport settings for its few calls of up to formatBatchBytes.
// Fixed flow-control windows as large as a call let it through without
// waiting for window updates, and also switch off gRPC's bandwidth probing,
// whose pings would otherwise cost each call more frames and wake-ups;
// larger buffers cut the writes and reads per call.
func logFormatServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ForceServerCodecV2(formatCodec{}),
		grpc.InitialWindowSize(formatWindow),
		grpc.InitialConnWindowSize(formatWindow),
		grpc.ReadBufferSize(formatIOBuffer),
		grpc.WriteBufferSize(formatIOBuffer),
	}
}

func logFormatDialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithInitialWindowSize(formatWindow),
		grpc.WithInitialConnWindowSize(formatWindow),
		grpc.WithReadBufferSize(formatIOBuffer),
		grpc.WithWriteBufferSize(formatIOBuffer),
	}
}

const (
	formatWindow   = 2 * formatBatchBytes
	formatIOBuffer = 256 << 10
)

type logFormatServer struct {
	logformatv1.UnimplementedLogFormatServer
	impl LogFormatter
}

func (s *logFormatServer) Info(ctx context.Context, _ *commonv1.InfoRequest) (*commonv1.InfoResponse, error) {
	return serveInfo(ctx, s.impl)
}

func (s *logFormatServer) Configure(ctx context.Context, req *commonv1.ConfigureRequest) (*commonv1.ConfigureResponse, error) {
	return serveConfigure(ctx, s.impl, req)
}

func (s *logFormatServer) Format(ctx context.Context, req *logformatv1.FormatRequest) (*logformatv1.FormatResponse, error) {
	batch := req.GetEvents()
	if z := req.GetEventsSnappy(); len(z) > 0 {
		var err error
		if batch, err = decompressSnappy(z, maxMessageSize); err != nil {
			return nil, status.Error(codes.InvalidArgument, "sdk: logformat format: events_snappy: "+err.Error())
		}
	}
	events, err := decodeEventBatch(batch)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, "sdk: logformat format: "+err.Error())
	}
	lines, err := s.impl.Format(ctx, events)
	if err != nil {
		return nil, toStatus(err)
	}
	buf, lengths := joinLines(lines)
	resp := &logformatv1.FormatResponse{Lines: buf, LineLengths: lengths}
	if z, ok := compressLines(buf); ok {
		linesPool.Put(&buf)
		resp.Lines, resp.LinesSnappy = nil, z
	}
	return resp, nil
}

type logFormatClient struct {
	clientBase
	c     logformatv1.LogFormatClient
	lanes *formatLanes // nil: every call goes over gRPC
}

var (
	_ LogFormatter    = (*logFormatClient)(nil)
	_ sideChannelUser = (*logFormatClient)(nil)
)

// useSideChannels makes conns the client's lanes (logformat_side.go).
func (c *logFormatClient) useSideChannels(conns []*net.UnixConn) {
	c.lanes = newFormatLanes(conns)
}

// Format formats on the plugin's lanes (formatOnLanes) when it has any
// left, and over gRPC otherwise. Over gRPC it sends a large batch in a few
// parts at once, so that the host encodes and decodes, and the plugin
// formats, on as many cores as there are; each part goes in calls of up to
// formatBatchBytes. The lines come back in order, one per event; if a call
// fails, Format cancels the others and returns the first failure.
func (c *logFormatClient) Format(ctx context.Context, events []event.Event) ([][]byte, error) {
	lines := make([][]byte, len(events))
	if len(events) == 0 {
		return lines, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, callError("logformat format", err)
	}
	if c.lanes != nil {
		switch err := c.formatOnLanes(ctx, events, lines); {
		case err == nil:
			return lines, nil
		case !errors.Is(err, errNoLane):
			return nil, err
		}
	}
	parts := formatParts(len(events))
	if parts == 1 {
		if err := c.formatOverGRPC(ctx, events, lines); err != nil {
			return nil, err
		}
		return lines, nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for i := range parts {
		lo, hi := i*len(events)/parts, (i+1)*len(events)/parts
		wg.Go(func() {
			if err := c.formatOverGRPC(ctx, events[lo:hi], lines[lo:hi]); err != nil {
				once.Do(func() {
					first = err
					cancel()
				})
			}
		})
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return lines, nil
}

// formatParts is how many parts Format splits a batch of n events into:
// one per core, but none smaller than minFormatPart events.
func formatParts(n int) int {
	return max(1, min(runtime.GOMAXPROCS(0), n/minFormatPart))
}

// minFormatPart is the fewest events worth a call of their own.
const minFormatPart = 64

// formatOverGRPC formats events into lines (as many), in gRPC calls of up
// to formatBatchBytes each.
func (c *logFormatClient) formatOverGRPC(ctx context.Context, events []event.Event, lines [][]byte) error {
	buf := requestBuffers.Get().(*requestBuffer)
	for start := 0; start < len(events); {
		b, n := appendBatch(buf.events[:0], events[start:])
		end := start + n
		buf.events = b
		req := &logformatv1.FormatRequest{Events: b}
		if z, ok := compressSnappy(buf.snappy, b); ok {
			buf.snappy = z
			req = &logformatv1.FormatRequest{EventsSnappy: z}
		}
		resp, err := c.c.Format(ctx, req, grpc.ForceCodecV2(formatCodec{}))
		if err != nil {
			// gRPC may still hold the buffer: leave it to the collector.
			return callError("logformat format", fromStatus(ctx, c.done, err))
		}
		text := resp.GetLines()
		if z := resp.GetLinesSnappy(); len(z) > 0 {
			if text, err = decompressSnappy(z, maxMessageSize); err != nil {
				return fmt.Errorf("sdk: logformat format: lines_snappy: %w", err)
			}
		}
		if err := splitLines(lines[start:end], text, resp.GetLineLengths()); err != nil {
			return fmt.Errorf("sdk: logformat format: %w", err)
		}
		start = end
	}
	if cap(buf.events) <= maxPooledRequest {
		requestBuffers.Put(buf)
	}
	return nil
}

// requestBuffer holds what formatPart encodes a request into: the events,
// and the events compressed.
type requestBuffer struct{ events, snappy []byte }

// requestBuffers keeps requestBuffers for the next calls, up to
// maxPooledRequest bytes of events.
var requestBuffers = sync.Pool{New: func() any { return new(requestBuffer) }}

const maxPooledRequest = 4 << 20
