package rfb

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
)

// PixelFormat is RFB's PIXEL_FORMAT (RFC 6143, 7.4): how pixel values are
// laid out in FramebufferUpdate data.
type PixelFormat struct {
	BitsPerPixel uint8 // 8, 16 or 32
	Depth        uint8
	BigEndian    bool
	TrueColour   bool
	RedMax       uint16
	GreenMax     uint16
	BlueMax      uint16
	RedShift     uint8
	GreenShift   uint8
	BlueShift    uint8
}

// PixelFormatSize is the size of PIXEL_FORMAT on the wire.
const PixelFormatSize = 16

// ParsePixelFormat reads a wire PIXEL_FORMAT and checks it.
func ParsePixelFormat(b []byte) (PixelFormat, error) {
	if len(b) < PixelFormatSize {
		return PixelFormat{}, fmt.Errorf("pixel format: %d bytes, want %d: %w", len(b), PixelFormatSize, ErrMalformed)
	}
	pf := PixelFormat{
		BitsPerPixel: b[0],
		Depth:        b[1],
		BigEndian:    b[2] != 0,
		TrueColour:   b[3] != 0,
		RedMax:       binary.BigEndian.Uint16(b[4:]),
		GreenMax:     binary.BigEndian.Uint16(b[6:]),
		BlueMax:      binary.BigEndian.Uint16(b[8:]),
		RedShift:     b[10],
		GreenShift:   b[11],
		BlueShift:    b[12],
	}
	return pf, pf.Validate()
}

// Validate reports whether pf is a pixel format the decoder can use: 8, 16
// or 32 bits per pixel, a depth that fits, and for true colour, channels
// (max a power of two minus one) that fit in the pixel.
func (pf PixelFormat) Validate() error {
	switch pf.BitsPerPixel {
	case 8, 16, 32:
	default:
		return fmt.Errorf("pixel format: %d bits per pixel: %w", pf.BitsPerPixel, ErrMalformed)
	}
	if pf.Depth == 0 || pf.Depth > pf.BitsPerPixel {
		return fmt.Errorf("pixel format: depth %d with %d bits per pixel: %w", pf.Depth, pf.BitsPerPixel, ErrMalformed)
	}
	if !pf.TrueColour {
		return nil
	}
	for _, c := range [...]struct {
		name  string
		max   uint16
		shift uint8
	}{{"red", pf.RedMax, pf.RedShift}, {"green", pf.GreenMax, pf.GreenShift}, {"blue", pf.BlueMax, pf.BlueShift}} {
		if c.max == 0 || c.max&(c.max+1) != 0 {
			return fmt.Errorf("pixel format: %s max %d is not 2^n-1: %w", c.name, c.max, ErrMalformed)
		}
		if int(c.shift)+bitLen(c.max) > int(pf.BitsPerPixel) {
			return fmt.Errorf("pixel format: %s max %d shifted by %d does not fit %d bits: %w",
				c.name, c.max, c.shift, pf.BitsPerPixel, ErrMalformed)
		}
	}
	return nil
}

func bitLen(v uint16) int {
	n := 0
	for ; v != 0; v >>= 1 {
		n++
	}
	return n
}

// BytesPerPixel is the size of one pixel value on the wire.
func (pf PixelFormat) BytesPerPixel() int { return int(pf.BitsPerPixel) / 8 }

// maxPixel is the largest value any colour can have in pf.
func (pf PixelFormat) maxPixel() uint32 {
	return uint32(pf.RedMax)<<pf.RedShift | uint32(pf.GreenMax)<<pf.GreenShift | uint32(pf.BlueMax)<<pf.BlueShift
}

// cpixelLayout says how a CPIXEL (ZRLE and TRLE, RFC 6143 7.7.5) is laid
// out: its size, and for 3-byte CPIXELs whether they fill the low (first)
// or the high (last) three bytes of the 4-byte pixel in memory order.
func (pf PixelFormat) cpixelLayout() (size int, low bool) {
	if !pf.TrueColour || pf.BitsPerPixel != 32 || pf.Depth > 24 {
		return pf.BytesPerPixel(), false
	}
	m := pf.maxPixel()
	fitsLS := m < 1<<24
	fitsMS := m&0xff == 0
	switch {
	case (fitsLS && !pf.BigEndian) || (fitsMS && pf.BigEndian):
		return 3, true
	case (fitsLS && pf.BigEndian) || (fitsMS && !pf.BigEndian):
		return 3, false
	}
	return 4, false
}

// tpixelIsRGB says whether a TPIXEL (Tight) is three bytes red, green,
// blue rather than a whole pixel value.
func (pf PixelFormat) tpixelIsRGB() bool {
	return pf.TrueColour && pf.BitsPerPixel == 32 && pf.Depth == 24 &&
		pf.RedMax == 255 && pf.GreenMax == 255 && pf.BlueMax == 255
}

// String describes pf the way the VNC proxy writes it into a capture's
// Meta record (rfb_pixel_format): space-separated key=value pairs, e.g.
// "bpp=32 depth=24 be=0 tc=1 rmax=255 gmax=255 bmax=255 rshift=16 gshift=8 bshift=0".
func (pf PixelFormat) String() string {
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	return fmt.Sprintf("bpp=%d depth=%d be=%d tc=%d rmax=%d gmax=%d bmax=%d rshift=%d gshift=%d bshift=%d",
		pf.BitsPerPixel, pf.Depth, b2i(pf.BigEndian), b2i(pf.TrueColour),
		pf.RedMax, pf.GreenMax, pf.BlueMax, pf.RedShift, pf.GreenShift, pf.BlueShift)
}

// ParsePixelFormatString reads what String writes. Every key must appear
// exactly once; the format must pass Validate.
func ParsePixelFormatString(s string) (PixelFormat, error) {
	fields := strings.Fields(s)
	keys := [...]string{"bpp", "depth", "be", "tc", "rmax", "gmax", "bmax", "rshift", "gshift", "bshift"}
	var vals [len(keys)]uint64
	var seen [len(keys)]bool
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return PixelFormat{}, fmt.Errorf("pixel format %q: field %q is not key=value: %w", s, f, ErrMalformed)
		}
		i := -1
		for j, name := range keys {
			if name == k {
				i = j
			}
		}
		if i < 0 || seen[i] {
			return PixelFormat{}, fmt.Errorf("pixel format %q: unknown or repeated key %q: %w", s, k, ErrMalformed)
		}
		n, err := strconv.ParseUint(v, 10, 16)
		if err != nil {
			return PixelFormat{}, fmt.Errorf("pixel format %q: %s: %v: %w", s, k, err, ErrMalformed)
		}
		vals[i], seen[i] = n, true
	}
	for i, ok := range seen {
		if !ok {
			return PixelFormat{}, fmt.Errorf("pixel format %q: %s missing: %w", s, keys[i], ErrMalformed)
		}
	}
	for _, i := range []int{0, 1, 7, 8, 9} {
		if vals[i] > 255 {
			return PixelFormat{}, fmt.Errorf("pixel format %q: %s %d out of range: %w", s, keys[i], vals[i], ErrMalformed)
		}
	}
	pf := PixelFormat{
		BitsPerPixel: uint8(vals[0]), Depth: uint8(vals[1]), BigEndian: vals[2] != 0, TrueColour: vals[3] != 0,
		RedMax: uint16(vals[4]), GreenMax: uint16(vals[5]), BlueMax: uint16(vals[6]),
		RedShift: uint8(vals[7]), GreenShift: uint8(vals[8]), BlueShift: uint8(vals[9]),
	}
	return pf, pf.Validate()
}

// converter turns pixel values of one pixel format into RGB24.
type converter struct {
	pf         PixelFormat
	bpp        int
	r, g, b    []uint8 // channel value -> 8-bit intensity
	rm, gm, bm uint32
	fast32     bool     // 32 bpp, 8-bit channels on byte boundaries
	cmap       *[]uint8 // colour map, 3 bytes per entry, shared with the decoder
}

func newConverter(pf PixelFormat, cmap *[]uint8) converter {
	c := converter{pf: pf, bpp: pf.BytesPerPixel(), cmap: cmap}
	if pf.TrueColour {
		c.rm, c.gm, c.bm = uint32(pf.RedMax), uint32(pf.GreenMax), uint32(pf.BlueMax)
		c.r, c.g, c.b = scaleTable(pf.RedMax), scaleTable(pf.GreenMax), scaleTable(pf.BlueMax)
		c.fast32 = pf.BitsPerPixel == 32 && pf.RedMax == 255 && pf.GreenMax == 255 && pf.BlueMax == 255 &&
			pf.RedShift%8 == 0 && pf.GreenShift%8 == 0 && pf.BlueShift%8 == 0
	}
	return c
}

// scaleTable maps 0..max onto 0..255, rounding.
func scaleTable(max uint16) []uint8 {
	t := make([]uint8, int(max)+1)
	for i := range t {
		t[i] = uint8((i*255 + int(max)/2) / int(max))
	}
	return t
}

// value reads one pixel value of c.bpp bytes.
func (c *converter) value(p []byte) uint32 {
	switch c.bpp {
	case 1:
		return uint32(p[0])
	case 2:
		if c.pf.BigEndian {
			return uint32(binary.BigEndian.Uint16(p))
		}
		return uint32(binary.LittleEndian.Uint16(p))
	}
	if c.pf.BigEndian {
		return binary.BigEndian.Uint32(p)
	}
	return binary.LittleEndian.Uint32(p)
}

// rgb converts a pixel value and stores it at dst[0:3].
func (c *converter) rgb(dst []byte, v uint32) {
	if c.pf.TrueColour {
		dst[0] = c.r[(v>>c.pf.RedShift)&c.rm]
		dst[1] = c.g[(v>>c.pf.GreenShift)&c.gm]
		dst[2] = c.b[(v>>c.pf.BlueShift)&c.bm]
		return
	}
	m := *c.cmap
	i := int(v) * 3
	if i+3 > len(m) {
		dst[0], dst[1], dst[2] = 0, 0, 0
		return
	}
	dst[0], dst[1], dst[2] = m[i], m[i+1], m[i+2]
}

// row converts n pixel values from src (n*bpp bytes) into dst (n*3 bytes).
func (c *converter) row(dst, src []byte, n int) {
	if c.fast32 {
		ro, gb, bo := c.byteIndex(c.pf.RedShift), c.byteIndex(c.pf.GreenShift), c.byteIndex(c.pf.BlueShift)
		for i := 0; i < n; i++ {
			s := src[i*4 : i*4+4 : i*4+4]
			d := dst[i*3 : i*3+3 : i*3+3]
			d[0], d[1], d[2] = s[ro], s[gb], s[bo]
		}
		return
	}
	for i := 0; i < n; i++ {
		c.rgb(dst[i*3:], c.value(src[i*c.bpp:]))
	}
}

// byteIndex is where the byte holding a channel at shift lies in a 32-bit
// pixel in memory.
func (c *converter) byteIndex(shift uint8) int {
	if c.pf.BigEndian {
		return 3 - int(shift)/8
	}
	return int(shift) / 8
}
