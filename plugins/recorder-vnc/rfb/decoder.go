package rfb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// ErrMalformed is wrapped by every error about data the stream holds (as
// opposed to the stream ending early, which is io.ErrUnexpectedEOF).
var ErrMalformed = errors.New("malformed RFB stream")

// ErrTooMuchWork: the stream asks for more pixels to be written than the
// framebuffer's Limit allows. Errors wrapping it wrap ErrMalformed too.
var ErrTooMuchWork = errors.New("more decoding work than the stream's time allows")

// errWork is the error of a rectangle stopped by the work limit.
var errWork = fmt.Errorf("%w: %w", ErrTooMuchWork, ErrMalformed)

// Limits on what a stream may declare. They bound what the decoder
// allocates; anything larger is ErrMalformed. The VNC proxy enforces the
// same limits on the live stream.
const (
	MaxWidth      = 16384   // framebuffer width
	MaxHeight     = 16384   // framebuffer height
	MaxPixels     = 1 << 25 // framebuffer area: 8K UHD (7680x4320) fits
	MaxNameLength = 1 << 16 // desktop name
	MaxCutText    = 16 << 20
	MaxCursorSize = 1024 // cursor width and height
)

// Encoding numbers (RFC 6143, 7.7 and 7.8).
const (
	EncRaw                 int32 = 0
	EncCopyRect            int32 = 1
	EncRRE                 int32 = 2
	EncHextile             int32 = 5
	EncTight               int32 = 7
	EncTRLE                int32 = 15
	EncZRLE                int32 = 16
	EncDesktopSize         int32 = -223
	EncLastRect            int32 = -224
	EncPointerPos          int32 = -232
	EncCursor              int32 = -239
	EncXCursor             int32 = -240
	EncDesktopName         int32 = -307
	EncExtendedDesktopSize int32 = -308
)

// Server-to-client message types.
const (
	MsgFramebufferUpdate   = 0
	MsgSetColourMapEntries = 1
	MsgBell                = 2
	MsgServerCutText       = 3
)

// Source is the server's byte stream as the decoder reads it.
type Source interface {
	// Next returns the next n bytes, valid until the next call. A stream
	// that ends before the first of them is io.EOF, one that ends within
	// them io.ErrUnexpectedEOF.
	Next(n int) ([]byte, error)
}

// ReaderSource is a Source over an io.Reader.
type ReaderSource struct {
	r   io.Reader
	buf []byte
}

// NewReaderSource returns a Source reading r.
func NewReaderSource(r io.Reader) *ReaderSource { return &ReaderSource{r: r} }

// Next implements Source.
func (s *ReaderSource) Next(n int) ([]byte, error) {
	if cap(s.buf) < n {
		s.buf = make([]byte, n)
	}
	b := s.buf[:n]
	if _, err := io.ReadFull(s.r, b); err != nil {
		return nil, err
	}
	return b, nil
}

// Cursor is the shape the server last sent (Cursor or XCursor
// pseudo-encoding): RGBA pixels, alpha 0 or 255, and the hot spot.
type Cursor struct {
	Width, Height int
	HotX, HotY    int
	RGBA          []byte
	Gen           uint64 // grows with every new shape
}

// Decoder decodes a server-to-client RFB stream. It is not safe for
// concurrent use.
type Decoder struct {
	src  Source
	fb   Framebuffer
	pf   PixelFormat
	conv converter
	cmap []uint8 // colour map entries, 3 bytes each, grown on demand
	name string

	zrle  zstream
	tight [4]zstream

	// Palette of the previous TRLE tile, for subencodings 127 and 129.
	trlePalette [128]uint32
	trlePalLen  int

	cursor             Cursor
	pointerX, pointerY int
	pointerKnown       bool

	scratch []byte
}

// NewDecoder returns a decoder reading src. Call ReadServerInit first, or
// Init when the stream does not start with ServerInit.
func NewDecoder(src Source) *Decoder {
	d := &Decoder{src: src}
	for i := range d.tight {
		d.tight[i].name = fmt.Sprintf("tight: zlib stream %d", i)
	}
	d.zrle.name = "zrle"
	return d
}

// Framebuffer is the screen as decoded so far.
func (d *Decoder) Framebuffer() *Framebuffer { return &d.fb }

// PixelFormat is the pixel format in force.
func (d *Decoder) PixelFormat() PixelFormat { return d.pf }

// Name is the desktop name from ServerInit or the DesktopName
// pseudo-encoding.
func (d *Decoder) Name() string { return d.name }

// Cursor is the last cursor shape the server sent (Width 0: none).
func (d *Decoder) Cursor() *Cursor { return &d.cursor }

// Pointer is the last pointer position the server reported (PointerPos
// pseudo-encoding).
func (d *Decoder) Pointer() (x, y int, ok bool) { return d.pointerX, d.pointerY, d.pointerKnown }

// read returns the next n bytes; the end of the stream is
// io.ErrUnexpectedEOF, since read is only used inside a message.
func (d *Decoder) read(n int) ([]byte, error) {
	b, err := d.src.Next(n)
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return b, err
}

// checkSize checks a framebuffer size against the limits.
func checkSize(w, h int) error {
	if w <= 0 || h <= 0 || w > MaxWidth || h > MaxHeight || w*h > MaxPixels {
		return fmt.Errorf("framebuffer size %dx%d outside 1x1..%dx%d (at most %d pixels): %w",
			w, h, MaxWidth, MaxHeight, MaxPixels, ErrMalformed)
	}
	return nil
}

// ReadServerInit reads the ServerInit message (RFC 6143, 7.3.2).
func (d *Decoder) ReadServerInit() error {
	b, err := d.read(24)
	if err != nil {
		return fmt.Errorf("recorder-vnc: ServerInit: %w", err)
	}
	w, h := int(binary.BigEndian.Uint16(b)), int(binary.BigEndian.Uint16(b[2:]))
	pf, err := ParsePixelFormat(b[4:20])
	if err != nil {
		return fmt.Errorf("recorder-vnc: ServerInit: %w", err)
	}
	n := binary.BigEndian.Uint32(b[20:])
	if n > MaxNameLength {
		return fmt.Errorf("recorder-vnc: ServerInit: desktop name of %d bytes: %w", n, ErrMalformed)
	}
	name, err := d.read(int(n))
	if err != nil {
		return fmt.Errorf("recorder-vnc: ServerInit: %w", err)
	}
	d.name = string(name)
	return d.Init(w, h, pf)
}

// Init sets the framebuffer size and pixel format, as ServerInit does.
func (d *Decoder) Init(w, h int, pf PixelFormat) error {
	if err := checkSize(w, h); err != nil {
		return fmt.Errorf("recorder-vnc: %w", err)
	}
	if err := d.SetPixelFormat(pf); err != nil {
		return err
	}
	d.fb.resize(w, h)
	if d.fb.Over {
		return fmt.Errorf("recorder-vnc: ServerInit: %dx%d: %w", w, h, errWork)
	}
	return nil
}

// SetPixelFormat changes the pixel format of the data that follows.
func (d *Decoder) SetPixelFormat(pf PixelFormat) error {
	if err := pf.Validate(); err != nil {
		return fmt.Errorf("recorder-vnc: %w", err)
	}
	d.pf = pf
	d.conv = newConverter(pf, &d.cmap)
	return nil
}

// ReadMessageType reads the type of the next message: io.EOF when the
// stream ends between messages.
func (d *Decoder) ReadMessageType() (byte, error) {
	b, err := d.src.Next(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// DecodeMessage decodes the rest of a message of type t.
func (d *Decoder) DecodeMessage(t byte) error {
	if d.fb.Width == 0 {
		return errors.New("recorder-vnc: message before ServerInit")
	}
	switch t {
	case MsgFramebufferUpdate:
		return d.framebufferUpdate()
	case MsgSetColourMapEntries:
		return d.setColourMapEntries()
	case MsgBell:
		return nil
	case MsgServerCutText:
		return d.serverCutText()
	}
	return fmt.Errorf("recorder-vnc: server message type %d: unknown: %w", t, ErrMalformed)
}

func (d *Decoder) setColourMapEntries() error {
	b, err := d.read(5)
	if err != nil {
		return fmt.Errorf("recorder-vnc: SetColourMapEntries: %w", err)
	}
	first, n := int(binary.BigEndian.Uint16(b[1:])), int(binary.BigEndian.Uint16(b[3:]))
	if first+n > 1<<16 {
		return fmt.Errorf("recorder-vnc: SetColourMapEntries: entries %d..%d beyond 65535: %w", first, first+n-1, ErrMalformed)
	}
	data, err := d.read(6 * n)
	if err != nil {
		return fmt.Errorf("recorder-vnc: SetColourMapEntries: %w", err)
	}
	if need := 3 * (first + n); len(d.cmap) < need {
		d.cmap = append(d.cmap, make([]uint8, need-len(d.cmap))...)
	}
	for i := 0; i < n; i++ {
		e := data[6*i:]
		o := 3 * (first + i)
		d.cmap[o], d.cmap[o+1], d.cmap[o+2] = e[0], e[2], e[4] // high bytes of the 16-bit intensities
	}
	return nil
}

func (d *Decoder) serverCutText() error {
	b, err := d.read(7)
	if err != nil {
		return fmt.Errorf("recorder-vnc: ServerCutText: %w", err)
	}
	n := binary.BigEndian.Uint32(b[3:])
	if n > MaxCutText {
		return fmt.Errorf("recorder-vnc: ServerCutText: %d bytes: %w", n, ErrMalformed)
	}
	for n > 0 {
		k := min(n, 64<<10)
		if _, err := d.read(int(k)); err != nil {
			return fmt.Errorf("recorder-vnc: ServerCutText: %w", err)
		}
		n -= k
	}
	return nil
}

func (d *Decoder) framebufferUpdate() error {
	b, err := d.read(3)
	if err != nil {
		return fmt.Errorf("recorder-vnc: FramebufferUpdate: %w", err)
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	for i := 0; i < n; i++ {
		h, err := d.read(12)
		if err != nil {
			return fmt.Errorf("recorder-vnc: FramebufferUpdate: rectangle %d of %d: %w", i+1, n, err)
		}
		r := rect{
			x: int(binary.BigEndian.Uint16(h)), y: int(binary.BigEndian.Uint16(h[2:])),
			w: int(binary.BigEndian.Uint16(h[4:])), h: int(binary.BigEndian.Uint16(h[6:])),
			enc: int32(binary.BigEndian.Uint32(h[8:])),
		}
		if r.enc == EncLastRect {
			return nil
		}
		err = d.rect(r)
		if err == nil && d.fb.Over {
			err = errWork
		}
		if err != nil {
			return fmt.Errorf("recorder-vnc: %s: rectangle %d of %d, %dx%d at (%d,%d): %w",
				EncodingName(r.enc), i+1, n, r.w, r.h, r.x, r.y, err)
		}
	}
	return nil
}

// rect is one rectangle header.
type rect struct {
	x, y, w, h int
	enc        int32
}

func (d *Decoder) inside(r rect) error {
	if r.x+r.w > d.fb.Width || r.y+r.h > d.fb.Height {
		return fmt.Errorf("outside the %dx%d framebuffer: %w", d.fb.Width, d.fb.Height, ErrMalformed)
	}
	return nil
}

func (d *Decoder) rect(r rect) error {
	switch r.enc {
	case EncRaw, EncCopyRect, EncRRE, EncHextile, EncTRLE, EncZRLE, EncTight:
		if err := d.inside(r); err != nil {
			return err
		}
	}
	switch r.enc {
	case EncRaw:
		return d.raw(r)
	case EncCopyRect:
		return d.copyRect(r)
	case EncRRE:
		return d.rre(r)
	case EncHextile:
		return d.hextile(r)
	case EncTRLE:
		return d.trle(r)
	case EncZRLE:
		return d.zrleRect(r)
	case EncTight:
		return d.tightRect(r)
	case EncDesktopSize:
		if err := checkSize(r.w, r.h); err != nil {
			return err
		}
		d.fb.resize(r.w, r.h)
		return nil
	case EncExtendedDesktopSize:
		return d.extendedDesktopSize(r)
	case EncCursor:
		return d.richCursor(r)
	case EncXCursor:
		return d.xCursor(r)
	case EncPointerPos:
		d.pointerX, d.pointerY, d.pointerKnown = r.x, r.y, true
		return nil
	case EncDesktopName:
		b, err := d.read(4)
		if err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(b)
		if n > MaxNameLength {
			return fmt.Errorf("name of %d bytes: %w", n, ErrMalformed)
		}
		name, err := d.read(int(n))
		if err != nil {
			return err
		}
		d.name = string(name)
		return nil
	}
	return fmt.Errorf("encoding %d: not one the client asked for: %w", r.enc, ErrMalformed)
}

// EncodingName names an encoding for messages.
func EncodingName(enc int32) string {
	switch enc {
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
	return fmt.Sprintf("encoding %d", enc)
}

func (d *Decoder) raw(r rect) error {
	if !d.fb.paint(r.w, r.h) {
		return errWork
	}
	bpp := d.conv.bpp
	for j := 0; j < r.h; j++ {
		b, err := d.read(r.w * bpp)
		if err != nil {
			return err
		}
		d.conv.row(d.fb.rowAt(r.x, r.y+j, r.w), b, r.w)
	}
	return nil
}

func (d *Decoder) copyRect(r rect) error {
	b, err := d.read(4)
	if err != nil {
		return err
	}
	sx, sy := int(binary.BigEndian.Uint16(b)), int(binary.BigEndian.Uint16(b[2:]))
	if sx+r.w > d.fb.Width || sy+r.h > d.fb.Height {
		return fmt.Errorf("source (%d,%d) outside the %dx%d framebuffer: %w", sx, sy, d.fb.Width, d.fb.Height, ErrMalformed)
	}
	d.fb.copyRect(r.x, r.y, sx, sy, r.w, r.h)
	return nil
}

// pixel reads one pixel value and converts it.
func (d *Decoder) pixel() ([3]byte, error) {
	var rgb [3]byte
	b, err := d.read(d.conv.bpp)
	if err != nil {
		return rgb, err
	}
	d.conv.rgb(rgb[:], d.conv.value(b))
	return rgb, nil
}

func (d *Decoder) rre(r rect) error {
	b, err := d.read(4)
	if err != nil {
		return err
	}
	n := int64(binary.BigEndian.Uint32(b))
	if n > int64(r.w)*int64(r.h) {
		return fmt.Errorf("%d subrectangles in %d pixels: %w", n, r.w*r.h, ErrMalformed)
	}
	bg, err := d.pixel()
	if err != nil {
		return err
	}
	d.fb.fill(r.x, r.y, r.w, r.h, bg)
	bpp := d.conv.bpp
	for i := int64(0); i < n; i++ {
		if d.fb.Over {
			return errWork
		}
		s, err := d.read(bpp + 8)
		if err != nil {
			return err
		}
		var c [3]byte
		d.conv.rgb(c[:], d.conv.value(s))
		sx, sy := int(binary.BigEndian.Uint16(s[bpp:])), int(binary.BigEndian.Uint16(s[bpp+2:]))
		sw, sh := int(binary.BigEndian.Uint16(s[bpp+4:])), int(binary.BigEndian.Uint16(s[bpp+6:]))
		if sx+sw > r.w || sy+sh > r.h {
			return fmt.Errorf("subrectangle %d: %dx%d at (%d,%d) outside the rectangle: %w", i+1, sw, sh, sx, sy, ErrMalformed)
		}
		d.fb.fill(r.x+sx, r.y+sy, sw, sh, c)
	}
	return nil
}

// Hextile subencoding bits.
const (
	hextileRaw              = 1
	hextileBackground       = 2
	hextileForeground       = 4
	hextileAnySubrects      = 8
	hextileSubrectsColoured = 16
)

func (d *Decoder) hextile(r rect) error {
	var bg, fg [3]byte
	bpp := d.conv.bpp
	for ty := 0; ty < r.h; ty += 16 {
		th := min(16, r.h-ty)
		for tx := 0; tx < r.w; tx += 16 {
			tw := min(16, r.w-tx)
			x, y := r.x+tx, r.y+ty
			if d.fb.Over {
				return errWork
			}
			b, err := d.read(1)
			if err != nil {
				return err
			}
			sub := b[0]
			if sub >= 32 {
				return fmt.Errorf("tile at (%d,%d): subencoding %#x: %w", x, y, sub, ErrMalformed)
			}
			if sub&hextileRaw != 0 {
				if err := d.raw(rect{x: x, y: y, w: tw, h: th}); err != nil {
					return fmt.Errorf("tile at (%d,%d): %w", x, y, err)
				}
				continue
			}
			if sub&hextileBackground != 0 {
				if bg, err = d.pixel(); err != nil {
					return err
				}
			}
			if sub&hextileForeground != 0 {
				if fg, err = d.pixel(); err != nil {
					return err
				}
			}
			d.fb.fill(x, y, tw, th, bg)
			if sub&hextileAnySubrects == 0 {
				continue
			}
			b, err = d.read(1)
			if err != nil {
				return err
			}
			n := int(b[0])
			size := 2
			if sub&hextileSubrectsColoured != 0 {
				size += bpp
			}
			s, err := d.read(n * size)
			if err != nil {
				return err
			}
			for i := 0; i < n; i++ {
				e := s[i*size:]
				c := fg
				if sub&hextileSubrectsColoured != 0 {
					d.conv.rgb(c[:], d.conv.value(e))
					e = e[bpp:]
				}
				sx, sy := int(e[0]>>4), int(e[0]&15)
				sw, sh := int(e[1]>>4)+1, int(e[1]&15)+1
				if sx+sw > tw || sy+sh > th {
					return fmt.Errorf("tile at (%d,%d): subrectangle %dx%d at (%d,%d) outside the %dx%d tile: %w",
						x, y, sw, sh, sx, sy, tw, th, ErrMalformed)
				}
				d.fb.fill(x+sx, y+sy, sw, sh, c)
			}
		}
	}
	return nil
}

func (d *Decoder) extendedDesktopSize(r rect) error {
	b, err := d.read(4)
	if err != nil {
		return err
	}
	n := int(b[0])
	if _, err := d.read(16 * n); err != nil {
		return err
	}
	if r.y != 0 { // status: the server refused a client's request; the size stays
		return nil
	}
	if err := checkSize(r.w, r.h); err != nil {
		return err
	}
	d.fb.resize(r.w, r.h)
	return nil
}

func checkCursor(r rect) error {
	if r.w > MaxCursorSize || r.h > MaxCursorSize {
		return fmt.Errorf("cursor of %dx%d above %dx%d: %w", r.w, r.h, MaxCursorSize, MaxCursorSize, ErrMalformed)
	}
	if r.w > 0 && r.h > 0 && (r.x >= r.w || r.y >= r.h) {
		return fmt.Errorf("hot spot (%d,%d) outside the %dx%d cursor: %w", r.x, r.y, r.w, r.h, ErrMalformed)
	}
	return nil
}

func (d *Decoder) richCursor(r rect) error {
	if err := checkCursor(r); err != nil {
		return err
	}
	if !d.fb.spend(r.w * r.h) {
		return errWork
	}
	bpp := d.conv.bpp
	pix, err := d.read(r.w * r.h * bpp)
	if err != nil {
		return err
	}
	rgba := make([]byte, 4*r.w*r.h)
	for i := 0; i < r.w*r.h; i++ {
		d.conv.rgb(rgba[4*i:], d.conv.value(pix[i*bpp:]))
	}
	stride := (r.w + 7) / 8
	mask, err := d.read(stride * r.h)
	if err != nil {
		return err
	}
	setMask(rgba, mask, r.w, r.h)
	d.setCursor(r, rgba)
	return nil
}

func (d *Decoder) xCursor(r rect) error {
	if err := checkCursor(r); err != nil {
		return err
	}
	if r.w == 0 || r.h == 0 {
		d.setCursor(r, nil)
		return nil
	}
	if !d.fb.spend(r.w * r.h) {
		return errWork
	}
	stride := (r.w + 7) / 8
	b, err := d.read(6 + 2*stride*r.h)
	if err != nil {
		return err
	}
	fg, bg := b[0:3], b[3:6]
	bits, mask := b[6:6+stride*r.h], b[6+stride*r.h:]
	rgba := make([]byte, 4*r.w*r.h)
	for y := 0; y < r.h; y++ {
		for x := 0; x < r.w; x++ {
			c := bg
			if bits[y*stride+x/8]&(0x80>>(x%8)) != 0 {
				c = fg
			}
			copy(rgba[4*(y*r.w+x):], c)
		}
	}
	setMask(rgba, mask, r.w, r.h)
	d.setCursor(r, rgba)
	return nil
}

// setMask sets alpha from a 1-bit mask, rows padded to bytes.
func setMask(rgba, mask []byte, w, h int) {
	stride := (w + 7) / 8
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if mask[y*stride+x/8]&(0x80>>(x%8)) != 0 {
				rgba[4*(y*w+x)+3] = 255
			} else {
				rgba[4*(y*w+x)+3] = 0
			}
		}
	}
}

func (d *Decoder) setCursor(r rect, rgba []byte) {
	d.cursor = Cursor{Width: r.w, Height: r.h, HotX: r.x, HotY: r.y, RGBA: rgba, Gen: d.cursor.Gen + 1}
	if rgba == nil {
		d.cursor.Width, d.cursor.Height = 0, 0
	}
}
