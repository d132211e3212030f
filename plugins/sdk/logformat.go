package sdk

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

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
	events := make([]event.Event, len(req.GetEvents()))
	for i, e := range req.GetEvents() {
		events[i] = eventFromProto(e)
	}
	lines, err := s.impl.Format(ctx, events)
	if err != nil {
		return nil, toStatus(err)
	}
	return &logformatv1.FormatResponse{Lines: lines}, nil
}

type logFormatClient struct {
	clientBase
	c logformatv1.LogFormatClient
}

var _ LogFormatter = (*logFormatClient)(nil)

// Format sends the batch in one call, or in a few when it is too large for
// one gRPC message, and checks that one line came back per event.
func (c *logFormatClient) Format(ctx context.Context, events []event.Event) ([][]byte, error) {
	lines := make([][]byte, 0, len(events))
	for start := 0; start < len(events); {
		req := &logformatv1.FormatRequest{}
		size := 0
		end := start
		for end < len(events) && (end == start || size < formatBatchBytes) {
			pe := eventToProto(&events[end])
			size += approxEventSize(pe)
			req.Events = append(req.Events, pe)
			end++
		}
		resp, err := c.c.Format(ctx, req)
		if err != nil {
			return nil, callError("logformat format", fromStatus(ctx, c.done, err))
		}
		if got, want := len(resp.GetLines()), end-start; got != want {
			return nil, fmt.Errorf("sdk: logformat format: plugin returned %d lines for %d events", got, want)
		}
		lines = append(lines, resp.GetLines()...)
		start = end
	}
	return lines, nil
}

func approxEventSize(e *logformatv1.Event) int {
	n := 64 + len(e.MetricName) + len(e.Level) + len(e.Message) + len(e.Component) + len(e.Process) +
		len(e.Host) + len(e.ServerId) + len(e.RequestIp) + len(e.RequestPort) + len(e.UserAgent) +
		len(e.UserId) + len(e.UserName) + len(e.Domain) + len(e.TargetId) + len(e.TargetName) +
		len(e.TargetFriendlyName) + len(e.Vs) + len(e.Rs) + len(e.Protocol) + len(e.SessionId) +
		len(e.Result) + len(e.Reason)
	for _, x := range e.Extra {
		n += 8 + len(x.Key) + len(x.Value)
	}
	return n
}

// eventToProto sends every value as bytes: a proto3 string must be valid
// UTF-8, and events carry what hostile clients sent, byte for byte.
func eventToProto(e *event.Event) *logformatv1.Event {
	pe := &logformatv1.Event{
		Seq:                e.Seq,
		Time:               timeToProto(e.Time),
		MetricName:         bytesOf(e.MetricName),
		Level:              bytesOf(e.Level),
		Message:            bytesOf(e.Message),
		Component:          bytesOf(e.Component),
		Process:            bytesOf(e.Process),
		Host:               bytesOf(e.Host),
		ServerId:           bytesOf(e.ServerID),
		RequestIp:          bytesOf(e.RequestIP),
		RequestPort:        bytesOf(e.RequestPort),
		UserAgent:          bytesOf(e.UserAgent),
		UserId:             bytesOf(e.UserID),
		UserName:           bytesOf(e.UserName),
		Domain:             bytesOf(e.Domain),
		TargetId:           bytesOf(e.TargetID),
		TargetName:         bytesOf(e.TargetName),
		TargetFriendlyName: bytesOf(e.TargetFriendlyName),
		Vs:                 bytesOf(e.VS),
		Rs:                 bytesOf(e.RS),
		Protocol:           bytesOf(e.Protocol),
		SessionId:          bytesOf(e.SessionID),
		Result:             bytesOf(e.Result),
		Reason:             bytesOf(e.Reason),
	}
	if len(e.Extra) > 0 {
		pe.Extra = make([]*logformatv1.Extra, 0, len(e.Extra))
		for k, v := range e.Extra {
			pe.Extra = append(pe.Extra, &logformatv1.Extra{Key: bytesOf(k), Value: bytesOf(v)})
		}
	}
	return pe
}

func eventFromProto(pe *logformatv1.Event) event.Event {
	e := event.Event{
		Seq:                pe.GetSeq(),
		Time:               timeFromProto(pe.GetTime()),
		MetricName:         stringOf(pe.GetMetricName()),
		Level:              stringOf(pe.GetLevel()),
		Message:            stringOf(pe.GetMessage()),
		Component:          stringOf(pe.GetComponent()),
		Process:            stringOf(pe.GetProcess()),
		Host:               stringOf(pe.GetHost()),
		ServerID:           stringOf(pe.GetServerId()),
		RequestIP:          stringOf(pe.GetRequestIp()),
		RequestPort:        stringOf(pe.GetRequestPort()),
		UserAgent:          stringOf(pe.GetUserAgent()),
		UserID:             stringOf(pe.GetUserId()),
		UserName:           stringOf(pe.GetUserName()),
		Domain:             stringOf(pe.GetDomain()),
		TargetID:           stringOf(pe.GetTargetId()),
		TargetName:         stringOf(pe.GetTargetName()),
		TargetFriendlyName: stringOf(pe.GetTargetFriendlyName()),
		VS:                 stringOf(pe.GetVs()),
		RS:                 stringOf(pe.GetRs()),
		Protocol:           stringOf(pe.GetProtocol()),
		SessionID:          stringOf(pe.GetSessionId()),
		Result:             stringOf(pe.GetResult()),
		Reason:             stringOf(pe.GetReason()),
	}
	if x := pe.GetExtra(); len(x) > 0 {
		e.Extra = make(map[string]string, len(x))
		for _, kv := range x {
			e.Extra[stringOf(kv.GetKey())] = stringOf(kv.GetValue())
		}
	}
	return e
}

// bytesOf and stringOf convert without copying, which matters at tens of
// thousands of events a second with two dozen fields each. Both directions
// are safe here: marshalling only reads the bytes of an (immutable) string,
// and the bytes a received message holds are its own (proto.Unmarshal
// copies them out of the wire buffer) and are never written afterwards.
func bytesOf(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func stringOf(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
