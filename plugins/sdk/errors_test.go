package sdk

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestSentinelsCrossTheWire(t *testing.T) {
	live := context.Background()
	for _, s := range wireSentinels {
		t.Run(s.reason, func(t *testing.T) {
			sent := fmt.Errorf("storage-x: get \"a\": %w", s.err)
			got := fromStatus(live, live, toStatus(sent))
			if !errors.Is(got, s.err) {
				t.Fatalf("errors.Is(%v, %v) = false after the round trip", got, s.err)
			}
			if got.Error() != sent.Error() {
				t.Fatalf("message %q, want %q", got.Error(), sent.Error())
			}
			if status.Code(got) != s.code {
				t.Fatalf("status code %v, want %v", status.Code(got), s.code)
			}
			for _, other := range wireSentinels {
				if other.err != s.err && errors.Is(got, other.err) {
					t.Fatalf("%v also matches %v", got, other.err)
				}
			}
		})
	}
}

func TestFromStatus(t *testing.T) {
	live := context.Background()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name       string
		call, done context.Context
		err        error
		want       error // nil: no sentinel
		message    string
	}{
		{"plain error keeps its message", live, live, toStatus(errors.New("storage-x: disk on fire")), nil, "storage-x: disk on fire"},
		{"a plugin's own grpc status is not the transport's", live, live,
			toStatus(status.Error(codes.Unavailable, "s3 backend down")), nil, "rpc error: code = Unavailable desc = s3 backend down"},
		{"transport unavailable", live, live, status.Error(codes.Unavailable, "connection refused"), ErrPluginUnavailable, "plugin unavailable: connection refused"},
		{"connection closed under the call", live, live, status.Error(codes.Canceled, "grpc: the client connection is closing"), ErrPluginUnavailable, "plugin unavailable: grpc: the client connection is closing"},
		{"plugin process gone", live, canceled, status.Error(codes.Unknown, "whatever"), ErrPluginUnavailable, "plugin unavailable: whatever"},
		{"caller canceled", canceled, live, status.Error(codes.Canceled, "context canceled"), context.Canceled, "context canceled"},
		{"plugin returned context.Canceled", canceled, live, toStatus(fmt.Errorf("x: %w", context.Canceled)), context.Canceled, "x: context canceled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := fromStatus(c.call, c.done, c.err)
			if got.Error() != c.message {
				t.Errorf("message %q, want %q", got.Error(), c.message)
			}
			var re *RemoteError
			if !errors.As(got, &re) {
				t.Fatalf("%T is not a *RemoteError", got)
			}
			if re.Sentinel != c.want {
				t.Fatalf("sentinel %v, want %v", re.Sentinel, c.want)
			}
		})
	}
}

func TestCallError(t *testing.T) {
	live := context.Background()
	remote := fromStatus(live, live, toStatus(fmt.Errorf("storage-x: head \"k\": %w", ErrNotFound)))
	if got := callError("storage head", remote); got.Error() != "storage-x: head \"k\": not found" {
		t.Errorf("a plugin's error was rewritten: %q", got)
	}
	gone := fromStatus(live, live, status.Error(codes.Unavailable, "EOF"))
	if got := callError("storage head \"k\"", gone); got.Error() != "sdk: storage head \"k\": plugin unavailable: EOF" || !errors.Is(got, ErrPluginUnavailable) {
		t.Errorf("transport error = %q", got)
	}
}
