package rfbwire

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Server-to-client message types.
const (
	MsgFramebufferUpdate   = 0
	MsgSetColourMapEntries = 1
	MsgBell                = 2
	MsgServerCutText       = 3
)

// ServerMessage says what one server message was.
type ServerMessage struct {
	Type byte
	// Rects is the number of rectangles of a FramebufferUpdate.
	Rects int
	// Resized is set when a FramebufferUpdate changed the framebuffer
	// size (DesktopSize, ExtendedDesktopSize); Width and Height are the
	// size after the message.
	Resized       bool
	Width, Height int
}

// ServerFramer reads whole server messages, checking their framing, and
// hands every byte it reads to emit, in order, in pieces of at most the
// reader's buffer size. Emit sees a message's bytes as they arrive, before
// the framer has seen the message's end; the bytes of a message that
// turns out to be malformed have been emitted up to the point where the
// framer found the fault.
type ServerFramer struct {
	r             *bufio.Reader
	emit          func([]byte) error
	pf            PixelFormat
	width, height int
	cpix, tpix    int
}

// NewServerFramer frames the messages that follow ServerInit si.
func NewServerFramer(r *bufio.Reader, si ServerInit, emit func([]byte) error) *ServerFramer {
	f := &ServerFramer{r: r, emit: emit, width: si.Width, height: si.Height}
	f.SetPixelFormat(si.PixelFormat)
	return f
}

// SetPixelFormat sets the pixel format of the messages that follow: the
// client's SetPixelFormat, once the server has it.
func (f *ServerFramer) SetPixelFormat(pf PixelFormat) {
	f.pf, f.cpix, f.tpix = pf, pf.cpixelSize(), pf.tpixelSize()
}

// Size is the framebuffer size in force.
func (f *ServerFramer) Size() (w, h int) { return f.width, f.height }

// Buffered is how many bytes from the server have arrived but not been
// framed yet: zero means the next read would wait.
func (f *ServerFramer) Buffered() int { return f.r.Buffered() }

// read returns the next n bytes (n at most the reader's buffer size),
// after emitting them. The slice is valid until the next read.
func (f *ServerFramer) read(n int) ([]byte, error) {
	b, err := f.r.Peek(n)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if err := f.emit(b); err != nil {
		return nil, err
	}
	f.r.Discard(n)
	return b, nil
}

// skip passes n bytes through, in pieces, as they arrive.
func (f *ServerFramer) skip(n int) error {
	for n > 0 {
		k := f.r.Buffered()
		if k == 0 {
			if _, err := f.r.Peek(1); err != nil {
				if errors.Is(err, io.EOF) {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
			k = f.r.Buffered()
		}
		k = min(k, n)
		b, _ := f.r.Peek(k)
		if err := f.emit(b); err != nil {
			return err
		}
		f.r.Discard(k)
		n -= k
	}
	return nil
}

func (f *ServerFramer) u8() (int, error) {
	b, err := f.read(1)
	if err != nil {
		return 0, err
	}
	return int(b[0]), nil
}

// Wait blocks until the first byte of the next message has arrived: io.EOF
// when the server closed the connection instead. A caller that changes the
// pixel format between Wait and Next changes it for that message.
func (f *ServerFramer) Wait() error {
	_, err := f.r.Peek(1)
	return err
}

// Next frames the next server message. io.EOF means the server closed
// the connection between messages; io.ErrUnexpectedEOF within one.
func (f *ServerFramer) Next() (ServerMessage, error) {
	b, err := f.r.Peek(1)
	if err != nil {
		return ServerMessage{}, err
	}
	m := ServerMessage{Type: b[0], Width: f.width, Height: f.height}
	if _, err := f.read(1); err != nil {
		return m, err
	}
	switch m.Type {
	case MsgFramebufferUpdate:
		err = f.framebufferUpdate(&m)
	case MsgSetColourMapEntries:
		var b []byte
		if b, err = f.read(5); err == nil {
			first, n := int(binary.BigEndian.Uint16(b[1:])), int(binary.BigEndian.Uint16(b[3:]))
			if first+n > 1<<16 {
				return m, fmt.Errorf("SetColourMapEntries: entries %d..%d beyond 65535: %w", first, first+n-1, ErrProtocol)
			}
			err = f.skip(6 * n)
		}
	case MsgBell:
	case MsgServerCutText:
		var b []byte
		if b, err = f.read(7); err == nil {
			n := binary.BigEndian.Uint32(b[3:])
			if n > MaxCutText {
				return m, fmt.Errorf("server cut text of %d bytes, more than %d: %w", n, MaxCutText, ErrProtocol)
			}
			err = f.skip(int(n))
		}
	default:
		return m, fmt.Errorf("server message type %d: unknown: %w", m.Type, ErrProtocol)
	}
	m.Width, m.Height = f.width, f.height
	return m, err
}

// rect is a rectangle header.
type rect struct {
	x, y, w, h int
	enc        int32
}

func (f *ServerFramer) framebufferUpdate(m *ServerMessage) error {
	b, err := f.read(3)
	if err != nil {
		return err
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	for i := 0; i < n; i++ {
		h, err := f.read(12)
		if err != nil {
			return err
		}
		r := rect{
			x: int(binary.BigEndian.Uint16(h)), y: int(binary.BigEndian.Uint16(h[2:])),
			w: int(binary.BigEndian.Uint16(h[4:])), h: int(binary.BigEndian.Uint16(h[6:])),
			enc: int32(binary.BigEndian.Uint32(h[8:])),
		}
		m.Rects++
		if r.enc == EncLastRect {
			return nil
		}
		w, hh := f.width, f.height
		if err := f.rect(r); err != nil {
			return fmt.Errorf("FramebufferUpdate rectangle %d of %d (%s, %dx%d at %d,%d): %w",
				i+1, n, EncodingName(r.enc), r.w, r.h, r.x, r.y, err)
		}
		if f.width != w || f.height != hh {
			m.Resized = true
		}
	}
	return nil
}

// EncodingName names an encoding for messages.
func EncodingName(e int32) string {
	switch e {
	case EncRaw:
		return "raw"
	case EncCopyRect:
		return "copyrect"
	case EncRRE:
		return "rre"
	case EncHextile:
		return "hextile"
	case EncTight:
		return "tight"
	case EncTRLE:
		return "trle"
	case EncZRLE:
		return "zrle"
	case EncDesktopSize:
		return "desktop-size"
	case EncLastRect:
		return "last-rect"
	case EncPointerPos:
		return "pointer-pos"
	case EncCursor:
		return "cursor"
	case EncXCursor:
		return "x-cursor"
	case EncDesktopName:
		return "desktop-name"
	case EncExtendedDesktopSize:
		return "extended-desktop-size"
	}
	return fmt.Sprintf("encoding %d", e)
}

func (f *ServerFramer) rect(r rect) error {
	switch r.enc {
	case EncRaw, EncCopyRect, EncRRE, EncHextile, EncTRLE, EncZRLE, EncTight:
		if r.x+r.w > f.width || r.y+r.h > f.height {
			return fmt.Errorf("outside the %dx%d framebuffer: %w", f.width, f.height, ErrProtocol)
		}
	}
	bpp := f.pf.BytesPerPixel()
	switch r.enc {
	case EncRaw:
		return f.skip(r.w * r.h * bpp)
	case EncCopyRect:
		b, err := f.read(4)
		if err != nil {
			return err
		}
		sx, sy := int(binary.BigEndian.Uint16(b)), int(binary.BigEndian.Uint16(b[2:]))
		if sx+r.w > f.width || sy+r.h > f.height {
			return fmt.Errorf("source at %d,%d outside the %dx%d framebuffer: %w", sx, sy, f.width, f.height, ErrProtocol)
		}
		return nil
	case EncRRE:
		b, err := f.read(4)
		if err != nil {
			return err
		}
		n := int64(binary.BigEndian.Uint32(b))
		if n > int64(r.w)*int64(r.h) {
			return fmt.Errorf("%d subrectangles in %d pixels: %w", n, r.w*r.h, ErrProtocol)
		}
		return f.skip(bpp + int(n)*(bpp+8))
	case EncHextile:
		return f.hextile(r)
	case EncTRLE:
		return f.trle(r)
	case EncZRLE:
		b, err := f.read(4)
		if err != nil {
			return err
		}
		n := int64(binary.BigEndian.Uint32(b))
		if limit := maxZRLEData(r.w, r.h); n > int64(limit) {
			return fmt.Errorf("%d bytes of compressed data for at most %d: %w", n, limit, ErrProtocol)
		}
		return f.skip(int(n))
	case EncTight:
		return f.tight(r)
	case EncDesktopSize:
		if err := CheckSize(r.w, r.h); err != nil {
			return err
		}
		f.width, f.height = r.w, r.h
		return nil
	case EncExtendedDesktopSize:
		b, err := f.read(4)
		if err != nil {
			return err
		}
		if err := f.skip(16 * int(b[0])); err != nil {
			return err
		}
		if r.y != 0 { // an error status: the size stays
			return nil
		}
		if err := CheckSize(r.w, r.h); err != nil {
			return err
		}
		f.width, f.height = r.w, r.h
		return nil
	case EncCursor, EncXCursor:
		if r.w > MaxCursorSize || r.h > MaxCursorSize {
			return fmt.Errorf("cursor of %dx%d above %dx%d: %w", r.w, r.h, MaxCursorSize, MaxCursorSize, ErrProtocol)
		}
		if r.w > 0 && r.h > 0 && (r.x >= r.w || r.y >= r.h) {
			return fmt.Errorf("hot spot %d,%d outside the %dx%d cursor: %w", r.x, r.y, r.w, r.h, ErrProtocol)
		}
		mask := (r.w + 7) / 8 * r.h
		if r.enc == EncCursor {
			return f.skip(r.w*r.h*bpp + mask)
		}
		if r.w == 0 || r.h == 0 {
			return nil
		}
		return f.skip(6 + 2*mask)
	case EncPointerPos:
		return nil
	case EncDesktopName:
		b, err := f.read(4)
		if err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(b)
		if n > MaxNameLength {
			return fmt.Errorf("desktop name of %d bytes: %w", n, ErrProtocol)
		}
		return f.skip(int(n))
	}
	return fmt.Errorf("encoding %d, which the client was not allowed to ask for: %w", r.enc, ErrProtocol)
}

// Hextile subencoding bits.
const (
	hextileRaw              = 1
	hextileBackground       = 2
	hextileForeground       = 4
	hextileAnySubrects      = 8
	hextileSubrectsColoured = 16
)

func (f *ServerFramer) hextile(r rect) error {
	bpp := f.pf.BytesPerPixel()
	for ty := 0; ty < r.h; ty += 16 {
		th := min(16, r.h-ty)
		for tx := 0; tx < r.w; tx += 16 {
			tw := min(16, r.w-tx)
			sub, err := f.u8()
			if err != nil {
				return err
			}
			if sub >= 32 {
				return fmt.Errorf("tile at %d,%d: subencoding %#x: %w", r.x+tx, r.y+ty, sub, ErrProtocol)
			}
			if sub&hextileRaw != 0 {
				if err := f.skip(tw * th * bpp); err != nil {
					return err
				}
				continue
			}
			n := 0
			if sub&hextileBackground != 0 {
				n += bpp
			}
			if sub&hextileForeground != 0 {
				n += bpp
			}
			if err := f.skip(n); err != nil {
				return err
			}
			if sub&hextileAnySubrects == 0 {
				continue
			}
			count, err := f.u8()
			if err != nil {
				return err
			}
			for i := 0; i < count; i++ {
				if sub&hextileSubrectsColoured != 0 {
					if err := f.skip(bpp); err != nil {
						return err
					}
				}
				b, err := f.read(2)
				if err != nil {
					return err
				}
				sx, sy, sw, sh := int(b[0]>>4), int(b[0]&15), int(b[1]>>4)+1, int(b[1]&15)+1
				if sx+sw > tw || sy+sh > th {
					return fmt.Errorf("tile at %d,%d: subrectangle %dx%d at %d,%d outside the %dx%d tile: %w",
						r.x+tx, r.y+ty, sw, sh, sx, sy, tw, th, ErrProtocol)
				}
			}
		}
	}
	return nil
}

// maxZRLEData bounds the compressed length of a w x h ZRLE rectangle:
// every tile in its largest form, twice over for deflate's overhead. The
// recorder applies the same bound.
func maxZRLEData(w, h int) int {
	tiles := ((w + 63) / 64) * ((h + 63) / 64)
	return 2*(tiles*(1+127*4)+w*h*5) + 1024
}

// trle walks the tiles of a TRLE rectangle (RFC 6143, 7.7.5) to find its
// end: subencoding, palette and runs, never the pixel values.
func (f *ServerFramer) trle(r rect) error {
	palette := 0 // the previous tile's palette size, for 127 and 129
	for ty := 0; ty < r.h; ty += 16 {
		th := min(16, r.h-ty)
		for tx := 0; tx < r.w; tx += 16 {
			tw := min(16, r.w-tx)
			if err := f.trleTile(tw, th, &palette); err != nil {
				return fmt.Errorf("tile at %d,%d: %w", r.x+tx, r.y+ty, err)
			}
		}
	}
	return nil
}

func (f *ServerFramer) trleTile(tw, th int, palette *int) error {
	sub, err := f.u8()
	if err != nil {
		return err
	}
	cpix := f.cpix
	packed := func(n int) int {
		bits := 4
		switch {
		case n == 2:
			bits = 1
		case n <= 4:
			bits = 2
		}
		return (tw*bits + 7) / 8 * th
	}
	switch {
	case sub == 0:
		return f.skip(tw * th * cpix)
	case sub == 1:
		return f.skip(cpix)
	case sub >= 2 && sub <= 16:
		*palette = sub
		return f.skip(sub*cpix + packed(sub))
	case sub == 127:
		if *palette < 2 || *palette > 16 {
			return fmt.Errorf("subencoding 127 reuses a packed palette, but the previous tile had %d colours: %w", *palette, ErrProtocol)
		}
		return f.skip(packed(*palette))
	case sub == 128:
		for left := tw * th; left > 0; {
			if err := f.skip(cpix); err != nil {
				return err
			}
			n, err := f.runLength(left)
			if err != nil {
				return err
			}
			left -= n
		}
		return nil
	case sub == 129 || sub >= 130:
		if sub >= 130 {
			*palette = sub - 128
			if err := f.skip(*palette * cpix); err != nil {
				return err
			}
		} else if *palette < 2 {
			return fmt.Errorf("subencoding 129 reuses the previous tile's palette, but it had none: %w", ErrProtocol)
		}
		for left := tw * th; left > 0; {
			idx, err := f.u8()
			if err != nil {
				return err
			}
			if idx&0x7f >= *palette {
				return fmt.Errorf("palette index %d of %d colours: %w", idx&0x7f, *palette, ErrProtocol)
			}
			n := 1
			if idx&0x80 != 0 {
				if n, err = f.runLength(left); err != nil {
					return err
				}
			}
			left -= n
		}
		return nil
	}
	return fmt.Errorf("subencoding %d: unused: %w", sub, ErrProtocol)
}

// runLength reads a run length (bytes summed while 255, plus one),
// stopping as soon as it exceeds left.
func (f *ServerFramer) runLength(left int) (int, error) {
	n := 1
	for {
		b, err := f.u8()
		if err != nil {
			return 0, err
		}
		n += b
		if n > left {
			return 0, fmt.Errorf("run of %d pixels or more with %d left in the tile: %w", n, left, ErrProtocol)
		}
		if b != 255 {
			return n, nil
		}
	}
}

// compactLength reads Tight's 1-3 byte length.
func (f *ServerFramer) compactLength() (int, error) {
	n := 0
	for i := 0; i < 3; i++ {
		b, err := f.u8()
		if err != nil {
			return 0, err
		}
		if i == 2 {
			return n | b<<14, nil
		}
		n |= (b & 0x7f) << (7 * i)
		if b&0x80 == 0 {
			return n, nil
		}
	}
	return n, nil
}

// tight walks a Tight rectangle's headers to find its end.
func (f *ServerFramer) tight(r rect) error {
	ctl, err := f.u8()
	if err != nil {
		return err
	}
	ctl >>= 4
	switch {
	case ctl == 0x8: // fill
		return f.skip(f.tpix)
	case ctl == 0x9: // JPEG
		n, err := f.compactLength()
		if err != nil {
			return err
		}
		return f.skip(n)
	case ctl > 0x9:
		return fmt.Errorf("compression control %#x: %w", ctl, ErrProtocol)
	}
	filter := 0
	if ctl&0x4 != 0 {
		if filter, err = f.u8(); err != nil {
			return err
		}
	}
	rowSize := r.w * f.tpix
	switch filter {
	case 0: // copy
	case 1: // palette
		n, err := f.u8()
		if err != nil {
			return err
		}
		if err := f.skip((n + 1) * f.tpix); err != nil {
			return err
		}
		rowSize = r.w
		if n+1 <= 2 {
			rowSize = (r.w + 7) / 8
		}
	case 2: // gradient
		if !f.pf.TrueColour {
			return fmt.Errorf("gradient filter with a colour map: %w", ErrProtocol)
		}
	default:
		return fmt.Errorf("filter %d: %w", filter, ErrProtocol)
	}
	size := rowSize * r.h
	if size < 12 {
		return f.skip(size)
	}
	n, err := f.compactLength()
	if err != nil {
		return err
	}
	return f.skip(n)
}
