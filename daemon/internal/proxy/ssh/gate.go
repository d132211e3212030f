package sshproxy

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// readGate wraps the target connection and bounds how far the gateway
// reads it ahead of the relay.
//
// x/crypto/ssh grants every channel a fixed 2 MiB window and keeps what
// arrives in memory, one fresh slice per packet, until the channel is
// read. When the gateway is the bottleneck (many busy sessions on few
// cores) each busy session so holds up to 2 MiB, and the heap grows by as
// much again in garbage. The gate pauses reading the connection once it
// has read more than its share of gateBudget beyond what the output pumps
// took: the target then waits in TCP's buffers, outside the gateway's
// memory. A lone connection reads as far ahead as x/crypto lets it (the
// gate then costs nothing); among many, each gets at least gateMinAhead,
// enough to keep a busy relay fed.
//
// The count is approximate (the connection's bytes include framing and
// other messages), so it starts afresh whenever a pump's read leaves its
// channel empty (x/crypto's Read fills the buffer while data is waiting):
// the pump then waits for what the gate lets through. The gate never waits
// for ever: after gateStall without a pump taking anything (a client that
// stopped reading a channel, data for a channel nobody pumps) it opens, and
// stays open until a pump takes data again, so that the connection's other
// channels, window adjustments and requests flow at full speed; the stuck
// channel is then bounded by x/crypto's window, as without the gate.
// (Counting afresh after each stall instead would let such a connection
// read only its allowance per gateStall until that window filled: a
// second's wait for every keystroke echoed on its other channels.)
type readGate struct {
	net.Conn

	mu       sync.Mutex
	cond     sync.Cond
	ahead    int64  // bytes read, less the bytes pumps took since the last reset
	progress uint64 // counts takes, to notice a stall
	seen     uint64 // progress when the waiting reader armed the timer
	waiting  bool
	stalled  bool // no pump took anything for gateStall while a read waited
	open     bool // since that stall, no pump took anything: reads pass
	stalls   int  // how often the gate opened, for tests
	closed   bool
	timer    *time.Timer
}

const (
	// gateBudget is the read-ahead the gateway allows all connections
	// together, gateMinAhead the least one connection gets.
	gateBudget   = 4 << 20
	gateMinAhead = 64 << 10
	// gateStall is how long the gate waits for a pump to take data before
	// it lets the connection be read anyway. Under load a pump that is not
	// stuck can wait a good fraction of a second for a CPU.
	gateStall = time.Second
)

// openGates counts the target connections open, to share gateBudget.
var openGates atomic.Int64

// allowance is how far one connection may read ahead now.
func allowance() int64 { return max(gateBudget/max(openGates.Load(), 1), gateMinAhead) }

func newReadGate(nc net.Conn) *readGate {
	g := &readGate{Conn: nc}
	g.cond.L = &g.mu
	g.timer = time.AfterFunc(time.Hour, g.onStall)
	g.timer.Stop()
	openGates.Add(1)
	return g
}

func (g *readGate) Read(p []byte) (int, error) {
	g.wait()
	n, err := g.Conn.Read(p)
	if n > 0 {
		g.mu.Lock()
		g.ahead += int64(n)
		g.mu.Unlock()
	}
	return n, err
}

// wait returns once the connection may be read.
func (g *readGate) wait() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for !g.open && g.ahead > allowance() && !g.closed {
		if g.stalled {
			g.ahead, g.open = 0, true
			g.stalls++
			break
		}
		g.seen, g.waiting = g.progress, true
		g.timer.Reset(gateStall)
		g.cond.Wait()
	}
	g.waiting, g.stalled = false, false
	g.timer.Stop()
}

func (g *readGate) onStall() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.waiting && g.progress == g.seen {
		g.stalled = true
		g.cond.Broadcast()
	}
}

// took records that a pump read n bytes from a target channel; drained
// says the read left the channel empty.
func (g *readGate) took(n int, drained bool) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.progress++
	if g.open {
		// A pump moves again: count from here.
		g.open, g.ahead = false, 0
	}
	g.ahead = max(g.ahead-int64(n), 0)
	if drained {
		g.ahead = 0
	}
	if g.waiting {
		g.cond.Broadcast()
	}
}

func (g *readGate) Close() error {
	g.mu.Lock()
	if !g.closed {
		g.closed = true
		openGates.Add(-1)
		g.cond.Broadcast()
	}
	g.mu.Unlock()
	return g.Conn.Close()
}
