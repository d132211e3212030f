package e2e_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/e2e"
	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/rfbwire"
	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/vnctest"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// vncGateway is a started appliance with its VNC gateway on, user alice
// (group Users, recorded) allowed on target desk: an x11vnc on an Xvfb of
// the test's own.
type vncGateway struct {
	*e2e.Vigild
	x     *vnctest.X11vnc
	alice e2e.User
	// uploads is the directory of the file:// upload location
	// (uploads/{username}/{session_id}/{segment}.{ext}).
	uploads string
	extra   string
}

// The rendering settings of the tests' [recording] table: what ffprobe
// must find in the uploaded MP4.
const (
	vncWidth, vncHeight, vncFPS = 640, 360, 5
)

// vncConfig is the [recording] and [plugins.recorder-vnc] tables of the
// tests, with extraRecording added to [recording].
func vncConfig(uploads, extraRecording string) string {
	return fmt.Sprintf(`
[recording]
min_free_bytes = "1MB"
upload_location = "file://%s/{username}/{session_id}/{segment}.{ext}"
bitrate = 600
framerate = %d
width = %d
height = %d
thumbnail_every = "2s"
%s
[plugins.recorder-vnc]
preset = "ultrafast"
`, uploads, vncFPS, vncWidth, vncHeight, extraRecording)
}

func newVNCGateway(t *testing.T, extraRecording string) *vncGateway {
	t.Helper()
	sdktest.RequirePeer(t, "ffmpeg")
	sdktest.RequirePeer(t, "ffprobe")
	x := e2e.RequireX11vnc(t, 1280, 720)
	vnctest.XRun(t, x.D, "xsetroot", "-solid", "black")
	uploads := filepath.Join(t.TempDir(), "uploads")
	extra := vncConfig(uploads, extraRecording)
	v := e2e.NewVNCVigild(t, extra)
	v.Start()
	if !strings.Contains(v.ReadyLine(), "vnc "+v.VNCAddr()) {
		t.Errorf("ready line %q does not name the VNC listener %s", v.ReadyLine(), v.VNCAddr())
	}
	g := &vncGateway{Vigild: v, x: x, uploads: uploads, extra: extra}
	g.alice = v.AddUser("alice", "Users")
	v.AddVNCTarget("desk", x.Port, x.Password, "Users")
	return g
}

// watch logs in as alice:desk, asks for encs and keeps an update
// request outstanding, as viewers do, once the first screen is in.
func (g *vncGateway) watch(t *testing.T, encs ...int32) *vnctest.Client {
	t.Helper()
	c, err := g.DialVNC(g.alice, "alice:desk")
	if err != nil {
		t.Fatalf("VNC login as alice:desk: %v", err)
	}
	t.Cleanup(c.Close)
	c.SetEncodings(encs...)
	c.Follow()
	c.Request(false, 0, 0, c.Init.Width, c.Init.Height)
	c.WaitUpdates(t, 1)
	return c
}

// span is a stretch of wall-clock time the screen showed one thing.
type span struct{ from, to time.Time }

// mid is the middle of s on a time line that starts at start.
func (s span) mid(start time.Time) time.Duration { return s.from.Add(s.to.Sub(s.from) / 2).Sub(start) }

// paint changes the screen with an X client and waits until an update
// made after the change came through the gateway; the screen then holds
// for a while, so that the recording has it on its time line.
func paint(t *testing.T, c *vnctest.Client, change func()) span {
	t.Helper()
	n := c.UpdateCount()
	change()
	c.WaitUpdates(t, n+1)
	from := time.Now()
	time.Sleep(1200 * time.Millisecond) // screen time for the recording, not a wait for a condition
	return span{from, time.Now()}
}

// TestVNCSessionRecorded: an RFB client logs in through vigild's VNC
// gateway as alice (VeNCrypt X509Plain) and watches x11vnc's screen turn
// red, then blue, then show an xterm. The session is live in `vigilctl
// sessions list`, its capture is sealed and verifies, the pipeline renders
// it with recorder-vnc and uploads the MP4 under the upload-location
// template, and ffprobe finds the configured codec, size and length, with
// the colours at their times. Then admission refuses a recorded session
// when the spool has less free space than min_free_bytes, saying so.
func TestVNCSessionRecorded(t *testing.T) {
	sdktest.RequirePeer(t, "xterm")
	g := newVNCGateway(t, "")
	c := g.watch(t, rfbwire.EncZRLE, rfbwire.EncCopyRect, rfbwire.EncRaw, rfbwire.EncCursor, rfbwire.EncDesktopSize)
	if c.Init.Width != 1280 || c.Init.Height != 720 || !strings.HasSuffix(c.Init.Name, "[session recorded]") {
		t.Errorf("ServerInit %dx%d %q, want 1280x720 named ... [session recorded]", c.Init.Width, c.Init.Height, c.Init.Name)
	}

	create := g.WaitEvent("vnc", "session.create", e2e.Fields("user_name", "alice", "target_name", "desk", "result", "success"))
	id := create.S("session_id")
	g.WaitEvent("vnc", "account.login.successful", e2e.Fields("user_name", "alice", "method", "vencrypt-x509plain"))
	if create.S("recorded") != "true" || create.S("rs") != g.x.Addr() || create.S("vs") != g.VNCAddr() || create.S("protocol") != "vnc" {
		t.Errorf("session.create: %v", create)
	}
	var live *e2e.LiveSession
	for _, s := range g.Sessions() {
		if s.ID == id {
			live = &s
		}
	}
	if live == nil || live.Protocol != "vnc" || live.User != "alice" || live.Target != "desk" || live.BytesOut == 0 {
		t.Errorf("sessions list: session %s is %+v", id, live)
	}

	red := paint(t, c, func() { vnctest.XRun(t, g.x.D, "xsetroot", "-solid", "red") })
	blue := paint(t, c, func() { vnctest.XRun(t, g.x.D, "xsetroot", "-solid", "blue") })
	term := paint(t, c, func() {
		vnctest.XStart(t, g.x.D, "xterm", "-geometry", "60x12+0+0", "-bg", "white", "-fg", "black", "-e", "sh", "-c", "echo vigil; sleep 120")
	})
	c.Close()

	destroy := g.WaitEvent("vnc", "session.destroy", e2e.Fields("session_id", id))
	if destroy.S("reason") != "normal" {
		t.Errorf("session.destroy reason %q, want normal", destroy.S("reason"))
	}
	vsl := g.WaitSealed(1)[0]
	if out := g.MustCtl("", "session-logs", "verify", vsl); !strings.Contains(out, vsl+": verified") {
		t.Errorf("session-logs verify: %q", out)
	}
	g.WaitEvent("capture", "recording.segment.sealed", e2e.Fields("session_id", id))
	g.WaitEvent("pipeline", "recording.encode.done", e2e.Fields("session_id", id))
	g.WaitEvent("pipeline", "recording.upload.done", e2e.Fields("session_id", id))

	seg := capture.VerifyFile(vsl, g.PublicKey())
	if seg.Status != capture.Intact {
		t.Fatalf("capture: %s", seg.Describe())
	}
	video := filepath.Join(g.uploads, "alice", id, "0001.mp4")
	checkVideo(t, video, seg.End.Sub(seg.Start))
	for _, f := range []string{"0001.vsl", "0001.poster.jpg", "0001.thumb-0000.jpg"} {
		if _, err := os.Stat(filepath.Join(g.uploads, "alice", id, f)); err != nil {
			t.Errorf("upload: %v", err)
		}
	}
	sx, sy := vncWidth*8/10, vncHeight*8/10 // away from the xterm
	tx, ty := vncWidth*5/100, vncHeight*12/100
	for _, chk := range []struct {
		what   string
		at     time.Duration
		x, y   int
		colour [3]byte
	}{
		{"red screen", red.mid(seg.Start), sx, sy, vnctest.Red},
		{"blue screen", blue.mid(seg.Start), sx, sy, vnctest.Blue},
		{"blue beside the xterm", term.mid(seg.Start), sx, sy, vnctest.Blue},
		{"the xterm's white", term.mid(seg.Start), tx, ty, vnctest.White},
	} {
		f := vnctest.FrameAt(t, video, chk.at, vncWidth, vncHeight)
		if got := vnctest.ColourAt(f, vncWidth, chk.x, chk.y); !vnctest.Near(got, chk.colour, 48) {
			t.Errorf("%s at %s: pixel (%d,%d) is %v, want %v", chk.what, chk.at, chk.x, chk.y, got, chk.colour)
		}
	}

	// RFB 3.3 cannot carry a user name (the server picks the security
	// type, and 3.3 has no VeNCrypt): refused, saying so.
	_, err := vnctest.Dial(g.VNCAddr(), vnctest.LoginOpts{Version: "RFB 003.003\n"})
	var refused *rfbwire.RefusedError
	if !errors.As(err, &refused) || !strings.Contains(refused.Reason, "RFB 3.3") || !strings.Contains(refused.Reason, "VeNCrypt") {
		t.Errorf("an RFB 3.3 login: %v, want a refusal naming RFB 3.3 and VeNCrypt", err)
	}

	// Admission: with min_free_bytes above the spool's free space a
	// recorded session is refused, and the viewer is told why.
	g.WriteVNCConfig(strings.Replace(g.extra, `min_free_bytes = "1MB"`, `min_free_bytes = "1000TB"`, 1))
	g.Signal(syscall.SIGHUP)
	g.WaitEvent("core", "config.reload")
	_, err = g.DialVNC(g.alice, "alice:desk")
	if !errors.As(err, &refused) || !strings.Contains(refused.Reason, "free disk space on the recording spool") ||
		!strings.Contains(refused.Reason, "1000000000 MB minimum") {
		t.Errorf("login with the spool below min_free_bytes: %v, want a refusal naming the free space and the minimum", err)
	}
	g.WaitEvent("vnc", "admission.denied", e2e.Fields("user_name", "alice", "reason", "low_disk_space", "result", "denied"))
	if n := len(e2e.Find(g.Events("vnc"), "session.create")); n != 1 {
		t.Errorf("%d session.create events, want 1 (the refused session must not start)", n)
	}
}

// checkVideo checks what ffprobe says of an MP4 against the [recording]
// settings and the segment's length.
func checkVideo(t *testing.T, path string, length time.Duration) {
	t.Helper()
	info := vnctest.FFprobe(t, path)
	frame := 1 / float64(vncFPS)
	if info.Codec != "h264" || info.Width != vncWidth || info.Height != vncHeight ||
		math.Abs(info.Duration-length.Seconds()) > frame+0.001 {
		t.Errorf("%s: %+v, want h264 %dx%d lasting %.3fs ±%.3fs", path, info, vncWidth, vncHeight, length.Seconds(), frame)
	}
}

// TestVNCTigerVNCViewerKilled: TigerVNC's viewer, under an Xvfb of its
// own, logs in through vigild with its default security types (it picks
// VeNCrypt X509Plain, the one offered), trusting the gateway's generated
// certificate (-X509CA), the user name and password from VNC_USERNAME and
// VNC_PASSWORD, and shows the remote screen; `vigilctl sessions kill`
// ends the session and the viewer; the session is recorded, rendered and
// uploaded, and the recording shows what the viewer showed.
func TestVNCTigerVNCViewerKilled(t *testing.T) {
	viewerBin := sdktest.RequirePeer(t, "xtigervncviewer")
	g := newVNCGateway(t, "")
	vd, err := vnctest.StartXvfb(1280, 720)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vd.Xvfb.Stop)
	cmd := exec.Command(viewerBin,
		"-X509CA", g.VNCCertPath(), "-X509CRL", "",
		"-ReconnectOnError=0", "-AlertOnFatalError=0", "-Shared=1", "-FullScreen=0",
		"127.0.0.1::"+strconv.Itoa(g.VNCPort()))
	cmd.Env = append(vd.Env(), "HOME="+t.TempDir(), "VNC_USERNAME=alice:desk", "VNC_PASSWORD="+g.alice.Password)
	viewer := e2e.StartProc(t, cmd)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("viewer output:\n%s%s", viewer.Stdout, viewer.Stderr)
		}
	})

	create := g.WaitEvent("vnc", "session.create", e2e.Fields("user_name", "alice", "target_name", "desk"))
	id := create.S("session_id")
	grab := func() [3]byte {
		out, err := exec.Command("ffmpeg", "-v", "error", "-f", "x11grab", "-video_size", "1280x720",
			"-i", ":"+strconv.Itoa(vd.Num), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
		if err != nil || len(out) != 3*1280*720 {
			t.Fatalf("grabbing the viewer's screen: %v", err)
		}
		return vnctest.ColourAt(out, 1280, 400, 300)
	}
	vnctest.XRun(t, g.x.D, "xsetroot", "-solid", "green")
	e2e.Poll(t, e2e.EventTimeout, func() bool { return vnctest.Near(grab(), vnctest.Green, 40) },
		func() string { return fmt.Sprintf("the viewer to show the green screen (it shows %v)", grab()) })
	green := span{from: time.Now()}
	time.Sleep(1200 * time.Millisecond) // screen time for the recording, not a wait for a condition
	green.to = time.Now()

	g.MustCtl("", "sessions", "kill", id)
	viewer.Wait(t, e2e.EventTimeout)
	if d := g.WaitEvent("vnc", "session.destroy", e2e.Fields("session_id", id)); d.S("reason") != "killed" {
		t.Errorf("session.destroy reason %q, want killed", d.S("reason"))
	}
	g.WaitEvent("vnc", "session.kill", e2e.Fields("session_id", id))
	for _, s := range g.Sessions() {
		if s.ID == id {
			t.Errorf("sessions list still shows the killed session %s", id)
		}
	}
	vsl := g.WaitSealed(1)[0]
	g.MustCtl("", "session-logs", "verify", vsl)
	g.WaitEvent("pipeline", "recording.upload.done", e2e.Fields("session_id", id))
	seg := capture.VerifyFile(vsl, g.PublicKey())
	video := filepath.Join(g.uploads, "alice", id, "0001.mp4")
	checkVideo(t, video, seg.End.Sub(seg.Start))
	if got := vnctest.ColourAt(vnctest.FrameAt(t, video, green.mid(seg.Start), vncWidth, vncHeight), vncWidth, 200, 150); !vnctest.Near(got, vnctest.Green, 48) {
		t.Errorf("the recording at %s shows %v, want green", green.mid(seg.Start), got)
	}
}

// TestVNCSegmentsRenderAlone: with 1 MiB segments and retention 0, a VNC
// session spans several segments. Each later segment is rendered by
// replaying the earlier ones, so the pipeline keeps those past their
// retention until the session has ended and every later segment is
// rendered; then it deletes them all. The last segment's MP4 shows the
// screen that segment inherited (red, painted in segment 0) and what
// changed in it (blue).
func TestVNCSegmentsRenderAlone(t *testing.T) {
	sdktest.RequirePeer(t, "xterm")
	g := newVNCGateway(t, "segment_max_bytes = \"1MiB\"\nretention = \"0\"\n")
	c := g.watch(t, rfbwire.EncZRLE, rfbwire.EncCopyRect, rfbwire.EncRaw)
	id := g.WaitEvent("vnc", "session.create", e2e.Fields("user_name", "alice")).S("session_id")

	paint(t, c, func() { vnctest.XRun(t, g.x.D, "xsetroot", "-solid", "red") })
	// Text scrolling in an xterm (960x650 pixels at the top left) fills
	// segment 0; the rest of the screen stays red.
	spew := vnctest.XStart(t, g.x.D, "xterm", "-geometry", "160x50+0+0", "-e", "sh", "-c", "while :; do head -c 30000 /dev/urandom | base64; done")
	sealed0 := g.WaitEvent("capture", "recording.segment.sealed", e2e.Fields("session_id", id, "segment", "0"))
	spew.Stop()
	// Segment 0 is uploaded while the session runs, and kept although its
	// retention (0) is over: segment 1 needs it.
	g.WaitEvent("pipeline", "recording.upload.done", e2e.Fields("session_id", id, "segment", "0"))
	if _, err := os.Stat(sealed0.S("path")); err != nil {
		t.Errorf("segment 0 after its upload, the session still running: %v", err)
	}
	blue := paint(t, c, func() { vnctest.XRun(t, g.x.D, "xsetroot", "-solid", "blue") })
	c.Close()
	g.WaitEvent("vnc", "session.destroy", e2e.Fields("session_id", id))

	segs := e2e.Find(g.Events("capture"), "recording.segment.sealed", e2e.Fields("session_id", id))
	last := len(segs) - 1
	if last < 1 {
		t.Fatalf("the session has %d segment(s), want several", len(segs))
	}
	for n := range segs {
		sn := strconv.Itoa(n)
		g.WaitEvent("pipeline", "recording.encode.done", e2e.Fields("session_id", id, "segment", sn))
		g.WaitEvent("pipeline", "recording.upload.done", e2e.Fields("session_id", id, "segment", sn))
	}
	if failed := e2e.Find(g.Events("pipeline"), "recording.encode.failed", e2e.Fields("session_id", id)); len(failed) > 0 {
		t.Errorf("renders failed: %v", failed)
	}
	// Past the renders, retention deletes every local copy.
	for n, s := range segs {
		g.WaitEvent("pipeline", "recording.retention.delete", e2e.Fields("session_id", id, "segment", strconv.Itoa(n)))
		if _, err := os.Stat(s.S("path")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("segment %d after retention: %v, want it deleted", n, err)
		}
	}

	dir := filepath.Join(g.uploads, "alice", id)
	clip := fmt.Sprintf("%04d", last+1)
	seg := capture.VerifyFile(filepath.Join(dir, clip+".vsl"), g.PublicKey())
	if seg.Status != capture.Intact {
		t.Fatalf("uploaded segment %d: %s", last, seg.Describe())
	}
	video := filepath.Join(dir, clip+".mp4")
	checkVideo(t, video, seg.End.Sub(seg.Start))
	sx, sy := vncWidth*8/10, vncHeight*8/10 // beside the xterm
	if got := vnctest.ColourAt(vnctest.FrameAt(t, video, 0, vncWidth, vncHeight), vncWidth, sx, sy); !vnctest.Near(got, vnctest.Red, 48) {
		t.Errorf("segment %d's first frame shows %v at (%d,%d), want the red it inherited from segment 0", last, got, sx, sy)
	}
	if at := blue.mid(seg.Start); at > 0 {
		if got := vnctest.ColourAt(vnctest.FrameAt(t, video, at, vncWidth, vncHeight), vncWidth, sx, sy); !vnctest.Near(got, vnctest.Blue, 48) {
			t.Errorf("segment %d at %s shows %v, want blue", last, at, got)
		}
	} else {
		t.Errorf("the blue screen (%s) is not in the last segment (from %s)", blue.from, seg.Start)
	}
}

// TestVNCHostileTarget: VNC servers that send what RFB's framing forbids
// (a rectangle outside the screen) or what only a decoder can tell is
// wrong (a zlib bomb in a ZRLE rectangle) cannot crash vigild. The first
// session ends with target_protocol_error, the second when the server
// hangs up; both captures are sealed, verify, and stay in the spool; each
// render fails with an error that says what is wrong; vigild and its
// recorder go on serving a well-behaved server.
func TestVNCHostileTarget(t *testing.T) {
	sdktest.RequirePeer(t, "ffmpeg")
	good := vnctest.RawUpdate(vnctest.PFRGB888, 0, 0, 64, 48, 0x0000ff)
	cases := []struct {
		name, reason, render string
		ft                   *vnctest.FakeTarget
	}{
		{"outside", "target_protocol_error", "outside the 64x48 framebuffer",
			&vnctest.FakeTarget{Serve: vnctest.Hostile(false, good, vnctest.FBU(append(vnctest.RectHeader(60, 0, 10, 1, rfbwire.EncRaw), make([]byte, 40)...)))}},
		{"bomb", "target_closed", "run of",
			&vnctest.FakeTarget{Serve: vnctest.Hostile(true, good, vnctest.FBU(vnctest.ZRLERect(0, 0, 64, 48,
				vnctest.Deflate(append([]byte{128, 1, 2, 3}, bytes.Repeat([]byte{255}, 4<<20)...)))))}},
	}
	uploads := filepath.Join(t.TempDir(), "uploads")
	v := e2e.NewVNCVigild(t, vncConfig(uploads, ""))
	v.Start()
	alice := v.AddUser("alice", "Users")
	for _, c := range cases {
		c.ft.Password = "fake-" + c.name
		vnctest.StartFakeTarget(t, c.ft)
		v.AddVNCTarget(c.name, c.ft.Port, c.ft.Password, "Users")
	}
	ok := vnctest.StartFakeTarget(t, &vnctest.FakeTarget{Password: "fake-ok"})
	v.AddVNCTarget("ok", ok.Port, ok.Password, "Users")
	pub := v.PublicKey()

	// No subtests: the harness reports to the test that made vigild.
	for _, c := range cases {
		cl, err := v.DialVNC(alice, "alice:"+c.name)
		if err != nil {
			t.Fatalf("%s: login: %v", c.name, err)
		}
		cl.SetEncodings(rfbwire.EncZRLE, rfbwire.EncRaw)
		cl.Request(false, 0, 0, 64, 48)
		create := v.WaitEvent("vnc", "session.create", e2e.Fields("target_name", c.name))
		id := create.S("session_id")
		if d := v.WaitEvent("vnc", "session.destroy", e2e.Fields("session_id", id)); d.S("reason") != c.reason {
			t.Errorf("%s: session.destroy reason %q, want %q", c.name, d.S("reason"), c.reason)
		}
		cl.Close()
		vsl := v.WaitEvent("capture", "recording.segment.sealed", e2e.Fields("session_id", id)).S("path")
		if out := v.MustCtl("", "session-logs", "verify", vsl); !strings.Contains(out, vsl+": verified") {
			t.Errorf("%s: session-logs verify: %q", c.name, out)
		}
		failed := v.WaitEvent("pipeline", "recording.encode.failed", e2e.Fields("session_id", id))
		if !strings.Contains(failed.S("error"), c.render) {
			t.Errorf("%s: recording.encode.failed error %q, want it to say %q", c.name, failed.S("error"), c.render)
		}
		if res := capture.VerifyFile(vsl, pub); res.Status != capture.Intact {
			t.Errorf("%s: the capture after the failed render: %s", c.name, res.Describe())
		}
	}

	if !v.Running() {
		t.Fatal("vigild exited")
	}
	cl, err := v.DialVNC(alice, "alice:ok")
	if err != nil {
		t.Fatalf("login to a well-behaved server after the hostile ones: %v", err)
	}
	defer cl.Close()
	cl.Request(false, 0, 0, 64, 48)
	cl.WaitUpdates(t, 1)
	if p := v.Plugins()["recorder-vnc"]; p.State != "running" || p.Restarts != 0 {
		t.Errorf("recorder-vnc after the hostile renders: %+v, want running, never restarted", p)
	}
}
