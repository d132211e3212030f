package vncproxy

import (
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/rfbwire"
	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/vnctest"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// BenchmarkFrameUpdateLatency measures framebuffer update round trips (a
// non-incremental update request for a 256x256 area and the whole update
// back; 50 of them per op, so that `make bench`'s single op is already an
// average) against the real x11vnc: "baseline" straight to it with
// VncAuth, "vigil" through the gateway with VeNCrypt, which frames both
// directions and records the session with the signed capture writer.
// `make bench` prints vigil's figure as a ratio of baseline's.
func BenchmarkFrameUpdateLatency(b *testing.B) {
	x := requireX11vnc(b)
	xLock.Lock()
	defer xLock.Unlock()
	vnctest.XRun(b, x.D, "xsetroot", "-solid", "#336699")
	g := newGateway(b, []Target{x11Target(x, "desk")})
	run := func(b *testing.B, c *vnctest.Client) {
		got := make(chan struct{}, 1)
		c.OnUpdate(func() { got <- struct{}{} })
		c.SetEncodings(rfbwire.EncZRLE, rfbwire.EncRaw)
		round := func() {
			c.Request(false, 0, 0, 256, 256)
			select {
			case <-got:
			case <-time.After(20 * time.Second):
				b.Fatal("no update in 20 s")
			}
		}
		for range 5 { // warm up: TCP, TLS, zlib
			round()
		}
		const perOp = 50
		b.ResetTimer()
		start := time.Now()
		for range b.N {
			for range perOp {
				round()
			}
		}
		b.StopTimer()
		b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N*perOp), "µs/update")
	}
	b.Run("baseline", func(b *testing.B) {
		c, err := vnctest.Dial(x.Addr(), vnctest.LoginOpts{VncPassword: x.Password})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		run(b, c)
	})
	b.Run("vigil", func(b *testing.B) {
		c, err := g.dial("alice:desk")
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		run(b, c)
		sdktest.WaitFor(b, 10*time.Second, "the session to be live", func() bool { return g.reg.Count() == 1 })
	})
}
