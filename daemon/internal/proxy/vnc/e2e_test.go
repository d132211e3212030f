package vncproxy

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/rfbwire"
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

type videoInfo struct {
	codec         string
	width, height int
	duration      float64
	frames        int
}

func ffprobe(t testing.TB, path string) videoInfo {
	t.Helper()
	bin := sdktest.RequirePeer(t, "ffprobe")
	out, err := exec.Command(bin, "-v", "error", "-select_streams", "v:0", "-count_frames",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames:format=duration", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	var v struct {
		Streams []struct {
			CodecName    string `json:"codec_name"`
			Width        int    `json:"width"`
			Height       int    `json:"height"`
			NbReadFrames string `json:"nb_read_frames"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &v); err != nil || len(v.Streams) != 1 {
		t.Fatalf("ffprobe: %s %v", out, err)
	}
	info := videoInfo{codec: v.Streams[0].CodecName, width: v.Streams[0].Width, height: v.Streams[0].Height}
	info.duration, _ = strconv.ParseFloat(v.Format.Duration, 64)
	info.frames, _ = strconv.Atoi(v.Streams[0].NbReadFrames)
	return info
}

// frameAt decodes the video's frame at d into RGB24.
func frameAt(t testing.TB, path string, d time.Duration, w, h int) []byte {
	t.Helper()
	out, err := exec.Command(sdktest.RequirePeer(t, "ffmpeg"), "-v", "error", "-ss", fmt.Sprintf("%.3f", d.Seconds()),
		"-i", path, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
	if err != nil || len(out) != 3*w*h {
		t.Fatalf("frame at %s: %d bytes, %v", d, len(out), err)
	}
	return out
}

func colourAt(f []byte, w, x, y int) [3]byte {
	p := f[3*(y*w+x):]
	return [3]byte{p[0], p[1], p[2]}
}

func close3(a, b [3]byte, tol int) bool {
	for i := range a {
		if d := int(a[i]) - int(b[i]); d > tol || d < -tol {
			return false
		}
	}
	return true
}

var (
	red   = [3]byte{255, 0, 0}
	blue  = [3]byte{0, 0, 255}
	white = [3]byte{255, 255, 255}
)

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
	g := newGateway(t, []Target{x.target("desk")})
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
			xrun(t, x.d, "xsetroot", "-solid", "black")
			before := len(g.rec.all())
			c := g.mustDial(t, "alice:desk")
			if c.init.Width != 1280 || c.init.Height != 720 {
				t.Fatalf("ServerInit %+v", c.init)
			}
			if v.pf != nil {
				c.setPixelFormat(*v.pf)
			}
			c.setEncodings(v.encs...)
			c.follow()
			c.request(false, 0, 0, 1280, 720)
			c.waitUpdates(t, 1)
			// Each phase: make the change, wait for the gateway to relay
			// an update made after it, then hold the screen for a while
			// (the recording needs that time on its time line).
			type span struct{ from, to time.Time }
			phase := func(change func()) span {
				change()
				n := c.updateCount()
				c.waitUpdates(t, n+1)
				from := time.Now()
				time.Sleep(1200 * time.Millisecond)
				return span{from, time.Now()}
			}
			redSpan := phase(func() { xrun(t, x.d, "xsetroot", "-solid", "red") })
			blueSpan := phase(func() { xrun(t, x.d, "xsetroot", "-solid", "blue") })
			termSpan := phase(func() {
				xstart(t, x.d, "xterm", "-geometry", "60x12+0+0", "-bg", "white", "-fg", "black", "-e", "sh", "-c", "echo vigil; sleep 120")
			})
			c.close()
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
			info := ffprobe(t, video)
			if info.codec != "h264" || info.width != v.w || info.height != v.h ||
				math.Abs(info.duration-res.Duration.Seconds()) > 1/float64(v.fps)+0.001 {
				t.Errorf("video %+v, want h264 %dx%d lasting %.3fs ±%.3f", info, v.w, v.h, res.Duration.Seconds(), 1/float64(v.fps))
			}
			if want := math.Ceil(res.Duration.Seconds() * float64(v.fps)); math.Abs(float64(info.frames)-want) > 1 {
				t.Errorf("%d frames, want %.0f", info.frames, want)
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
				{"red screen", mid(redSpan), sx, sy, red},
				{"blue screen", mid(blueSpan), sx, sy, blue},
				{"blue beside the xterm", mid(termSpan), sx, sy, blue},
				{"the xterm's white", mid(termSpan), tx, ty, white},
			} {
				f := frameAt(t, video, chk.at, v.w, v.h)
				if got := colourAt(f, v.w, chk.x, chk.y); !close3(got, chk.colour, 48) {
					t.Errorf("%s at %s: pixel (%d,%d) is %v, want %v", chk.what, chk.at, chk.x, chk.y, got, chk.colour)
				}
			}
		})
	}
}
