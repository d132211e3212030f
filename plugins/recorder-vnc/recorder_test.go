package main

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"errors"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/recorder-vnc/rfb"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

var (
	red   = [3]byte{255, 0, 0}
	blue  = [3]byte{0, 0, 255}
	green = [3]byte{0, 255, 0}
	white = [3]byte{255, 255, 255}
	black = [3]byte{0, 0, 0}
)

// colourSession is a 3.6 s session: red (Raw) from 0.2 s, blue (ZRLE) from
// 1.2 s, green (Hextile, RRE corner) from 2.2 s, then a switch to 16-bit
// pixels and white from 3.0 s; a cursor follows the pointer.
func colourSession(t testing.TB, segmentMax int64) (*session, string) {
	s := newSession(t, segmentMax)
	s.at(200*time.Millisecond).serverInit(320, 240)
	s.server(fbu(s.rawFill(0, 0, 320, 240, red)))
	s.at(1200 * time.Millisecond).server(fbu(s.zrleFill(0, 0, 320, 240, blue)))
	// A 4x4 black cursor, hot spot (0,0), and the pointer at (300,10).
	cursor := append(rectHeader(0, 0, 4, 4, rfb.EncCursor), bytes.Repeat(s.pixel(black), 16)...)
	cursor = append(cursor, 0xf0, 0xf0, 0xf0, 0xf0)
	s.server(fbu(cursor))
	s.write(capture.ScreenClient, []byte{5, 0, 1, 44, 0, 10})
	s.at(2200 * time.Millisecond).server(fbu(s.hextileFill(0, 0, 320, 240, green), s.rreFill(0, 0, 16, 16, white)))
	s.at(3000 * time.Millisecond)
	s.pf = pfRGB565
	s.meta(capture.SessionMeta{PixelFormat: s.pf.String()}) // the gateway's mark: the next message is 16-bit
	s.server(fbu(s.rawFill(0, 0, 320, 240, white)))
	s.at(3600 * time.Millisecond)
	return s, s.close()
}

func TestRender(t *testing.T) {
	sdktest.RequirePeer(t, "ffmpeg")
	s, path := colourSession(t, 0)
	for _, c := range []struct {
		name string
		w, h int
		fps  int
		// where to look in the output for the screen's centre and its
		// top-right corner (pointer), and a letterbox bar (-1: none)
		cx, cy, px, py, barY int
	}{
		{"same size", 320, 240, 10, 160, 120, 301, 11, -1},
		{"scaled and pillarboxed", 640, 360, 25, 320, 180, 531, 17, -1},
		{"letterboxed", 160, 240, 5, 80, 120, -1, -1, 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			res, out, err := renderCapture(t, newRecorder(), path, s.pub, settings(c.w, c.h, c.fps))
			if err != nil {
				t.Fatal(err)
			}
			if res.Duration < 3600*time.Millisecond || res.Duration > 4500*time.Millisecond {
				t.Errorf("duration %s, want about 3.6s", res.Duration)
			}
			var video string
			roles := map[string]int{}
			for _, f := range res.Files {
				roles[f.Role]++
				if _, err := os.Stat(filepath.Join(out, f.Path)); err != nil {
					t.Errorf("%s: %v", f.Path, err)
				}
				switch f.Role {
				case "video":
					video = filepath.Join(out, f.Path)
					if f.MediaType != "video/mp4" || f.Path != strings.TrimSuffix(filepath.Base(path), ".vsl")+".mp4" {
						t.Errorf("video %+v", f)
					}
				case "thumbnail", "poster":
					img, err := jpeg.Decode(bytes.NewReader(must(os.ReadFile(filepath.Join(out, f.Path)))))
					if err != nil {
						t.Fatalf("%s: %v", f.Path, err)
					}
					if f.Role == "poster" && (img.Bounds().Dx() != c.w || img.Bounds().Dy() != c.h) {
						t.Errorf("poster %v, want %dx%d", img.Bounds(), c.w, c.h)
					}
				}
			}
			if roles["video"] != 1 || roles["poster"] != 1 || roles["thumbnail"] != 4 { // at 0, 1, 2 and 3 s
				t.Fatalf("roles %v, want 1 video, 1 poster, 4 thumbnails", roles)
			}
			if ents, _ := os.ReadDir(out); len(ents) != len(res.Files) {
				t.Errorf("%d files in the output directory, %d rendered", len(ents), len(res.Files))
			}
			p := ffprobe(t, video)
			frame := 1.0 / float64(c.fps)
			if p.Codec != "h264" || p.Width != c.w || p.Height != c.h || math.Abs(p.Duration-res.Duration.Seconds()) > frame+0.001 {
				t.Errorf("ffprobe: %+v, want h264 %dx%d of %.3fs (±%.3f)", p, c.w, c.h, res.Duration.Seconds(), frame)
			}
			want := int(math.Ceil(res.Duration.Seconds() * float64(c.fps)))
			if p.Frames < want-1 || p.Frames > want+1 {
				t.Errorf("%d frames, want about %d", p.Frames, want)
			}
			for _, at := range []struct {
				t      time.Duration
				centre [3]byte
			}{{100 * time.Millisecond, black}, {800 * time.Millisecond, red}, {1800 * time.Millisecond, blue}, {2600 * time.Millisecond, green}, {3400 * time.Millisecond, white}} {
				f := frameAt(t, video, at.t, c.w, c.h)
				if !near(f, c.w, c.cx, c.cy, at.centre, 40) {
					t.Errorf("at %s the centre is %v, want %v", at.t, pixelAt(f, c.w, c.cx, c.cy), at.centre)
				}
				if c.px >= 0 && at.t > 1500*time.Millisecond && at.t < 3000*time.Millisecond && !near(f, c.w, c.px, c.py, black, 60) {
					t.Errorf("at %s the cursor's pixel (%d,%d) is %v, want black", at.t, c.px, c.py, pixelAt(f, c.w, c.px, c.py))
				}
				if c.barY >= 0 && !near(f, c.w, 2, c.barY, black, 30) {
					t.Errorf("at %s the border at (2,%d) is %v, want black", at.t, c.barY, pixelAt(f, c.w, 2, c.barY))
				}
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestRenderLaterSegment(t *testing.T) {
	sdktest.RequirePeer(t, "ffmpeg")
	// Segments of at most 64 KiB: the 300 KiB Raw update at 0.2 s fills
	// segments 0 to 4, and segment 5 holds the ZRLE blue, whose zlib
	// stream began in segment 0... and so on. Every later segment renders
	// only because the earlier ones are beside it.
	s, path := colourSession(t, 64<<10)
	files, err := capture.SessionFiles(path)
	if err != nil || len(files) < 3 {
		t.Fatalf("segments %v, %v", files, err)
	}
	last := files[len(files)-1]
	res, out, err := renderCapture(t, newRecorder(), last, s.pub, settings(320, 240, 10))
	if err != nil {
		t.Fatal(err)
	}
	var video string
	for _, f := range res.Files {
		if f.Role == "video" {
			video = filepath.Join(out, f.Path)
		}
	}
	f := frameAt(t, video, res.Duration-150*time.Millisecond, 320, 240)
	if !near(f, 320, 160, 120, white, 40) {
		t.Errorf("the last segment ends with %v at the centre, want white", pixelAt(f, 320, 160, 120))
	}
	if err := os.Remove(files[0]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := renderCapture(t, newRecorder(), last, s.pub, settings(320, 240, 10)); err == nil || !strings.Contains(err.Error(), "must lie beside it") {
		t.Errorf("without segment 0: %v, want an error saying the earlier segments must be there", err)
	}
}

// TestRenderRefuses: captures that do not verify and RFB streams that are
// malformed fail with ErrInvalidCapture and leave nothing behind.
func TestRenderRefuses(t *testing.T) {
	sdktest.RequirePeer(t, "ffmpeg")
	good, goodPath := colourSession(t, 0)
	cases := []struct {
		name  string
		build func(t *testing.T) (*session, string)
		want  string
	}{
		{"altered", func(t *testing.T) (*session, string) {
			b := must(os.ReadFile(goodPath))
			b[len(b)/2] ^= 0x40
			p := filepath.Join(t.TempDir(), filepath.Base(goodPath))
			if err := os.WriteFile(p, b, 0o600); err != nil {
				t.Fatal(err)
			}
			return good, p
		}, "altered"},
		{"wrong key", func(t *testing.T) (*session, string) {
			other := newSession(t, 0)
			other.close()
			return &session{pub: other.pub}, goodPath
		}, "signed by"},
		{"rectangle outside", func(t *testing.T) (*session, string) {
			s := newSession(t, 0)
			s.serverInit(64, 48)
			s.server(fbu(rectHeader(60, 0, 10, 1, rfb.EncRaw)))
			s.server(make([]byte, 40))
			return s, s.close()
		}, "outside the 64x48 framebuffer"},
		{"zlib bomb", func(t *testing.T) (*session, string) {
			s := newSession(t, 0)
			s.serverInit(64, 48)
			var z bytes.Buffer
			zw := zlib.NewWriter(&z)
			zw.Write(append([]byte{128, 1, 2, 3}, bytes.Repeat([]byte{255}, 4<<20)...))
			zw.Flush()
			s.server(fbu(append(binary.BigEndian.AppendUint32(rectHeader(0, 0, 64, 48, rfb.EncZRLE), uint32(z.Len())), z.Bytes()...)))
			return s, s.close()
		}, "run of"},
		{"repaint flood", func(t *testing.T) (*session, string) {
			s := newSession(t, 0)
			s.serverInit(1024, 1024)
			var rects [][]byte
			for range 4000 {
				rects = append(rects, s.rreFill(0, 0, 1024, 1024, red))
			}
			s.server(fbu(rects...))
			s.server(fbu(rects...))
			s.server(fbu(rects...))
			return s, s.close()
		}, "repaints the screen more than"},
		{"no screen", func(t *testing.T) (*session, string) {
			s := newSession(t, 0)
			s.meta(capture.SessionMeta{Protocol: "vnc", User: "alice"})
			return s, s.close()
		}, "no RFB screen data"},
		{"bad meta pixel format", func(t *testing.T) (*session, string) {
			s := newSession(t, 0)
			s.serverInit(64, 48)
			s.meta(capture.SessionMeta{PixelFormat: "bpp=24"})
			s.server(fbu(s.rawFill(0, 0, 1, 1, red)))
			return s, s.close()
		}, "pixel format"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, path := c.build(t)
			res, out, err := renderCapture(t, newRecorder(), path, s.pub, settings(320, 240, 10))
			if !errors.Is(err, sdk.ErrInvalidCapture) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Render = %+v, %v; want ErrInvalidCapture naming %q", res, err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "recorder-vnc: ") {
				t.Errorf("error %q does not name the component", err)
			}
			if ents, _ := os.ReadDir(out); len(ents) != 0 {
				t.Errorf("a failed render left %d files", len(ents))
			}
		})
	}
}

// TestRenderTruncatedEnd: a session cut inside a message (the target
// died mid-update) still renders, up to where it was cut.
func TestRenderTruncatedEnd(t *testing.T) {
	sdktest.RequirePeer(t, "ffmpeg")
	s := newSession(t, 0)
	s.serverInit(64, 48)
	s.server(fbu(s.rawFill(0, 0, 64, 48, blue)))
	s.at(500 * time.Millisecond)
	s.server(fbu(s.rawFill(0, 0, 64, 48, red))[:100])
	path := s.close()
	res, out, err := renderCapture(t, newRecorder(), path, s.pub, settings(64, 48, 10))
	if err != nil {
		t.Fatal(err)
	}
	f := frameAt(t, filepath.Join(out, res.Files[0].Path), 200*time.Millisecond, 64, 48)
	if !near(f, 64, 32, 24, blue, 40) {
		t.Errorf("centre %v, want blue", pixelAt(f, 64, 32, 24))
	}
}

func TestRenderSettingsAndCancel(t *testing.T) {
	sdktest.RequirePeer(t, "ffmpeg")
	s, path := colourSession(t, 0)
	for _, set := range []sdk.RenderSettings{
		{BitrateKbps: 800, Framerate: 10, Width: 321, Height: 240},
		{BitrateKbps: 800, Framerate: 0, Width: 320, Height: 240},
		{BitrateKbps: 0, Framerate: 10, Width: 320, Height: 240},
		{BitrateKbps: 800, Framerate: 10, Width: 320, Height: 100000},
	} {
		if _, _, err := renderCapture(t, newRecorder(), path, s.pub, set); !errors.Is(err, sdk.ErrInvalidConfig) {
			t.Errorf("%+v: %v, want ErrInvalidConfig", set, err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := t.TempDir()
	_, err := newRecorder().Render(ctx, sdk.RenderRequest{SessionID: "s", CapturePath: path, PublicKey: s.pub, OutputDir: out, Settings: settings(320, 240, 10)}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled render: %v", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("a cancelled render left %d files", len(ents))
	}
	// Cancelled while ffmpeg runs: the error still says so.
	ctx, cancel = context.WithCancel(context.Background())
	out = t.TempDir()
	var once sync.Once
	_, err = newRecorder().Render(ctx, sdk.RenderRequest{SessionID: "s", CapturePath: path, PublicKey: s.pub, OutputDir: out, Settings: settings(320, 240, 10)},
		func(p int) {
			if p > 0 {
				once.Do(cancel)
			}
		})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("render cancelled midway: %v", err)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("a cancelled render left %d files", len(ents))
	}
}

func TestConfigure(t *testing.T) {
	for _, c := range []struct {
		json string
		ok   bool
	}{
		{``, true}, {`{}`, true}, {`{"preset":"medium","thumbnail_width":160}`, true},
		{`{"preset":"ludicrous"}`, false}, {`{"thumbnail_width":2}`, false}, {`{"unknown":1}`, false},
		{`{"ffmpeg":"/nonexistent/ffmpeg"}`, false}, {`{"max_repaints_per_second":0}`, false}, {`{} {}`, false},
	} {
		err := newRecorder().Configure(context.Background(), []byte(c.json))
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, sdk.ErrInvalidConfig)) {
			t.Errorf("Configure(%s) = %v", c.json, err)
		}
	}
}

// TestPluginBinary renders through the real plugin process over gRPC.
func TestPluginBinary(t *testing.T) {
	sdktest.RequirePeer(t, "ffmpeg")
	s, path := colourSession(t, 0)
	bin := sdktest.BuildPlugin(t, ".", "vigil-plugin-recorder-vnc")
	r := sdktest.LaunchRecorder(t, bin, []byte(`{"preset":"ultrafast"}`))
	info, err := r.Info(context.Background())
	if err != nil || info.Name != "vnc" || info.Kind != sdk.KindRecorder {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	var progress []int
	out := t.TempDir()
	res, err := r.Render(context.Background(), sdk.RenderRequest{
		SessionID: "s-1", CapturePath: path, PublicKey: capture.MarshalPublicKey(s.pub), OutputDir: out, Settings: settings(320, 240, 10),
	}, func(p int) { progress = append(progress, p) })
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) != 6 || len(progress) == 0 || progress[len(progress)-1] != 100 {
		t.Errorf("files %+v, progress %v", res.Files, progress)
	}
	_, _, err = renderCapture(t, r, path, newSession(t, 0).pub, settings(320, 240, 10))
	if !errors.Is(err, sdk.ErrInvalidCapture) {
		t.Errorf("wrong key through gRPC: %v, want ErrInvalidCapture", err)
	}
}
