package sdk

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	commonv1 "github.com/vigilgw/vigil/plugins/sdk/proto/common/v1"
	recorderv1 "github.com/vigilgw/vigil/plugins/sdk/proto/recorder/v1"
)

// RecorderPlugin is go-plugin's glue for the recorder kind at API version 1.
// Impl is set on the plugin side only.
type RecorderPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Impl Recorder
}

var _ plugin.GRPCPlugin = (*RecorderPlugin)(nil)

// GRPCServer registers the plugin's implementation.
func (p *RecorderPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	recorderv1.RegisterRecorderServer(s, &recorderServer{impl: p.Impl})
	return nil
}

// GRPCClient returns the host side: an sdk.Recorder.
func (p *RecorderPlugin) GRPCClient(ctx context.Context, _ *plugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	c := recorderv1.NewRecorderClient(cc)
	return &recorderClient{
		clientBase: clientBase{kind: KindRecorder, done: ctx, info: c.Info, configure: c.Configure},
		c:          c,
	}, nil
}

func renderRequestToProto(r RenderRequest) *recorderv1.RenderRequest {
	return &recorderv1.RenderRequest{
		SessionId:   r.SessionID,
		Segment:     int32(r.Segment),
		CapturePath: r.CapturePath,
		PublicKey:   r.PublicKey,
		OutputDir:   r.OutputDir,
		Settings: &recorderv1.RenderSettings{
			BitrateKbps:         int32(r.Settings.BitrateKbps),
			Framerate:           int32(r.Settings.Framerate),
			Width:               int32(r.Settings.Width),
			Height:              int32(r.Settings.Height),
			ThumbnailEveryNanos: int64(r.Settings.ThumbnailEvery),
			RecordInput:         r.Settings.RecordInput,
		},
	}
}

func renderRequestFromProto(p *recorderv1.RenderRequest) RenderRequest {
	s := p.GetSettings()
	return RenderRequest{
		SessionID:   p.GetSessionId(),
		Segment:     int(p.GetSegment()),
		CapturePath: p.GetCapturePath(),
		PublicKey:   p.GetPublicKey(),
		OutputDir:   p.GetOutputDir(),
		Settings: RenderSettings{
			BitrateKbps:    int(s.GetBitrateKbps()),
			Framerate:      int(s.GetFramerate()),
			Width:          int(s.GetWidth()),
			Height:         int(s.GetHeight()),
			ThumbnailEvery: time.Duration(s.GetThumbnailEveryNanos()),
			RecordInput:    s.GetRecordInput(),
		},
	}
}

func renderResultToProto(r RenderResult) *recorderv1.RenderResult {
	p := &recorderv1.RenderResult{DurationNanos: int64(r.Duration)}
	for _, f := range r.Files {
		p.Files = append(p.Files, &recorderv1.Rendered{
			Path: f.Path, Role: f.Role, MediaType: f.MediaType, OffsetNanos: int64(f.Offset),
		})
	}
	return p
}

func renderResultFromProto(p *recorderv1.RenderResult) RenderResult {
	r := RenderResult{Duration: time.Duration(p.GetDurationNanos())}
	for _, f := range p.GetFiles() {
		r.Files = append(r.Files, Rendered{
			Path: f.GetPath(), Role: f.GetRole(), MediaType: f.GetMediaType(), Offset: time.Duration(f.GetOffsetNanos()),
		})
	}
	return r
}

// recorderServer is the plugin side.
type recorderServer struct {
	recorderv1.UnimplementedRecorderServer
	impl Recorder
}

func (s *recorderServer) Info(ctx context.Context, _ *commonv1.InfoRequest) (*commonv1.InfoResponse, error) {
	return serveInfo(ctx, s.impl)
}

func (s *recorderServer) Configure(ctx context.Context, req *commonv1.ConfigureRequest) (*commonv1.ConfigureResponse, error) {
	return serveConfigure(ctx, s.impl, req)
}

// Render relays progress as it comes. The implementation may report from
// any goroutine, so sends are serialized, and reports after Render returned
// are dropped (a stream must not be used once its handler returns).
func (s *recorderServer) Render(req *recorderv1.RenderRequest, stream grpc.ServerStreamingServer[recorderv1.RenderResponse]) error {
	var mu sync.Mutex
	finished := false
	last := -1
	progress := func(percent int) {
		percent = max(0, min(100, percent))
		mu.Lock()
		defer mu.Unlock()
		if finished || percent == last {
			return
		}
		last = percent
		// A failed send means the host went away; the render's context
		// ends too, so the implementation learns it there.
		_ = stream.Send(&recorderv1.RenderResponse{Msg: &recorderv1.RenderResponse_Progress{Progress: int32(percent)}})
	}
	res, err := s.impl.Render(stream.Context(), renderRequestFromProto(req), progress)
	mu.Lock()
	finished = true
	mu.Unlock()
	if err != nil {
		return toStatus(err)
	}
	return stream.Send(&recorderv1.RenderResponse{Msg: &recorderv1.RenderResponse_Result{Result: renderResultToProto(res)}})
}

// recorderClient is the host side.
type recorderClient struct {
	clientBase
	c recorderv1.RecorderClient
}

var _ Recorder = (*recorderClient)(nil)

func (c *recorderClient) Render(ctx context.Context, req RenderRequest, progress func(percent int)) (RenderResult, error) {
	op := fmt.Sprintf("recorder render %s/%d", req.SessionID, req.Segment)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.c.Render(ctx, renderRequestToProto(req))
	if err != nil {
		return RenderResult{}, callError(op, fromStatus(ctx, c.done, err))
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return RenderResult{}, fmt.Errorf("sdk: %s: the plugin ended the render without a result", op)
		}
		if err != nil {
			return RenderResult{}, callError(op, fromStatus(ctx, c.done, err))
		}
		switch m := msg.GetMsg().(type) {
		case *recorderv1.RenderResponse_Progress:
			if progress != nil {
				progress(int(m.Progress))
			}
		case *recorderv1.RenderResponse_Result:
			return renderResultFromProto(m.Result), nil
		}
	}
}
