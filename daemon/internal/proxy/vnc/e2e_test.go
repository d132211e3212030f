package vncproxy

import (
	"context"
	"math"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/rfbwire"
	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/vnctest"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// The end-to-end tests drive real peers: Xvfb with x11vnc as the target,
// TigerVNC's viewer, ffmpeg and ffprobe, and the VNC recorder plugin as a
// real process (built from plugins/recorder-vnc, or taken from
// $VIGIL_BIN_DIR), which renders the captures the gateway wrote.

const recorderPkg = "github.com/vigilgw/vigil/plugins/recorder-vnc"

// launchRecorder starts the VNC recorder plugin for the test.
func launchRecorder(t testing.TB) sdk.Recorder {
	t.Helper()
	bin := sdktest.PluginBinary(t, recorderPkg, "vigil-plugin-recorder-vnc")
	return sdktest.LaunchRecorder(t, bin, []byte(`{"preset":"veryfast"}`))
}

// render renders a sealed capture with the plugin.
func (r *fileRecorder) render(t testing.TB, rec sdk.Recorder, oc *openedCapture, set sdk.RenderSettings) (sdk.RenderResult, string, error) {
	t.Helper()
	out := t.TempDir()
	res, err := rec.Render(context.Background(), sdk.RenderRequest{
		SessionID: oc.meta.SessionID, CapturePath: oc.sealed, PublicKey: capture.MarshalPublicKey(r.pub),
		OutputDir: out, Settings: set,
	}, nil)
	return res, out, err
}

func videoOf(t testing.TB, res sdk.RenderResult, dir string) string {
	t.Helper()
	for _, f := range res.Files {
		if f.Role == "video" {
			return filepath.Join(dir, f.Path)
		}
	}
	t.Fatalf("no video in %+v", res.Files)
	return ""
}

// xLock keeps tests that change the shared X screen apart.
var xLock sync.Mutex

// TestX11vncSessionRenders: a Go viewer through the gateway to x11vnc
// while the screen turns red, blue, then shows an xterm; the capture
// verifies, and the plugin's MP4 has the configured codec, size and
// length and shows those colours at those times.
func TestX11vncSessionRenders(t *testing.T) {
	x := requireX11vnc(t)
	sdktest.RequirePeer(t, "xterm")
	sdktest.RequirePeer(t, "ffmpeg")
	xLock.Lock()
	defer xLock.Unlock()
	g := newGateway(t, []Target{x11Target(x, "desk")})
	rec := launchRecorder(t)
	pf565 := rfbwire.PixelFormat{BitsPerPixel: 16, Depth: 16, TrueColour: true, RedMax: 31, GreenMax: 63, BlueMax: 31, RedShift: 11, GreenShift: 5}
	pf233 := rfbwire.PixelFormat{BitsPerPixel: 8, Depth: 8, TrueColour: true, RedMax: 7, GreenMax: 7, BlueMax: 3, RedShift: 0, GreenShift: 3, BlueShift: 6}
	for _, v := range []struct {
		name string
		pf   *rfbwire.PixelFormat
		encs []int32
		w, h int
		fps  int
	}{
		{"zrle-32bpp", nil, []int32{rfbwire.EncZRLE, rfbwire.EncCopyRect, rfbwire.EncRaw, rfbwire.EncCursor, rfbwire.EncDesktopSize}, 1280, 720, 10},
		{"hextile-16bpp", &pf565, []int32{rfbwire.EncHextile, rfbwire.EncRaw}, 640, 360, 10},
		{"tight-32bpp", nil, []int32{rfbwire.EncTight, rfbwire.EncCopyRect, rfbwire.EncRaw}, 640, 360, 5},
		{"rre-8bpp", &pf233, []int32{rfbwire.EncRRE, rfbwire.EncCopyRect, rfbwire.EncRaw}, 640, 360, 5},
	} {
		t.Run(v.name, func(t *testing.T) {
			vnctest.XRun(t, x.D, "xsetroot", "-solid", "black")
			before := len(g.rec.all())
			c := g.mustDial(t, "alice:desk")
			if c.Init.Width != 1280 || c.Init.Height != 720 {
				t.Fatalf("ServerInit %+v", c.Init)
			}
			if v.pf != nil {
				c.SetPixelFormat(*v.pf)
			}
			c.SetEncodings(v.encs...)
			c.Follow()
			c.Request(false, 0, 0, 1280, 720)
			c.WaitUpdates(t, 1)
			// Each phase: make the change, wait for the gateway to relay
			// an update made after it, then hold the screen for a while
			// (the recording needs that time on its time line).
			type span struct{ from, to time.Time }
			phase := func(change func()) span {
				change()
				n := c.UpdateCount()
				c.WaitUpdates(t, n+1)
				from := time.Now()
				time.Sleep(1200 * time.Millisecond)
				return span{from, time.Now()}
			}
			redSpan := phase(func() { vnctest.XRun(t, x.D, "xsetroot", "-solid", "red") })
			blueSpan := phase(func() { vnctest.XRun(t, x.D, "xsetroot", "-solid", "blue") })
			termSpan := phase(func() {
				vnctest.XStart(t, x.D, "xterm", "-geometry", "60x12+0+0", "-bg", "white", "-fg", "black", "-e", "sh", "-c", "echo vigil; sleep 120")
			})
			c.Close()
			sdktest.WaitFor(t, 20*time.Second, "the capture", func() bool { return len(g.rec.all()) == before+1 })
			oc := g.rec.all()[before]
			select {
			case <-oc.closed:
			case <-time.After(20 * time.Second):
				t.Fatal("the capture was not closed")
			}
			if res := capture.VerifyFile(oc.sealed, g.rec.pub); res.Status != capture.Intact {
				t.Fatalf("capture: %s", res.Describe())
			}
			set := sdk.RenderSettings{BitrateKbps: 1500, Framerate: v.fps, Width: v.w, Height: v.h, ThumbnailEvery: 2 * time.Second}
			res, dir, err := g.rec.render(t, rec, oc, set)
			if err != nil {
				t.Fatal(err)
			}
			video := videoOf(t, res, dir)
			info := vnctest.FFprobe(t, video)
			if info.Codec != "h264" || info.Width != v.w || info.Height != v.h ||
				math.Abs(info.Duration-res.Duration.Seconds()) > 1/float64(v.fps)+0.001 {
				t.Errorf("video %+v, want h264 %dx%d lasting %.3fs ±%.3f", info, v.w, v.h, res.Duration.Seconds(), 1/float64(v.fps))
			}
			if want := math.Ceil(res.Duration.Seconds() * float64(v.fps)); math.Abs(float64(info.Frames)-want) > 1 {
				t.Errorf("%d frames, want %.0f", info.Frames, want)
			}
			start := oc.meta.Start
			mid := func(s span) time.Duration { return s.from.Add(s.to.Sub(s.from) / 2).Sub(start) }
			sx, sy := v.w*8/10, v.h*8/10 // away from the xterm
			tx, ty := v.w*5/100, v.h*12/100
			for _, chk := range []struct {
				what   string
				at     time.Duration
				x, y   int
				colour [3]byte
			}{
				{"red screen", mid(redSpan), sx, sy, vnctest.Red},
				{"blue screen", mid(blueSpan), sx, sy, vnctest.Blue},
				{"blue beside the xterm", mid(termSpan), sx, sy, vnctest.Blue},
				{"the xterm's white", mid(termSpan), tx, ty, vnctest.White},
			} {
				f := vnctest.FrameAt(t, video, chk.at, v.w, v.h)
				if got := vnctest.ColourAt(f, v.w, chk.x, chk.y); !vnctest.Near(got, chk.colour, 48) {
					t.Errorf("%s at %s: pixel (%d,%d) is %v, want %v", chk.what, chk.at, chk.x, chk.y, got, chk.colour)
				}
			}
		})
	}
}
