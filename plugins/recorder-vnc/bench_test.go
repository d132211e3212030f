package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/recorder-vnc/replay"
	"github.com/vigilgw/vigil/plugins/recorder-vnc/rfb"
	"github.com/vigilgw/vigil/plugins/recorder-vnc/video"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// BenchmarkRender renders a recorded 1280x720 x11vnc session (an xterm
// printing and the background changing colour for 8 s, ZRLE) at 1280x720,
// 10 fps. "baseline" is ffmpeg alone encoding the very frames the render
// produces, read from a raw file; "vigil" is the whole render: verifying
// the capture, decoding the RFB stream, composing and piping the frames,
// the same ffmpeg encode, a poster and a thumbnail. `make bench` prints
// vigil's figures, the time and the CPU time per op, as ratios of
// baseline's.
func BenchmarkRender(b *testing.B) {
	ffmpeg := sdktest.RequirePeer(b, "ffmpeg")
	sdktest.RequirePeer(b, "xterm")
	xsetroot := sdktest.RequirePeer(b, "xsetroot")
	env := startXvfb(b, 1280, 720)
	addr := startX11vnc(b, env, "bench-pw")
	term := exec.Command("xterm", "-geometry", "100x30+40+40", "-e", "sh", "-c", "while :; do ls -l /usr/bin | head -n 40; sleep 0.1; done")
	term.Env = env
	start(b, term)

	s := newSession(b, 0)
	stop := make(chan struct{})
	go func() {
		defer close(stop)
		for _, c := range []string{"black", "red", "navy", "darkgreen", "gray30", "purple", "orange", "black"} {
			cmd := exec.Command(xsetroot, "-solid", c)
			cmd.Env = env
			cmd.Run()
			time.Sleep(time.Second) // the session's time line: a colour a second
		}
	}()
	recordX11vnc(b, s, addr, "bench-pw", stop)
	path := s.close()
	set := settings(1280, 720, 10)
	set.ThumbnailEvery = 10 * time.Second
	raw, frames := renderFrames(b, path, s, set)
	b.Logf("%d frames, capture of %d KiB", frames, fileSize(path)>>10)

	b.Run("baseline", func(b *testing.B) {
		defer reportCPU(b)()
		for range b.N {
			out := filepath.Join(b.TempDir(), "v.mp4")
			// The render's own encoder options: the same preset, and
			// ffmpeg's default threads on both sides.
			args := video.EncoderOptions{FFmpeg: ffmpeg, Width: set.Width, Height: set.Height, Framerate: set.Framerate,
				BitrateKbps: set.BitrateKbps, Preset: defaultConfig().Preset, Output: out}.Args()
			args[slices.Index(args, "-i")+1] = raw
			if out, err := exec.Command(ffmpeg, args...).CombinedOutput(); err != nil {
				b.Fatalf("ffmpeg: %v: %s", err, out)
			}
		}
	})
	b.Run("vigil", func(b *testing.B) {
		defer reportCPU(b)()
		for range b.N {
			if _, _, err := renderCapture(b, newRecorder(), path, s.pub, set); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reportCPU reports the CPU time, of this process and of the children it
// waited for (ffmpeg), that the benchmark takes per op: on a machine with
// few cores, what the render adds to ffmpeg's own work shows there first.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var self, children syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &self)
		syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
		var d time.Duration
		for _, u := range []syscall.Rusage{self, children} {
			d += time.Duration(u.Utime.Nano() + u.Stime.Nano())
		}
		return d
	}
	before := cpu()
	return func() {
		b.ReportMetric(float64((cpu()-before).Milliseconds())/float64(b.N), "cpu-ms/op")
	}
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

// renderFrames writes the frames a render of path makes into a raw RGB24
// file, and counts them.
func renderFrames(b *testing.B, path string, s *session, set sdk.RenderSettings) (string, int) {
	b.Helper()
	res := capture.Verify([]string{path}, s.pub)
	rd, err := capture.Open([]string{path}, s.pub, capture.ReadOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer rd.Close()
	cfg := defaultConfig()
	rn := &render{ctx: context.Background(), cfg: &cfg, set: set, rd: rd, size: fileSize(path), reported: -1}
	raw := filepath.Join(b.TempDir(), "frames.rgb")
	f, err := os.Create(raw)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	opts := replay.Options{Framerate: set.Framerate, Duration: res.End.Sub(res.Start), MaxRepaintsPerSecond: cfg.MaxRepaintsPerSecond,
		OnFrame: func(_ int, _ time.Duration, fb *rfb.Framebuffer, o *replay.Overlay) error {
			_, err := w.Write(rn.compose(fb, o))
			return err
		}}
	st, err := replay.Play(context.Background(), &records{render: rn}, opts)
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	return raw, st.Frames
}
