package vncproxy

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/rfbwire"
	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/vnctest"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// TestHostileTarget: a malicious VNC server cannot crash the gateway.
// Data that breaks RFB's framing ends the session before the viewer sees
// it; data that only the recorder can tell is wrong (compressed pixels)
// reaches the capture, and the render fails with ErrInvalidCapture. In
// every case the capture is sealed and verifies, the plugin survives,
// and the gateway goes on serving.
func TestHostileTarget(t *testing.T) {
	sdktest.RequirePeer(t, "ffmpeg")
	good := vnctest.RawUpdate(vnctest.PFRGB888, 0, 0, 64, 48, 0x0000ff)
	cases := []struct {
		name   string
		ft     *vnctest.FakeTarget
		reason string // session.destroy; "" when the session never starts
		// updates the viewer gets: the good one only, when the framing
		// catches the fault
		updates int
		render  string // in the render's ErrInvalidCapture; "" for success
	}{
		{"rectangle outside", &vnctest.FakeTarget{Serve: vnctest.Hostile(false, good, vnctest.FBU(append(vnctest.RectHeader(60, 0, 10, 1, rfbwire.EncRaw), make([]byte, 40)...)))},
			"target_protocol_error", 1, "outside the 64x48 framebuffer"},
		{"absurd zrle length", &vnctest.FakeTarget{Serve: vnctest.Hostile(false, good, vnctest.FBU(append(vnctest.ZRLERect(0, 0, 64, 48, nil)[:12], 0xff, 0xff, 0xff, 0xf0)))},
			"target_protocol_error", 1, "bytes of compressed data"},
		{"absurd rectangle", &vnctest.FakeTarget{Serve: vnctest.Hostile(false, good, vnctest.FBU(vnctest.RectHeader(0, 0, 65535, 65535, rfbwire.EncRaw)))},
			"target_protocol_error", 1, "outside the 64x48 framebuffer"},
		{"hextile subrectangle", &vnctest.FakeTarget{Serve: vnctest.Hostile(false, good, vnctest.FBU(append(vnctest.RectHeader(0, 0, 8, 8, rfbwire.EncHextile), 2|8, 0, 0, 0, 0, 1, 0x70, 0x10)))},
			"target_protocol_error", 1, "outside the 8x8 tile"},
		{"unknown message", &vnctest.FakeTarget{Serve: vnctest.Hostile(false, good, []byte{0x42, 1, 2, 3})},
			"target_protocol_error", 1, "server message type 66"},
		{"desktop size", &vnctest.FakeTarget{Serve: vnctest.Hostile(false, good, vnctest.FBU(vnctest.RectHeader(0, 0, 65535, 65535, rfbwire.EncDesktopSize)))},
			"target_protocol_error", 1, "framebuffer size 65535x65535"},
		{"zlib garbage", &vnctest.FakeTarget{Serve: vnctest.Hostile(true, good, vnctest.FBU(vnctest.ZRLERect(0, 0, 64, 48, []byte{0x78, 0x9c, 0xff, 0xff, 0xff, 0xff, 0xff})))},
			"target_closed", 2, "inflating"},
		{"zlib bomb", &vnctest.FakeTarget{Serve: vnctest.Hostile(true, good, vnctest.FBU(vnctest.ZRLERect(0, 0, 64, 48, vnctest.Deflate(append([]byte{128, 1, 2, 3}, bytes.Repeat([]byte{255}, 4<<20)...)))))},
			"target_closed", 2, "run of"},
		{"tiles short of their data", &vnctest.FakeTarget{Serve: vnctest.Hostile(true, good, vnctest.FBU(vnctest.ZRLERect(0, 0, 64, 48, vnctest.Deflate([]byte{0, 1, 2, 3}))))},
			"target_closed", 2, "compressed data ends before"},
		{"cut mid-update", &vnctest.FakeTarget{Serve: vnctest.Hostile(true, good, vnctest.RawUpdate(vnctest.PFRGB888, 0, 0, 64, 48, 0xff0000)[:5000])},
			"target_closed", 1, ""},
		{"bad ServerInit", &vnctest.FakeTarget{InitRaw: append(rfbwire.ServerInit{Width: 65535, Height: 65535, PixelFormat: vnctest.PFRGB888}.Bytes()[:20], 0, 0, 0, 0)},
			"", 0, "no RFB screen data"},
		{"huge refusal", &vnctest.FakeTarget{Security: []byte{0, 0x40, 0, 0, 0}}, "", 0, "no RFB screen data"},
	}
	var ok vnctest.FakeTarget
	okTarget := vnctest.StartFakeTarget(t, &ok)
	var targets []Target
	fts := map[string]*vnctest.FakeTarget{}
	for _, c := range cases {
		name := strings.ReplaceAll(c.name, " ", "-")
		fts[c.name] = vnctest.StartFakeTarget(t, c.ft)
		targets = append(targets, fakeTargetOf(fts[c.name], name))
	}
	g := newGateway(t, append(targets, fakeTargetOf(okTarget, "ok")))
	rec := launchRecorder(t)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := strings.ReplaceAll(c.name, " ", "-")
			before := len(g.events.named("session.destroy"))
			cl, err := g.dial("alice:" + name)
			if c.reason == "" {
				var re *rfbwire.RefusedError
				if !errors.As(err, &re) || !strings.Contains(re.Reason, "could not connect") {
					t.Fatalf("login: %v, want a refusal", err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				cl.SetEncodings(rfbwire.EncZRLE, rfbwire.EncHextile, rfbwire.EncRaw, rfbwire.EncDesktopSize)
				cl.Request(false, 0, 0, 64, 48)
				sdktest.WaitFor(t, 20*time.Second, "the session to end", func() bool { return len(g.events.named("session.destroy")) > before })
				if e := g.events.named("session.destroy")[before]; e.Reason != c.reason {
					t.Errorf("destroy reason %q, want %q", e.Reason, c.reason)
				}
				<-cl.Done()
				if n := cl.UpdateCount(); n != c.updates {
					t.Errorf("the viewer got %d updates, want %d", n, c.updates)
				}
			}
			oc := g.rec.all()[i]
			select {
			case <-oc.closed:
			case <-time.After(20 * time.Second):
				t.Fatal("the capture was not closed")
			}
			if res := capture.VerifyFile(oc.sealed, g.rec.pub); res.Status != capture.Intact {
				t.Fatalf("capture: %s", res.Describe())
			}
			res, _, err := g.rec.render(t, rec, oc, sdk.RenderSettings{BitrateKbps: 300, Framerate: 5, Width: 64, Height: 48})
			switch {
			case c.render == "" && err != nil:
				t.Errorf("render: %v", err)
			case c.render == "" && res.Duration <= 0:
				t.Errorf("render: %+v", res)
			case c.render != "" && (!errors.Is(err, sdk.ErrInvalidCapture) || !strings.Contains(err.Error(), c.render)):
				t.Errorf("render: %v, want ErrInvalidCapture naming %q", err, c.render)
			}
		})
	}
	t.Run("fuzzed", func(t *testing.T) {
		for seed := range 12 {
			rng := rand.New(rand.NewPCG(uint64(seed), 77))
			var script [][]byte
			for range 4 {
				switch rng.IntN(3) {
				case 0: // a framebuffer update with random rectangles
					var rects [][]byte
					for range 1 + rng.IntN(3) {
						encs := []int32{rfbwire.EncRaw, rfbwire.EncCopyRect, rfbwire.EncRRE, rfbwire.EncHextile, rfbwire.EncTRLE, rfbwire.EncZRLE, rfbwire.EncTight}
						r := vnctest.RectHeader(rng.IntN(70), rng.IntN(50), rng.IntN(70), rng.IntN(50), encs[rng.IntN(len(encs))])
						junk := make([]byte, rng.IntN(3000))
						for i := range junk {
							junk[i] = byte(rng.IntN(256))
						}
						rects = append(rects, append(r, junk...))
					}
					script = append(script, vnctest.FBU(rects...))
				case 1: // a ZRLE rectangle of random compressed bytes
					junk := make([]byte, rng.IntN(2000))
					for i := range junk {
						junk[i] = byte(rng.IntN(256))
					}
					script = append(script, vnctest.FBU(vnctest.ZRLERect(0, 0, 64, 48, vnctest.Deflate(junk))))
				default: // noise
					junk := make([]byte, rng.IntN(500))
					for i := range junk {
						junk[i] = byte(rng.IntN(256))
					}
					script = append(script, junk)
				}
			}
			ft := vnctest.StartFakeTarget(t, &vnctest.FakeTarget{Serve: vnctest.Hostile(true, append([][]byte{good}, script...)...)})
			g.targets.mu.Lock()
			g.targets.byUser["alice"] = append(g.targets.byUser["alice"], fakeTargetOf(ft, "fuzz"+itoa(seed)))
			g.targets.mu.Unlock()
			n := len(g.rec.all())
			before := len(g.events.named("session.destroy"))
			cl, err := g.dial("alice:fuzz" + itoa(seed))
			if err != nil {
				t.Fatal(err)
			}
			cl.SetEncodings(rfbwire.EncZRLE, rfbwire.EncHextile, rfbwire.EncRaw, rfbwire.EncRRE, rfbwire.EncTRLE, rfbwire.EncTight, rfbwire.EncCopyRect)
			cl.Request(false, 0, 0, 64, 48)
			sdktest.WaitFor(t, 20*time.Second, "the session to end", func() bool { return len(g.events.named("session.destroy")) > before })
			cl.Close()
			oc := g.rec.all()[n]
			<-oc.closed
			if res := capture.VerifyFile(oc.sealed, g.rec.pub); res.Status != capture.Intact {
				t.Fatalf("seed %d: capture: %s", seed, res.Describe())
			}
			if _, _, err := g.rec.render(t, rec, oc, sdk.RenderSettings{BitrateKbps: 300, Framerate: 5, Width: 64, Height: 48}); err != nil && !errors.Is(err, sdk.ErrInvalidCapture) {
				t.Errorf("seed %d: render: %v, want success or ErrInvalidCapture", seed, err)
			}
		}
	})
	// The plugin process and the gateway are both still up.
	if _, err := rec.Info(t.Context()); err != nil {
		t.Errorf("the recorder plugin after the hostile renders: %v", err)
	}
	c := g.mustDial(t, "alice:ok")
	c.Request(false, 0, 0, 64, 48)
	c.WaitUpdates(t, 1)
}
