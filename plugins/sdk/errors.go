package sdk

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// errorDomain marks the gRPC error details this contract attaches, so the
// host tells a sentinel sent by a plugin from a status made by the
// transport.
const errorDomain = "plugins.vigil"

// wireSentinels maps each sentinel error to the status code and reason that
// carry it across the gRPC boundary.
var wireSentinels = []struct {
	err    error
	code   codes.Code
	reason string
}{
	{ErrNotFound, codes.NotFound, "NOT_FOUND"},
	{ErrInvalidKey, codes.InvalidArgument, "INVALID_KEY"},
	{ErrInvalidConfig, codes.InvalidArgument, "INVALID_CONFIG"},
	{ErrInvalidCapture, codes.InvalidArgument, "INVALID_CAPTURE"},
	{ErrInvalidRange, codes.OutOfRange, "INVALID_RANGE"},
	{ErrContentMismatch, codes.DataLoss, "CONTENT_MISMATCH"},
	{ErrUnsupported, codes.Unimplemented, "UNSUPPORTED"},
}

// toStatus turns an error returned by a plugin's implementation into the
// gRPC status sent to the host. The message is kept whole; a sentinel in the
// chain travels as an ErrorInfo reason. Any other error becomes
// codes.Unknown, even a gRPC status of the plugin's own (a plugin talking to
// a gRPC backend must not make the host believe the plugin itself is gone).
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	}
	for _, s := range wireSentinels {
		if !errors.Is(err, s.err) {
			continue
		}
		st, derr := status.New(s.code, err.Error()).WithDetails(&errdetails.ErrorInfo{Reason: s.reason, Domain: errorDomain})
		if derr != nil {
			return status.Error(s.code, err.Error())
		}
		return st.Err()
	}
	return status.Error(codes.Unknown, err.Error())
}

// RemoteError is an error a plugin call returned, rebuilt on the host side:
// its text is the plugin's (or the transport's) message, and errors.Is finds
// the sentinel it carried. The gRPC status stays available to status.Code.
type RemoteError struct {
	Msg      string
	Sentinel error
	Status   *status.Status
}

func (e *RemoteError) Error() string { return e.Msg }

// Unwrap returns the sentinel the plugin sent, or nil.
func (e *RemoteError) Unwrap() error { return e.Sentinel }

// GRPCStatus lets status.FromError and status.Code see the original status.
func (e *RemoteError) GRPCStatus() *status.Status { return e.Status }

// fromStatus turns an error from a gRPC call into the host's view of it.
// callCtx is the caller's context and done the plugin connection's (closed
// when the plugin process is gone): a call that fails because the connection
// went away is ErrPluginUnavailable, one the caller cancelled is the
// context's error.
func fromStatus(callCtx, done context.Context, err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		if done.Err() != nil {
			return &RemoteError{Msg: "plugin unavailable: " + err.Error(), Sentinel: ErrPluginUnavailable}
		}
		return err
	}
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.GetDomain() != errorDomain {
			continue
		}
		for _, s := range wireSentinels {
			if s.reason == info.GetReason() {
				return &RemoteError{Msg: st.Message(), Sentinel: s.err, Status: st}
			}
		}
	}
	switch st.Code() {
	case codes.Canceled, codes.DeadlineExceeded:
		if cerr := callCtx.Err(); cerr != nil {
			return &RemoteError{Msg: st.Message(), Sentinel: cerr, Status: st}
		}
		if done.Err() != nil || st.Code() == codes.Canceled {
			// The caller did not cancel: the connection closed under the call.
			return &RemoteError{Msg: "plugin unavailable: " + st.Message(), Sentinel: ErrPluginUnavailable, Status: st}
		}
		return &RemoteError{Msg: st.Message(), Sentinel: context.DeadlineExceeded, Status: st}
	case codes.Unavailable:
		return &RemoteError{Msg: "plugin unavailable: " + st.Message(), Sentinel: ErrPluginUnavailable, Status: st}
	}
	if done.Err() != nil {
		return &RemoteError{Msg: "plugin unavailable: " + st.Message(), Sentinel: ErrPluginUnavailable, Status: st}
	}
	return &RemoteError{Msg: st.Message(), Status: st}
}

// callError names the operation of a failed call made by a host-side
// adapter. An error the plugin itself returned keeps the plugin's message
// as is: by the contract's habits it already names the plugin and what
// failed. Transport failures, cancellations and local errors get the
// operation as context.
func callError(op string, err error) error {
	var re *RemoteError
	if errors.As(err, &re) && re.Status != nil && !errors.Is(re, ErrPluginUnavailable) {
		switch re.Status.Code() {
		case codes.Canceled, codes.DeadlineExceeded:
		default:
			return err
		}
	}
	return fmt.Errorf("sdk: %s: %w", op, err)
}
