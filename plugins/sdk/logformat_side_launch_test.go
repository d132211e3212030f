package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// TestLaunchedLogFormatterUsesLanes: a launched logformat plugin formats on
// its side channels; its errors arrive as over gRPC; when it crashes in the
// middle of a call, the call fails with ErrPluginUnavailable as over gRPC.
// A formatter served in process has no lanes and formats over gRPC.
func TestLaunchedLogFormatterUsesLanes(t *testing.T) {
	path := sdktest.BuildPlugin(t, "./testdata/echoformat", "vigil-plugin-logformat-echo")
	f := sdktest.LaunchLogFormatter(t, path, nil)
	lanes := sdk.LiveFormatLanes(f)
	if lanes < 2 {
		t.Fatalf("launched plugin has %d lanes, want 2 at least", lanes)
	}
	events := make([]event.Event, 1000)
	for i := range events {
		events[i].Message = fmt.Sprintf("m%07dz\n", i)
	}
	lines, err := f.Format(context.Background(), events)
	if err != nil || len(lines) != len(events) {
		t.Fatalf("Format = %d lines, %v", len(lines), err)
	}
	for i, l := range lines {
		if want := fmt.Sprintf("%q", events[i].Message); string(l) != want {
			t.Fatalf("line %d = %s, want %s", i, l, want)
		}
	}

	_, err = f.Format(context.Background(), []event.Event{{Message: "ok"}, {Message: "invalid:no such field"}})
	if !errors.Is(err, sdk.ErrInvalidConfig) || err.Error() != "logformat-echo: no such field: invalid config" {
		t.Fatalf("Format with a failing event = %v, want the plugin's ErrInvalidConfig", err)
	}
	if got := sdk.LiveFormatLanes(f); got != lanes {
		t.Fatalf("%d lanes live after the plugin's error, want %d", got, lanes)
	}

	_, err = f.Format(context.Background(), []event.Event{{Message: "crash"}})
	if !errors.Is(err, sdk.ErrPluginUnavailable) || !strings.Contains(err.Error(), "plugin unavailable") {
		t.Fatalf("Format when the plugin crashes = %v, want ErrPluginUnavailable", err)
	}
	_, err = f.Format(context.Background(), []event.Event{{Message: "after"}})
	if !errors.Is(err, sdk.ErrPluginUnavailable) {
		t.Fatalf("Format after the crash = %v, want ErrPluginUnavailable", err)
	}

	inproc := sdktest.ServeLogFormatter(t, &quoteFormatter{}, nil)
	if got := sdk.LiveFormatLanes(inproc); got != -1 {
		t.Fatalf("in-process formatter has %d lanes, want none", got)
	}
}
