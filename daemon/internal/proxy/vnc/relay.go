package vncproxy

import (
	"sync"
	"sync/atomic"

	"github.com/vigilgw/vigil/plugins/sdk/capture"
)

// teeDepth bounds the items waiting for the capture per session. When the
// capture falls behind, the relay waits: the session slows down rather
// than going unrecorded.
const teeDepth = 32

// chunk is a relay buffer of server data shared, without copying, by the
// relay (which writes it to the client) and the tee (which records it).
// The last of them to finish returns it to the pool.
type chunk struct {
	b    []byte
	n    int
	refs atomic.Int32
}

var chunkPool = sync.Pool{New: func() any { return &chunk{b: make([]byte, relayBufferSize)} }}

func getChunk() *chunk {
	ck := chunkPool.Get().(*chunk)
	ck.n = 0
	return ck
}

func (c *chunk) release() {
	if c.refs.Add(-1) == 0 {
		chunkPool.Put(c)
	}
}

// teeItem is one record for the tee goroutine to write, in order: a
// shared chunk or a payload the tee owns.
type teeItem struct {
	kind    capture.Kind
	c       *chunk
	payload []byte
}

// tee records a session's data off the relay's path: pumps hand it items
// and go on relaying while it writes the capture.
type tee struct {
	q       chan teeItem
	done    chan struct{}
	capture Capture // nil for an unrecorded session
	onFail  func(error)
	failed  bool // only the tee goroutine touches it
}

func newTee(c Capture, onFail func(error)) *tee {
	return &tee{q: make(chan teeItem, teeDepth), done: make(chan struct{}), capture: c, onFail: onFail}
}

func (t *tee) run() {
	defer close(t.done)
	for it := range t.q {
		data := it.payload
		if it.c != nil {
			data = it.c.b[:it.c.n]
		}
		if !t.failed && t.capture != nil {
			if err := t.capture.Write(it.kind, 0, data); err != nil {
				t.failed = true
				t.onFail(err)
			}
		}
		if it.c != nil {
			it.c.release()
		}
	}
}

// chunk records a shared chunk; the tee releases its reference.
func (t *tee) chunk(kind capture.Kind, c *chunk) {
	if t.capture == nil {
		c.release()
		return
	}
	t.q <- teeItem{kind: kind, c: c}
}

// copy records a copy of p.
func (t *tee) copy(kind capture.Kind, p []byte) {
	if t.capture != nil {
		t.q <- teeItem{kind: kind, payload: append([]byte(nil), p...)}
	}
}

// close waits for everything pushed to be written. Nothing may be pushed
// after close.
func (t *tee) close() {
	close(t.q)
	<-t.done
}
