package sshproxy

import (
	"net"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// endless is a connection that always has data to read.
type endless struct{ net.Conn }

func (endless) Read(p []byte) (int, error) { return len(p), nil }
func (endless) Close() error               { return nil }

// gatedRead starts a Read of n bytes through g and returns its result.
func gatedRead(g *readGate, n int) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := g.Read(make([]byte, n))
		done <- err
	}()
	return done
}

func blockedInGate(t *testing.T, g *readGate) {
	t.Helper()
	sdktest.WaitFor(t, 10*time.Second, "the read to wait in the gate", func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.waiting
	})
}

func TestReadGate(t *testing.T) {
	t.Run("reads while within its allowance", func(t *testing.T) {
		g := newReadGate(endless{})
		defer g.Close()
		for range 4 {
			if n, err := g.Read(make([]byte, gateMinAhead/4)); n != gateMinAhead/4 || err != nil {
				t.Fatalf("Read = %d, %v", n, err)
			}
		}
	})
	t.Run("waits once ahead until a pump takes data", func(t *testing.T) {
		g := newReadGate(endless{})
		defer g.Close()
		over := int(allowance()) + 1
		if _, err := g.Read(make([]byte, over)); err != nil {
			t.Fatal(err)
		}
		done := gatedRead(g, 1)
		blockedInGate(t, g)
		select {
		case err := <-done:
			t.Fatalf("the read went past the gate (%v) before a pump took anything", err)
		default:
		}
		g.took(over, false)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a read that empties a channel starts the count afresh", func(t *testing.T) {
		g := newReadGate(endless{})
		defer g.Close()
		if _, err := g.Read(make([]byte, 4*int(allowance()))); err != nil {
			t.Fatal(err)
		}
		done := gatedRead(g, 1)
		blockedInGate(t, g)
		g.took(1, true)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a stalled relay does not stop the connection", func(t *testing.T) {
		g := newReadGate(endless{})
		defer g.Close()
		if _, err := g.Read(make([]byte, int(allowance())+1)); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		done := gatedRead(g, 1)
		blockedInGate(t, g)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if waited := time.Since(start); waited < gateStall {
			t.Fatalf("the gate let the read through after %v, before the stall time %v", waited, gateStall)
		}
	})
	t.Run("after a stall the gate stays open until a pump takes data", func(t *testing.T) {
		g := newReadGate(endless{})
		defer g.Close()
		if _, err := g.Read(make([]byte, int(allowance())+1)); err != nil {
			t.Fatal(err)
		}
		done := gatedRead(g, 1)
		blockedInGate(t, g)
		if err := <-done; err != nil { // released by the stall
			t.Fatal(err)
		}
		// Nothing is taken (a client stopped reading one channel): the
		// connection reads on, many allowances, without waiting again.
		for range 10 {
			if _, err := g.Read(make([]byte, int(allowance())+1)); err != nil {
				t.Fatal(err)
			}
		}
		g.mu.Lock()
		stalls, waiting := g.stalls, g.waiting
		g.mu.Unlock()
		if stalls != 1 || waiting {
			t.Fatalf("after 10 allowances read past a stall: %d stalls (waiting %v), want 1", stalls, waiting)
		}
		// A pump takes data again: the gate counts anew and holds the
		// connection once it is an allowance ahead.
		g.took(1, false)
		if _, err := g.Read(make([]byte, int(allowance())+1)); err != nil {
			t.Fatal(err)
		}
		again := gatedRead(g, 1)
		blockedInGate(t, g)
		g.took(int(allowance())+1, false)
		if err := <-again; err != nil {
			t.Fatal(err)
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.stalls != 1 || g.open {
			t.Fatalf("after a pump took data: %d stalls, open %v; want the gate closed and counting", g.stalls, g.open)
		}
	})
	t.Run("close releases a waiting read", func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		g := newReadGate(a)
		g.ahead = allowance() + 1
		done := gatedRead(g, 1)
		blockedInGate(t, g)
		g.Close()
		if err := <-done; err == nil {
			t.Fatalf("Read after Close = %v, want an error", err)
		}
	})
	t.Run("open connections share the budget", func(t *testing.T) {
		before := allowance()
		var gs []*readGate
		for range gateBudget / gateMinAhead {
			gs = append(gs, newReadGate(endless{}))
		}
		during := allowance()
		for _, g := range gs {
			g.Close()
		}
		if during != gateMinAhead || during >= before || allowance() != before {
			t.Fatalf("allowance before, during and after %d more connections: %d, %d, %d; want %d during",
				len(gs), before, during, allowance(), gateMinAhead)
		}
	})
}
