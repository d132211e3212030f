package replay

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/vigilgw/vigil/plugins/recorder-vnc/rfb"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
)

// ErrNoScreen: the records hold no ServerInit (the session never reached
// its target).
var ErrNoScreen = errors.New("recorder-vnc: the capture holds no RFB screen data")

// Record is one capture record.
type Record struct {
	Kind    capture.Kind
	Payload []byte // valid until the next call to Records.Next
	// Time is the record's time in the segment being rendered. Records
	// with Render false come from earlier segments: they are decoded to
	// restore the screen and the decoder's state, and never shown.
	Time   time.Duration
	Render bool
	// Elapsed is the time since the session's start.
	Elapsed time.Duration
}

// Records yields records in order; io.EOF after the last.
type Records interface {
	Next() (Record, error)
}

// Overlay is what is drawn over the framebuffer: the cursor shape the
// server sent and the pointer position, when both are known.
type Overlay struct {
	Cursor             *rfb.Cursor // nil or Width 0: none
	PointerX, PointerY int
	PointerKnown       bool
}

// Options configure Play.
type Options struct {
	Framerate int
	// Duration is the segment's length: frames are sampled at i/Framerate
	// for every such time below it (one frame at least).
	Duration time.Duration
	// MaxRepaintsPerSecond bounds the decoder's work: the pixels a stream
	// makes it write may not exceed this many framebuffers per second of
	// session (plus ten seconds' worth), or the stream is refused as
	// malformed. A tiny fill rectangle repaints a whole screen, so a
	// hostile stream could otherwise keep a render busy for days.
	MaxRepaintsPerSecond int
	// OnFrame receives every frame, in order. fb and o are the player's:
	// valid during the call. Frames before the stream's ServerInit come
	// with a 0x0 framebuffer.
	OnFrame func(i int, t time.Duration, fb *rfb.Framebuffer, o *Overlay) error
}

// Stats is what a play found.
type Stats struct {
	Frames    int
	Messages  int
	Truncated bool // the stream ends inside a message (the session was cut)
}

// Frames is how many frames Play emits for opts.
func (o Options) Frames() int {
	n := int((o.Duration*time.Duration(o.Framerate) + time.Second - 1) / time.Second)
	return max(n, 1)
}

// FrameTime is the time of frame i.
func (o Options) FrameTime(i int) time.Duration {
	return time.Duration(i) * time.Second / time.Duration(o.Framerate)
}

// player is the rfb.Source over the records, sampling frames as records'
// times pass.
type player struct {
	ctx     context.Context
	recs    Records
	opts    Options
	dec     *rfb.Decoder
	overlay Overlay

	cur     []byte // the rest of the current ScreenServer payload
	scratch []byte
	pending *rfb.PixelFormat // from Meta, applied at the next message
	next    int              // the next frame to emit
	frames  int
	now     Record // the last record fetched
	seen    int    // records fetched
	screen  bool   // a ScreenServer record was seen
	err     error  // a frame callback's error, or a Meta that does not parse
}

// Play decodes recs and calls opts.OnFrame for every frame.
func Play(ctx context.Context, recs Records, opts Options) (Stats, error) {
	p := &player{ctx: ctx, recs: recs, opts: opts, frames: opts.Frames()}
	p.dec = rfb.NewDecoder(p)
	var st Stats
	p.setLimit()
	if err := p.dec.ReadServerInit(); err != nil {
		if p.err != nil {
			return st, p.err
		}
		if !p.screen && errors.Is(err, io.ErrUnexpectedEOF) {
			return st, ErrNoScreen
		}
		return st, p.wrap(err)
	}
	for {
		typ, err := p.dec.ReadMessageType()
		if p.err != nil {
			return st, p.err
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return st, p.wrap(err)
		}
		if p.pending != nil {
			if err := p.dec.SetPixelFormat(*p.pending); err != nil {
				return st, p.wrap(err)
			}
			p.pending = nil
		}
		p.setLimit()
		err = p.dec.DecodeMessage(typ)
		if p.err != nil {
			return st, p.err
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			st.Truncated = true
			break
		}
		if err != nil {
			return st, p.wrap(err)
		}
		st.Messages++
	}
	if err := p.emitUntil(p.opts.Duration + time.Nanosecond); err != nil {
		return st, err
	}
	for p.next < p.frames { // the last frame time may lie past Duration
		if err := p.emit(); err != nil {
			return st, err
		}
	}
	st.Frames = p.next
	return st, nil
}

// wrap places a decoding error on the time line.
func (p *player) wrap(err error) error {
	if errors.Is(err, rfb.ErrTooMuchWork) {
		err = fmt.Errorf("%w (the stream repaints the screen more than %d times a second)", err, p.opts.MaxRepaintsPerSecond)
	}
	where := fmt.Sprintf("at %.3fs", p.now.Time.Seconds())
	if !p.now.Render {
		where = fmt.Sprintf("in an earlier segment, %.3fs into the session", p.now.Elapsed.Seconds())
	}
	return fmt.Errorf("%w (%s)", err, where)
}

// setLimit bounds the decoder's work by the session's time so far.
func (p *player) setLimit() {
	if p.opts.MaxRepaintsPerSecond <= 0 {
		return
	}
	fb := p.dec.Framebuffer()
	area := uint64(max(fb.Width*fb.Height, 1<<20))
	secs := uint64(max(p.now.Elapsed, 0)/time.Second) + 10
	fb.Limit = secs * uint64(p.opts.MaxRepaintsPerSecond) * area
}

// Next implements rfb.Source.
func (p *player) Next(n int) ([]byte, error) {
	if len(p.cur) >= n {
		b := p.cur[:n]
		p.cur = p.cur[n:]
		return b, nil
	}
	p.scratch = append(p.scratch[:0], p.cur...)
	p.cur = nil
	for len(p.scratch) < n {
		payload, err := p.fetch()
		if err != nil {
			if errors.Is(err, io.EOF) && len(p.scratch) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		take := min(n-len(p.scratch), len(payload))
		p.scratch = append(p.scratch, payload[:take]...)
		p.cur = payload[take:]
	}
	return p.scratch, nil
}

// fetch reads records up to the next ScreenServer payload, handling the
// others on the way and emitting the frames whose time has come.
func (p *player) fetch() ([]byte, error) {
	for {
		if p.err != nil {
			return nil, p.err
		}
		rec, err := p.recs.Next()
		if err != nil {
			return nil, err
		}
		p.seen++
		if p.seen%256 == 0 {
			if err := p.ctx.Err(); err != nil {
				p.err = err
				return nil, err
			}
		}
		if rec.Render {
			if err := p.emitUntil(rec.Time); err != nil {
				p.err = err
				return nil, err
			}
		}
		p.now = rec
		switch rec.Kind {
		case capture.ScreenServer:
			if len(rec.Payload) > 0 {
				p.screen = true
				return rec.Payload, nil
			}
		case capture.ScreenClient:
			// One client message per record: a PointerEvent is type 5,
			// button mask, x, y.
			if b := rec.Payload; len(b) == 6 && b[0] == 5 {
				p.overlay.PointerX, p.overlay.PointerY = int(binary.BigEndian.Uint16(b[2:])), int(binary.BigEndian.Uint16(b[4:]))
				p.overlay.PointerKnown = true
			}
		case capture.Meta:
			var m capture.SessionMeta
			if err := m.Merge(rec.Payload); err != nil {
				p.err = p.wrap(fmt.Errorf("recorder-vnc: meta record: %v: %w", err, rfb.ErrMalformed))
				return nil, p.err
			}
			if m.PixelFormat != "" {
				pf, err := rfb.ParsePixelFormatString(m.PixelFormat)
				if err != nil {
					p.err = p.wrap(err)
					return nil, p.err
				}
				p.pending = &pf
			}
		}
	}
}

// emitUntil emits the frames whose time is before t.
func (p *player) emitUntil(t time.Duration) error {
	for p.next < p.frames && p.opts.FrameTime(p.next) < t {
		if err := p.emit(); err != nil {
			return err
		}
	}
	return nil
}

func (p *player) emit() error {
	o := p.overlay
	if x, y, ok := p.dec.Pointer(); ok && !o.PointerKnown {
		o.PointerX, o.PointerY, o.PointerKnown = x, y, true
	}
	if c := p.dec.Cursor(); c.Width > 0 {
		o.Cursor = c
	}
	// Before ServerInit the framebuffer is 0x0: the frame is black.
	err := p.opts.OnFrame(p.next, p.opts.FrameTime(p.next), p.dec.Framebuffer(), &o)
	p.next++
	return err
}
