package sdk

import (
	"context"
	"time"

	"google.golang.org/grpc"

	commonv1 "github.com/vigilgw/vigil/plugins/sdk/proto/common/v1"
)

// This file holds what the adapters of every kind share: the Info and
// Configure calls on both sides, and the wire time.

func infoToProto(i Info) *commonv1.InfoResponse {
	r := &commonv1.InfoResponse{Kind: string(i.Kind), Name: i.Name, Version: i.Version}
	for _, v := range i.APIVersions {
		r.ApiVersions = append(r.ApiVersions, int32(v))
	}
	return r
}

func infoFromProto(r *commonv1.InfoResponse) Info {
	i := Info{Kind: Kind(r.GetKind()), Name: r.GetName(), Version: r.GetVersion()}
	for _, v := range r.GetApiVersions() {
		i.APIVersions = append(i.APIVersions, int(v))
	}
	return i
}

// timeToProto sends t as seconds and nanoseconds; the location is not sent
// (the plugin sees UTC).
func timeToProto(t time.Time) *commonv1.Time {
	return &commonv1.Time{Seconds: t.Unix(), Nanos: int32(t.Nanosecond())}
}

func timeFromProto(p *commonv1.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return time.Unix(p.GetSeconds(), int64(p.GetNanos())).UTC()
}

// serveInfo and serveConfigure are the plugin side of the two calls every
// service has.
func serveInfo(ctx context.Context, p Plugin) (*commonv1.InfoResponse, error) {
	info, err := p.Info(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return infoToProto(info), nil
}

func serveConfigure(ctx context.Context, p Plugin, req *commonv1.ConfigureRequest) (*commonv1.ConfigureResponse, error) {
	if err := p.Configure(ctx, req.GetConfigJson()); err != nil {
		return nil, toStatus(err)
	}
	return &commonv1.ConfigureResponse{}, nil
}

// clientBase is the host side of Info and Configure, embedded in the client
// of every kind. done is go-plugin's context for the connection: it ends
// when the plugin process is gone.
type clientBase struct {
	kind      Kind
	done      context.Context
	info      func(context.Context, *commonv1.InfoRequest, ...grpc.CallOption) (*commonv1.InfoResponse, error)
	configure func(context.Context, *commonv1.ConfigureRequest, ...grpc.CallOption) (*commonv1.ConfigureResponse, error)
}

func (b *clientBase) Info(ctx context.Context) (Info, error) {
	r, err := b.info(ctx, &commonv1.InfoRequest{})
	if err != nil {
		return Info{}, callError(string(b.kind)+" info", fromStatus(ctx, b.done, err))
	}
	return infoFromProto(r), nil
}

func (b *clientBase) Configure(ctx context.Context, configJSON []byte) error {
	_, err := b.configure(ctx, &commonv1.ConfigureRequest{ConfigJson: configJSON})
	if err != nil {
		return callError(string(b.kind)+" configure", fromStatus(ctx, b.done, err))
	}
	return nil
}

// connDone reports the end of the connection a dispensed client talks over.
func (b *clientBase) connDone() <-chan struct{} { return b.done.Done() }

// doneNotifier is implemented by every client this package dispenses.
type doneNotifier interface{ connDone() <-chan struct{} }
