package vncproxy

import (
	"sync"
	"testing"

	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/vnctest"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// A real VNC server for the tests: Xvfb with x11vnc on it, started once
// per test binary and stopped by TestMain. Tests that change its screen
// do not run in parallel.

var (
	peersOnce sync.Once
	peersErr  error
	sharedVNC *vnctest.X11vnc
)

// requireX11vnc starts (once) Xvfb 1280x720 and x11vnc on it.
func requireX11vnc(t testing.TB) *vnctest.X11vnc {
	t.Helper()
	sdktest.RequirePeer(t, "Xvfb")
	sdktest.RequirePeer(t, "x11vnc")
	sdktest.RequirePeer(t, "xsetroot")
	peersOnce.Do(func() {
		d, err := vnctest.StartXvfb(1280, 720)
		if err != nil {
			peersErr = err
			return
		}
		sharedVNC, peersErr = vnctest.StartX11vnc(d, "vnc-pass")
		if peersErr != nil {
			d.Xvfb.Stop()
		}
	})
	if peersErr != nil {
		t.Fatalf("starting Xvfb and x11vnc: %v", peersErr)
	}
	return sharedVNC
}

// x11Target is x as a gateway target.
func x11Target(x *vnctest.X11vnc, name string) Target {
	return Target{ID: "id-" + name, Name: name, FriendlyName: "X11 " + name, Host: "127.0.0.1", Port: x.Port, Password: x.Password}
}

func stopPeers() {
	if sharedVNC != nil {
		sharedVNC.Stop()
		sharedVNC.D.Xvfb.Stop()
	}
}
