package sshproxy

import (
	"io"
	"sync"
	"sync/atomic"
)

// Relay read sizes. x/crypto hands over everything buffered for a channel
// in one Read, so a large buffer moves several SSH packets per read and per
// capture record. But a pump holds its buffer while Read waits, and most of
// the time most pumps wait (every idle session, the input and stderr side
// of a bulk transfer): a pump reads into a small buffer unless its last
// read found more data waiting than a small buffer holds.
const (
	chunkSize      = 64 << 10
	smallChunkSize = 4 << 10
)

// teeDepth bounds the chunks waiting for the recorder per session (at most
// teeDepth*chunkSize bytes relayed ahead of the capture). When the capture
// falls behind, the relay waits: the session slows down rather than going
// unrecorded.
const teeDepth = 4

// chunk is a relay buffer shared, without copying, by the relay (which
// writes it to the other side) and the tee (which records and parses it).
// The last of them to finish returns it to the pool.
type chunk struct {
	b    []byte
	n    int
	refs atomic.Int32
}

var (
	chunkPool      = sync.Pool{New: func() any { return &chunk{b: make([]byte, chunkSize)} }}
	smallChunkPool = sync.Pool{New: func() any { return &chunk{b: make([]byte, smallChunkSize)} }}
)

// getChunk returns a chunk of chunkSize bytes when big, else a small one.
func getChunk(big bool) *chunk {
	if big {
		return chunkPool.Get().(*chunk)
	}
	return smallChunkPool.Get().(*chunk)
}

// put returns c to its pool.
func (c *chunk) put() {
	if len(c.b) == chunkSize {
		chunkPool.Put(c)
	} else {
		smallChunkPool.Put(c)
	}
}

func (c *chunk) release() {
	if c.refs.Add(-1) == 0 {
		c.put()
	}
}

// bigAfter says whether the read after one of n bytes into buf should use
// a big chunk: only when that read (nearly) filled buf, so that more data
// was likely waiting behind it. Nearly: a PTY hands sshd at most 4095
// bytes at a time, and terminal output arrives in packets of that size.
func bigAfter(n int, buf []byte) bool { return n > len(buf)*3/4 }

// teeItem is one thing for the tee goroutine to do, in order: record a
// chunk or a small payload, feed a parser, or run fn.
type teeItem struct {
	kind    Kind
	channel uint32
	record  bool
	c       *chunk
	payload []byte
	parse   func([]byte)
	fn      func()
}

// tee records a session's data off the relay's path: pumps hand it chunks
// and go on relaying while it writes the capture and runs the transfer
// parsers. Items are handled in the order they were pushed.
type tee struct {
	q       chan teeItem
	done    chan struct{}
	capture Capture // nil for an unrecorded session
	onFail  func(error)
	failed  bool // only the tee goroutine reads or writes it
}

func newTee(capture Capture, onFail func(error)) *tee {
	return &tee{q: make(chan teeItem, teeDepth), done: make(chan struct{}), capture: capture, onFail: onFail}
}

func (t *tee) run() {
	defer close(t.done)
	for it := range t.q {
		data := it.payload
		if it.c != nil {
			data = it.c.b[:it.c.n]
		}
		if it.record && t.capture != nil && !t.failed {
			if err := t.capture.Write(it.kind, it.channel, data); err != nil {
				t.failed = true
				t.onFail(err)
			}
		}
		if it.parse != nil {
			it.parse(data)
		}
		if it.fn != nil {
			it.fn()
		}
		if it.c != nil {
			it.c.release()
		}
	}
}

func (t *tee) push(it teeItem) { t.q <- it }

// recording reports whether the session has a capture.
func (t *tee) recording() bool { return t.capture != nil }

// record records a small payload the tee may keep.
func (t *tee) record(kind Kind, channel uint32, payload []byte) {
	if t.capture != nil {
		t.push(teeItem{kind: kind, channel: channel, record: true, payload: payload})
	}
}

// meta records session or channel facts.
func (t *tee) meta(channel uint32, m metaRecord) {
	if t.capture != nil {
		t.record(KindMeta, channel, m.marshal())
	}
}

// do runs fn on the tee goroutine after everything pushed before it.
func (t *tee) do(fn func()) { t.push(teeItem{fn: fn}) }

// close waits for everything pushed to be handled. Nothing may be pushed
// after close.
func (t *tee) close() {
	close(t.q)
	<-t.done
}

// direction of a pump, for byte counting.
type direction int

const (
	toTarget direction = iota // client input
	toClient                  // target output
)

// tap says what the tee does with a pump's data: record it as kind, feed
// it to parse, both or neither.
type tap struct {
	kind   Kind
	record bool
	parse  func([]byte)
}

// pump copies src to dst until src ends or dst fails, counting bytes and
// activity and handing each chunk to the tee when tp wants it. It does no
// per-byte work and never copies a chunk: the tee shares the buffer. The
// tee gets a chunk before dst does, so the tee sees a request before the
// answer the other pump relays. A pump of target output tells the
// connection's read gate what it took.
func (c *gwConn) pump(dst io.Writer, src io.Reader, channel uint32, dir direction, tp tap) {
	var gate *readGate
	if dir == toClient {
		gate = c.gate
	}
	count := func(n int) {
		if dir == toTarget {
			c.handle.AddBytes(int64(n), 0)
		} else {
			c.handle.AddBytes(0, int64(n))
		}
		c.touch()
	}
	big := false
	if !tp.record && tp.parse == nil {
		for {
			ck := getChunk(big)
			n, rerr := src.Read(ck.b)
			var werr error
			if n > 0 && c.halted() {
				ck.put()
				return
			}
			if n > 0 {
				gate.took(n, n < len(ck.b))
				count(n)
				_, werr = dst.Write(ck.b[:n])
			}
			big = bigAfter(n, ck.b)
			ck.put()
			if rerr != nil || werr != nil {
				return
			}
		}
	}
	for {
		ck := getChunk(big)
		n, err := src.Read(ck.b)
		big = bigAfter(n, ck.b)
		if n > 0 && c.halted() {
			ck.put()
			return
		}
		if n > 0 {
			gate.took(n, n < len(ck.b))
			ck.n = n
			ck.refs.Store(2)
			c.tee.push(teeItem{kind: tp.kind, channel: channel, record: tp.record, c: ck, parse: tp.parse})
			count(n)
			_, werr := dst.Write(ck.b[:n])
			ck.release()
			if werr != nil {
				return
			}
		} else {
			ck.put()
		}
		if err != nil {
			return
		}
	}
}

// halted reports whether the pumps must stop relaying because the capture
// failed; it then waits until the connection is being torn down, so that the
// pump's return (which ends the client channel) cannot overtake the notice
// telling the client why.
func (c *gwConn) halted() bool {
	if !c.recordFailed.Load() {
		return false
	}
	<-c.ctx.Done()
	return true
}

// writeNow records payload right away. Only code running on the tee
// goroutine (parsers' callbacks) may call it.
func (t *tee) writeNow(kind Kind, channel uint32, payload []byte) {
	if t.capture == nil || t.failed {
		return
	}
	if err := t.capture.Write(kind, channel, payload); err != nil {
		t.failed = true
		t.onFail(err)
	}
}
