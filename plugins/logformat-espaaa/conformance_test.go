package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

const pluginName = "vigil-plugin-logformat-espaaa"

// pluginBinary returns the plugin executable to launch: the one `make`
// built into $VIGIL_BIN_DIR when there is one, else a fresh build of this
// package.
func pluginBinary(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("VIGIL_BIN_DIR"); dir != "" {
		if p := filepath.Join(dir, pluginName); fileExists(p) {
			return p
		}
	}
	return sdktest.BuildPlugin(t, ".", pluginName)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

func TestConformance(t *testing.T) {
	bin := pluginBinary(t)
	for _, cfg := range []string{`{"cef":false,"timezone":"UTC"}`, `{"cef":true,"timezone":"UTC","version":"1.0"}`} {
		t.Run(cfg, func(t *testing.T) {
			direct := configured(t, cfg)
			t.Run("Direct", func(t *testing.T) { sdktest.LogFormatConformance(t, direct) })
			t.Run("InProcessGRPC", func(t *testing.T) {
				sdktest.LogFormatConformance(t, sdktest.ServeLogFormatter(t, newFormatter(), []byte(cfg)))
			})
			t.Run("LaunchedBinary", func(t *testing.T) {
				f := sdktest.LaunchLogFormatter(t, bin, []byte(cfg))
				sdktest.LogFormatConformance(t, f)
				sameLines(t, direct, f)
			})
		})
	}
}

// sameLines checks that the launched plugin writes, byte for byte, what the
// formatter writes in process, hostile values included.
func sameLines(t *testing.T, direct, remote sdk.LogFormatter) {
	t.Helper()
	var evs []event.Event
	for _, fc := range fieldCases {
		for _, v := range hostile {
			ev := event.Event{Time: t0, MetricName: "account.login.failed_locked", Host: v,
				Message: v, Extra: map[string]string{}}
			fc.set(&ev, v)
			evs = append(evs, ev)
		}
	}
	want, err := direct.Format(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Format(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines through gRPC, %d in process", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("line %d differs through gRPC:\n got %.200q\nwant %.200q", i, got[i], want[i])
		}
	}
}

func TestConfigureErrorCrossesGRPC(t *testing.T) {
	rc := sdktest.ServeReattach(t, sdk.KindLogFormat, newFormatter())
	_, err := sdk.Launch(context.Background(), sdk.LaunchConfig{
		Kind: sdk.KindLogFormat, Reattach: rc, Config: []byte(`{"timezone":"Nowhere/Special"}`),
		Logger: sdktest.TestLogger(t, "plugin"),
	})
	if !errors.Is(err, sdk.ErrInvalidConfig) {
		t.Fatalf("Launch with a bad configuration: %v, want ErrInvalidConfig across gRPC", err)
	}
}
