package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

func TestMemStorageConformance(t *testing.T) {
	t.Run("direct", func(t *testing.T) {
		sdktest.StorageConformance(t, func(*testing.T) sdk.Storage { return sdktest.NewMemStorage() })
	})
	t.Run("grpc", func(t *testing.T) {
		sdktest.StorageConformance(t, func(t *testing.T) sdk.Storage {
			return sdktest.ServeStorage(t, sdktest.NewMemStorage(), nil)
		})
	})
}

// quoteFormatter formats each event as its JSON encoding (a faithful
// record of what crossed the wire) and remembers the events it got.
type quoteFormatter struct {
	mu  sync.Mutex
	got []event.Event
}

func (f *quoteFormatter) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Kind: sdk.KindLogFormat, Name: "quote", Version: "1", APIVersions: []int{1}}, nil
}

func (f *quoteFormatter) Configure(_ context.Context, b []byte) error {
	if len(b) > 0 && !json.Valid(b) {
		return fmt.Errorf("logformat-quote: config: %w", sdk.ErrInvalidConfig)
	}
	return nil
}

func (f *quoteFormatter) Format(_ context.Context, events []event.Event) ([][]byte, error) {
	f.mu.Lock()
	f.got = append(f.got, events...)
	f.mu.Unlock()
	lines := make([][]byte, len(events))
	for i, e := range events {
		// %q of a struct quotes every string field, so no raw newline.
		lines[i] = fmt.Appendf(nil, "%q", []string{e.MetricName, e.Level, e.Message, e.UserName, fmt.Sprint(e.Extra)})
	}
	return lines, nil
}

func TestLogFormatOverGRPC(t *testing.T) {
	impl := &quoteFormatter{}
	f := sdktest.ServeLogFormatter(t, impl, []byte(`{}`))
	sdktest.LogFormatConformance(t, f)

	t.Run("EventsArriveByteForByte", func(t *testing.T) {
		impl.mu.Lock()
		impl.got = nil
		impl.mu.Unlock()
		var sent []event.Event
		for i, v := range sdktest.HostileValues {
			e := event.Event{
				Seq: uint64(i), Time: time.Date(2024, 1, 2, 3, 4, 5, 6789, time.UTC), MetricName: "m." + v,
				Level: v, Message: v, Component: v, Process: v, Host: v, ServerID: v, RequestIP: v, RequestPort: v,
				UserAgent: v, UserID: v, UserName: v, Domain: v, TargetID: v, TargetName: v, TargetFriendlyName: v,
				VS: v, RS: v, Protocol: v, SessionID: v, Result: v, Reason: v, Extra: map[string]string{v: v, "k": v},
			}
			sent = append(sent, e)
		}
		sent = append(sent, event.Event{}) // the zero event too
		if _, err := f.Format(context.Background(), sent); err != nil {
			t.Fatal(err)
		}
		impl.mu.Lock()
		defer impl.mu.Unlock()
		if len(impl.got) != len(sent) {
			t.Fatalf("plugin got %d events, sent %d", len(impl.got), len(sent))
		}
		for i := range sent {
			if !reflect.DeepEqual(impl.got[i], sent[i]) && !(sent[i].Time.IsZero() && impl.got[i].Time.IsZero()) {
				t.Fatalf("event %d changed on the wire:\nsent %+v\ngot  %+v", i, sent[i], impl.got[i])
			}
		}
	})

	t.Run("BatchLargerThanOneMessage", func(t *testing.T) {
		big := strings.Repeat("y", 1<<20)
		events := make([]event.Event, 70) // ~70 MiB: more than one gRPC message may carry
		for i := range events {
			events[i] = event.Event{Message: fmt.Sprintf("m%07dz", i), UserAgent: big}
		}
		lines, err := f.Format(context.Background(), events)
		if err != nil || len(lines) != len(events) {
			t.Fatalf("Format(70 x 1 MiB) = %d lines, %v", len(lines), err)
		}
	})

	t.Run("ConfigureErrorIsInvalidConfig", func(t *testing.T) {
		err := f.Configure(context.Background(), []byte("{not json"))
		if !errors.Is(err, sdk.ErrInvalidConfig) || !strings.HasPrefix(err.Error(), "logformat-quote: config: ") {
			t.Fatalf("Configure(bad) = %v", err)
		}
	})
}

// fakeRecorder reports progress and returns what the request asks.
type fakeRecorder struct{}

func (fakeRecorder) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Kind: sdk.KindRecorder, Name: "fake", Version: "1", APIVersions: []int{1}}, nil
}

func (fakeRecorder) Configure(context.Context, []byte) error { return nil }

func (fakeRecorder) Render(_ context.Context, req sdk.RenderRequest, progress func(int)) (sdk.RenderResult, error) {
	if req.CapturePath == "bad.vsl" {
		return sdk.RenderResult{}, fmt.Errorf("recorder-fake: %s: checkpoint 3: %w", req.CapturePath, sdk.ErrInvalidCapture)
	}
	for _, p := range []int{0, 10, 10, 50, 100, 120} {
		progress(p)
	}
	return sdk.RenderResult{
		Duration: 90 * time.Second,
		Files: []sdk.Rendered{
			{Path: "s.cast", Role: "cast", MediaType: "application/x-asciicast"},
			{Path: "t-30.jpg", Role: "thumbnail", MediaType: "image/jpeg", Offset: 30 * time.Second},
			{Path: req.SessionID + "-" + strconv.Itoa(req.Segment) + fmt.Sprintf("-%dx%d@%d-%d-%s-%v-%x", req.Settings.Width,
				req.Settings.Height, req.Settings.Framerate, req.Settings.BitrateKbps, req.Settings.ThumbnailEvery,
				req.Settings.RecordInput, req.PublicKey) + req.OutputDir, Role: "transcript"},
		},
	}, nil
}

func TestRecorderOverGRPC(t *testing.T) {
	r := sdktest.ServeRecorder(t, fakeRecorder{}, nil)
	var progress []int
	req := sdk.RenderRequest{
		SessionID: "s1", Segment: 2, CapturePath: "ok.vsl", PublicKey: []byte{1, 2}, OutputDir: "/out",
		Settings: sdk.RenderSettings{BitrateKbps: 800, Framerate: 10, Width: 1280, Height: 720, ThumbnailEvery: time.Minute, RecordInput: true},
	}
	res, err := r.Render(context.Background(), req, func(p int) { progress = append(progress, p) })
	if err != nil {
		t.Fatal(err)
	}
	if want := []int{0, 10, 50, 100}; !reflect.DeepEqual(progress, want) {
		t.Errorf("progress %v, want %v", progress, want)
	}
	want := []sdk.Rendered{
		{Path: "s.cast", Role: "cast", MediaType: "application/x-asciicast"},
		{Path: "t-30.jpg", Role: "thumbnail", MediaType: "image/jpeg", Offset: 30 * time.Second},
		{Path: "s1-2-1280x720@10-800-1m0s-true-0102/out", Role: "transcript"},
	}
	if res.Duration != 90*time.Second || !reflect.DeepEqual(res.Files, want) {
		t.Errorf("result %+v", res)
	}
	// nil progress is allowed.
	if _, err := r.Render(context.Background(), req, nil); err != nil {
		t.Fatal(err)
	}
	req.CapturePath = "bad.vsl"
	_, err = r.Render(context.Background(), req, nil)
	if !errors.Is(err, sdk.ErrInvalidCapture) || err.Error() != "recorder-fake: bad.vsl: checkpoint 3: invalid capture" {
		t.Fatalf("Render(bad) = %v", err)
	}
}

// lyingFormatter reports whatever Info it is given.
type lyingFormatter struct {
	quoteFormatter
	info sdk.Info
}

func (f *lyingFormatter) Info(context.Context) (sdk.Info, error) { return f.info, nil }

func TestLaunchRefuses(t *testing.T) {
	for _, c := range []struct {
		name    string
		serveAs sdk.Kind
		impl    sdk.Plugin
		launch  sdk.Kind
		message string
	}{
		{"unaccepted API version", sdk.KindLogFormat,
			&lyingFormatter{info: sdk.Info{Kind: sdk.KindLogFormat, Name: "x", APIVersions: []int{99}}},
			sdk.KindLogFormat, "plugin speaks API versions [99], host accepts [1]"},
		{"kind reported differs", sdk.KindLogFormat,
			&lyingFormatter{info: sdk.Info{Kind: sdk.KindStorage, Name: "x", APIVersions: []int{1}}},
			sdk.KindLogFormat, `plugin reports kind "storage", launched as "logformat"`},
		{"does not serve the kind's API", sdk.KindLogFormat, &quoteFormatter{},
			sdk.KindStorage, "plugin does not serve the storage API"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc := sdktest.ServeReattach(t, c.serveAs, c.impl)
			client, err := sdk.Launch(context.Background(), sdk.LaunchConfig{Kind: c.launch, Reattach: rc})
			if err == nil {
				client.Kill()
				t.Fatal("Launch succeeded")
			}
			if !errors.Is(err, sdk.ErrIncompatible) || err.Error() != c.message {
				t.Fatalf("Launch = %q (incompatible: %v), want %q", err, errors.Is(err, sdk.ErrIncompatible), c.message)
			}
		})
	}
	t.Run("accepting a version the SDK does not speak", func(t *testing.T) {
		_, err := sdk.Launch(context.Background(), sdk.LaunchConfig{Kind: sdk.KindStorage, Path: "/nonexistent", Accept: []int{2}})
		if err == nil || !strings.Contains(err.Error(), "storage API version 2 is not one this SDK speaks [1]") {
			t.Fatalf("Launch = %v", err)
		}
	})
}

func TestLaunchRealProcess(t *testing.T) {
	path := sdktest.BuildPlugin(t, "./testdata/echoformat", "vigil-plugin-logformat-echo")
	var logs sdktest.SyncBuffer
	logger := hclog.New(&hclog.LoggerOptions{Name: "plugin.logformat-echo", Output: &logs, JSONFormat: true, Level: hclog.Debug})
	c, err := sdk.Launch(context.Background(), sdk.LaunchConfig{
		Kind: sdk.KindLogFormat, Path: path, Config: []byte(`{"x":1}`), Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	if c.PID() <= 0 || c.APIVersion() != 1 || c.Info().Name != "echo" || c.Info().Version != "0.0.1" {
		t.Fatalf("PID %d, API %d, Info %+v", c.PID(), c.APIVersion(), c.Info())
	}
	f, err := c.LogFormatter()
	if err != nil {
		t.Fatal(err)
	}
	lines, err := f.Format(context.Background(), []event.Event{{Message: "a\nb"}, {Message: "c"}})
	if err != nil || len(lines) != 2 || string(lines[0]) != `"a\nb"` || string(lines[1]) != `"c"` {
		t.Fatalf("Format = %q, %v", lines, err)
	}
	if _, err := c.Storage(); err == nil {
		t.Fatal("a logformat client handed out a Storage")
	}

	// The plugin's hclog line arrives structured, under the host's name for
	// it (not the executable's).
	sdktest.WaitFor(t, 10*time.Second, "the plugin's log line in the host logger", func() bool {
		for line := range strings.SplitSeq(logs.String(), "\n") {
			var entry map[string]any
			if json.Unmarshal([]byte(line), &entry) != nil {
				continue
			}
			if entry["@message"] == "echoformat configured" && entry["@module"] == "plugin.logformat-echo" && entry["config"] == `{"x":1}` {
				return true
			}
		}
		return false
	})

	if err := syscall.Kill(c.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("Done not closed after the plugin was killed")
	}
	if got := c.ExitReason(); got != "signal: killed" {
		t.Errorf("ExitReason = %q", got)
	}
	_, err = f.Format(context.Background(), []event.Event{{Message: "x"}})
	if !errors.Is(err, sdk.ErrPluginUnavailable) {
		t.Fatalf("Format after the plugin died = %v, want ErrPluginUnavailable", err)
	}
}
