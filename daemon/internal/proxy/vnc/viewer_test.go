package vncproxy

import (
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/vnctest"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// TestTigerVNCViewer: TigerVNC's viewer, on an Xvfb of its own, logs in
// through the gateway with VeNCrypt X509Plain, trusting the gateway's
// self-signed certificate (-X509CA) and taking the user name and password
// from VNC_USERNAME and VNC_PASSWORD, the way it runs without asking. The
// session is recorded, shows on the viewer's screen, and an
// administrator's kill ends it and the viewer with it.
func TestTigerVNCViewer(t *testing.T) {
	x := requireX11vnc(t)
	viewerBin := sdktest.RequirePeer(t, "xtigervncviewer")
	sdktest.RequirePeer(t, "ffmpeg")
	xLock.Lock()
	defer xLock.Unlock()
	vnctest.XRun(t, x.D, "xsetroot", "-solid", "black")
	g := newGateway(t, []Target{x11Target(x, "desk")})
	vd, err := vnctest.StartXvfb(1280, 720)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(vd.Xvfb.Stop)

	_, port, _ := net.SplitHostPort(g.addr)
	cmd := exec.Command(viewerBin,
		"-SecurityTypes", "X509Plain", "-X509CA", g.certPEM, "-X509CRL", "",
		"-ReconnectOnError=0", "-AlertOnFatalError=0", "-Shared=1", "-FullScreen=0",
		"127.0.0.1::"+port)
	cmd.Env = append(vd.Env(), "HOME="+t.TempDir(), "VNC_USERNAME=alice:desk", "VNC_PASSWORD="+alicePassword)
	viewer, err := vnctest.StartChild("xtigervncviewer", cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(viewer.Stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("viewer output:\n%s", viewer.Out)
		}
	})

	create := g.events.wait(t, "session.create")
	if login := g.events.named("account.login.successful"); len(login) != 1 || login[0].UserName != "alice" {
		t.Fatalf("logins %+v", login)
	}
	if create.TargetName != "desk" || create.Extra["recorded"] != "true" {
		t.Errorf("session.create %+v", create)
	}
	id := create.SessionID
	bytesOut := func() int64 {
		s, ok := g.reg.Get(id)
		if !ok {
			return -1
		}
		return s.BytesOut
	}
	sdktest.WaitFor(t, 20*time.Second, "the first screen to reach the viewer", func() bool { return bytesOut() > 1000 })
	vnctest.XRun(t, x.D, "xsetroot", "-solid", "green")
	// The viewer shows it: its own screen turns green where the remote
	// desktop is drawn (ffmpeg grabs the viewer's X display).
	grab := func() [3]byte {
		out, err := exec.Command(sdktest.RequirePeer(t, "ffmpeg"), "-v", "error", "-f", "x11grab", "-video_size", "1280x720",
			"-i", ":"+strconv.Itoa(vd.Num), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
		if err != nil || len(out) != 3*1280*720 {
			t.Fatalf("grabbing the viewer's screen: %v", err)
		}
		return vnctest.ColourAt(out, 1280, 400, 300)
	}
	sdktest.WaitFor(t, 20*time.Second, "the viewer to show the green screen", func() bool { return vnctest.Near(grab(), vnctest.Green, 40) })
	greenSince := time.Now()
	time.Sleep(1200 * time.Millisecond) // keep green on the recording's time line for a while
	greenUntil := time.Now()

	if err := g.reg.Kill(id, "admin"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-viewer.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the viewer is still running 10 s after its session was killed")
	}
	if e := g.events.wait(t, "session.destroy"); e.Reason != "killed" {
		t.Errorf("destroy reason %q", e.Reason)
	}
	oc := g.rec.only(t)
	if res := capture.VerifyFile(oc.sealed, g.rec.pub); res.Status != capture.Intact {
		t.Fatalf("capture: %s", res.Describe())
	}
	res, dir, err := g.rec.render(t, launchRecorder(t), oc, sdk.RenderSettings{BitrateKbps: 800, Framerate: 5, Width: 640, Height: 360})
	if err != nil {
		t.Fatal(err)
	}
	at := greenSince.Add(greenUntil.Sub(greenSince) / 2).Sub(oc.meta.Start)
	if got := vnctest.ColourAt(vnctest.FrameAt(t, videoOf(t, res, dir), at, 640, 360), 640, 200, 150); !vnctest.Near(got, vnctest.Green, 48) {
		t.Errorf("the recording at %s shows %v, want green", at, got)
	}
}
