package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
	"github.com/vigilgw/vigil/plugins/sdk/termrender"
)

func key(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
}

func pub(seed byte) ed25519.PublicKey { return key(seed).Public().(ed25519.PublicKey) }

var start = time.Now().Add(-time.Hour).Truncate(time.Millisecond)

// recordSession writes a shell session through the capture writer, as the
// SSH proxy does, and returns the sealed segments.
func recordSession(t *testing.T, segmentMax int64, lines int) []string {
	t.Helper()
	dir := t.TempDir()
	var mu sync.Mutex
	var paths []string
	w, err := capture.New(capture.Options{
		ActiveDir: filepath.Join(dir, "active"), SealedDir: filepath.Join(dir, "sealed"),
		Team: "acme", User: "alice", SessionID: "sess-7", Start: start, Key: key(1),
		SegmentMaxBytes: segmentMax, RecordInput: true,
		OnSeal: func(s capture.SealedSegment) { mu.Lock(); paths = append(paths, s.Path); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(capture.Meta, 0, capture.SessionMeta{SessionID: "sess-7", User: "alice", Target: "db1", Protocol: "ssh", Term: "xterm"}.Marshal())
	w.Write(capture.Resize, 0, capture.AppendResize(nil, capture.Size{Cols: 100, Rows: 30}))
	w.Write(capture.Output, 0, []byte("\x1b]0;alice@db1\x07\x1b[32malice@db1\x1b[0m:~$ "))
	w.Write(capture.Input, 0, []byte("seq\r"))
	for i := range lines {
		w.Write(capture.Output, 0, fmt.Appendf(nil, "line %04d \x1b[1mbold\x1b[0m\r\n", i))
	}
	w.Write(capture.Output, 0, []byte("alice@db1:~$ logout\r\n"))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return paths
}

func TestRender(t *testing.T) {
	paths := recordSession(t, 0, 50)
	out := t.TempDir()
	var percents []int
	res, err := newRecorder().Render(context.Background(), sdk.RenderRequest{
		SessionID: "sess-7", Segment: 0, CapturePath: paths[0], PublicKey: pub(1), OutputDir: out,
		Settings: sdk.RenderSettings{RecordInput: true},
	}, func(p int) { percents = append(percents, p) })
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(filepath.Base(paths[0]), ".vsl")
	want := []sdk.Rendered{
		{Path: base + ".cast", Role: "cast", MediaType: "application/x-asciicast"},
		{Path: base + ".transcript.tsv", Role: "transcript", MediaType: "text/plain; charset=utf-8"},
	}
	if fmt.Sprint(res.Files) != fmt.Sprint(want) {
		t.Errorf("files %+v, want %+v", res.Files, want)
	}
	if res.Duration < time.Hour || res.Duration > time.Hour+time.Minute {
		t.Errorf("duration %v, want about an hour: segment 0 starts with the session, an hour ago", res.Duration)
	}
	if len(percents) == 0 || percents[len(percents)-1] != 100 {
		t.Errorf("progress %v should end at 100", percents)
	}
	for i := 1; i < len(percents); i++ {
		if percents[i] <= percents[i-1] {
			t.Errorf("progress goes back: %v", percents)
		}
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 2 {
		t.Errorf("output dir holds %d files, want the 2 renders (no temporary ones)", len(entries))
	}

	cast, _ := os.ReadFile(filepath.Join(out, res.Files[0].Path))
	if !strings.HasPrefix(string(cast), `{"version":2,"width":100,"height":30,"timestamp":`) ||
		!strings.Contains(string(cast), `"i", "seq\r"]`) {
		t.Errorf("cast:\n%.300s", cast)
	}
	var lines []string
	f, _ := os.Open(filepath.Join(out, res.Files[1].Path))
	defer f.Close()
	if err := termrender.ReadTranscript(f, func(ms int64, text string) error {
		if ms < time.Hour.Milliseconds()-5000 || ms > time.Hour.Milliseconds()+60000 {
			t.Errorf("line %q at %d ms: offsets count from the session start, an hour ago", text, ms)
		}
		lines = append(lines, text)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 51 || lines[0] != "alice@db1:~$ line 0000 bold" || lines[50] != "alice@db1:~$ logout" {
		t.Errorf("%d transcript lines: %q ... %q", len(lines), lines[0], lines[len(lines)-1])
	}

	// The cast plays in the real asciinema.
	asciinema := sdktest.RequirePeer(t, "asciinema")
	if out, err := exec.Command(asciinema, "play", "-i", "0.1", filepath.Join(out, res.Files[0].Path)).CombinedOutput(); err != nil {
		t.Fatalf("asciinema play: %v\n%s", err, out)
	}
}

// TestRenderLaterSegment: a segment after the first renders on its own,
// with the terminal size and title the writer repeated in it.
func TestRenderLaterSegment(t *testing.T) {
	paths := recordSession(t, 4096, 300)
	if len(paths) < 3 {
		t.Fatalf("%d segments", len(paths))
	}
	out := t.TempDir()
	res, err := newRecorder().Render(context.Background(), sdk.RenderRequest{
		SessionID: "sess-7", Segment: 2, CapturePath: paths[2], PublicKey: capture.MarshalPublicKey(pub(1)), OutputDir: out,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cast, _ := os.ReadFile(filepath.Join(out, res.Files[0].Path))
	if !strings.HasPrefix(string(cast), `{"version":2,"width":100,"height":30,`) || !strings.Contains(string(cast), `"title":"alice@db1"`) {
		t.Errorf("cast header: %.200s", cast)
	}
	if strings.Contains(string(cast), `"i"`) {
		t.Error("input events without record_input")
	}
}

func TestRenderRefusesInvalidCaptures(t *testing.T) {
	good := recordSession(t, 0, 20)[0]
	dir := t.TempDir()
	b, _ := os.ReadFile(good)
	altered := filepath.Join(dir, "altered.vsl")
	a := bytes.Clone(b)
	a[len(a)/2] ^= 0x04
	os.WriteFile(altered, a, 0o640)
	truncated := filepath.Join(dir, "truncated.vsl")
	os.WriteFile(truncated, b[:len(b)-10], 0o640)
	junk := filepath.Join(dir, "junk.vsl")
	os.WriteFile(junk, []byte("not a capture at all"), 0o640)

	// Over real gRPC, as vigild calls it: the sentinel crosses the boundary.
	rec := sdktest.ServeRecorder(t, newRecorder(), []byte(`{"idle_time_limit": 1.5}`))
	for _, tc := range []struct {
		name, path string
		key        ed25519.PublicKey
	}{
		{"altered", altered, pub(1)},
		{"truncated", truncated, pub(1)},
		{"not a capture", junk, pub(1)},
		{"other key", good, pub(2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := t.TempDir()
			_, err := rec.Render(context.Background(), sdk.RenderRequest{
				SessionID: "sess-7", CapturePath: tc.path, PublicKey: tc.key, OutputDir: out,
			}, nil)
			if !errors.Is(err, sdk.ErrInvalidCapture) {
				t.Fatalf("got %v, want ErrInvalidCapture", err)
			}
			if entries, _ := os.ReadDir(out); len(entries) != 0 {
				t.Errorf("left %d files behind", len(entries))
			}
		})
	}
	res, err := rec.Render(context.Background(), sdk.RenderRequest{
		SessionID: "sess-7", CapturePath: good, PublicKey: pub(1), OutputDir: t.TempDir(),
	}, nil)
	if err != nil || len(res.Files) != 2 {
		t.Fatalf("good capture over gRPC: %v %+v", err, res)
	}
}

func TestRenderCancelled(t *testing.T) {
	p := recordSession(t, 0, 5000)[0]
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := t.TempDir()
	if _, err := newRecorder().Render(ctx, sdk.RenderRequest{CapturePath: p, PublicKey: pub(1), OutputDir: out}, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("left %d files behind", len(entries))
	}
}

func TestConfigure(t *testing.T) {
	r := newRecorder()
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{``, true},
		{`{}`, true},
		{`{"idle_time_limit": 2}`, true},
		{`{"idle_time_limit": -1}`, false},
		{`{"idle_limit": 2}`, false},
		{`{} {}`, false},
		{`[`, false},
	} {
		err := r.Configure(context.Background(), []byte(tc.in))
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, sdk.ErrInvalidConfig)) {
			t.Errorf("Configure(%q): %v", tc.in, err)
		}
	}
	info, err := r.Info(context.Background())
	if err != nil || info.Kind != sdk.KindRecorder || info.Name != "ssh" || len(info.APIVersions) == 0 {
		t.Errorf("info %+v %v", info, err)
	}
}

// TestPluginBinary: the built plugin starts and serves as vigild launches it.
func TestPluginBinary(t *testing.T) {
	bin := sdktest.BuildPlugin(t, ".", "vigil-plugin-recorder-ssh")
	c, err := sdk.Launch(context.Background(), sdk.LaunchConfig{Kind: sdk.KindRecorder, Path: bin, Logger: sdktest.TestLogger(t, "recorder-ssh")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Kill()
	rec, err := c.Recorder()
	if err != nil {
		t.Fatal(err)
	}
	p := recordSession(t, 0, 10)[0]
	res, err := rec.Render(context.Background(), sdk.RenderRequest{CapturePath: p, PublicKey: pub(1), OutputDir: t.TempDir()}, nil)
	if err != nil || len(res.Files) != 2 {
		t.Fatalf("%v %+v", err, res)
	}
}
