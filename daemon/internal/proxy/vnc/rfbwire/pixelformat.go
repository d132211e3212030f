package rfbwire

import (
	"encoding/binary"
	"fmt"
)

// PixelFormat is RFB's PIXEL_FORMAT (RFC 6143, 7.4).
type PixelFormat struct {
	BitsPerPixel uint8
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
		return PixelFormat{}, fmt.Errorf("pixel format of %d bytes: %w", len(b), ErrProtocol)
	}
	pf := PixelFormat{
		BitsPerPixel: b[0], Depth: b[1], BigEndian: b[2] != 0, TrueColour: b[3] != 0,
		RedMax: binary.BigEndian.Uint16(b[4:]), GreenMax: binary.BigEndian.Uint16(b[6:]), BlueMax: binary.BigEndian.Uint16(b[8:]),
		RedShift: b[10], GreenShift: b[11], BlueShift: b[12],
	}
	return pf, pf.Validate()
}

// AppendTo appends the wire form of pf.
func (pf PixelFormat) AppendTo(b []byte) []byte {
	b = append(b, pf.BitsPerPixel, pf.Depth, b2u(pf.BigEndian), b2u(pf.TrueColour))
	b = binary.BigEndian.AppendUint16(b, pf.RedMax)
	b = binary.BigEndian.AppendUint16(b, pf.GreenMax)
	b = binary.BigEndian.AppendUint16(b, pf.BlueMax)
	return append(b, pf.RedShift, pf.GreenShift, pf.BlueShift, 0, 0, 0)
}

func b2u(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// Validate accepts what the VNC recorder can decode: 8, 16 or 32 bits per
// pixel, a depth that fits, and true-colour channels whose maxima are
// 2^n-1 and fit in the pixel after their shift.
func (pf PixelFormat) Validate() error {
	switch pf.BitsPerPixel {
	case 8, 16, 32:
	default:
		return fmt.Errorf("pixel format with %d bits per pixel: %w", pf.BitsPerPixel, ErrProtocol)
	}
	if pf.Depth == 0 || pf.Depth > pf.BitsPerPixel {
		return fmt.Errorf("pixel format with depth %d in %d bits per pixel: %w", pf.Depth, pf.BitsPerPixel, ErrProtocol)
	}
	if !pf.TrueColour {
		return nil
	}
	for _, c := range [...]struct {
		name  string
		max   uint16
		shift uint8
	}{{"red", pf.RedMax, pf.RedShift}, {"green", pf.GreenMax, pf.GreenShift}, {"blue", pf.BlueMax, pf.BlueShift}} {
		bits := 0
		for v := c.max; v != 0; v >>= 1 {
			bits++
		}
		if c.max == 0 || c.max&(c.max+1) != 0 || int(c.shift)+bits > int(pf.BitsPerPixel) {
			return fmt.Errorf("pixel format with %s max %d at shift %d in %d bits: %w", c.name, c.max, c.shift, pf.BitsPerPixel, ErrProtocol)
		}
	}
	return nil
}

// BytesPerPixel is the size of a pixel value on the wire.
func (pf PixelFormat) BytesPerPixel() int { return int(pf.BitsPerPixel) / 8 }

// cpixelSize is the size of a ZRLE/TRLE CPIXEL (RFC 6143, 7.7.5): three
// bytes when a 32-bit true-colour pixel's colours fit in its low or high
// three bytes.
func (pf PixelFormat) cpixelSize() int {
	if pf.TrueColour && pf.BitsPerPixel == 32 && pf.Depth <= 24 {
		m := uint32(pf.RedMax)<<pf.RedShift | uint32(pf.GreenMax)<<pf.GreenShift | uint32(pf.BlueMax)<<pf.BlueShift
		if m < 1<<24 || m&0xff == 0 {
			return 3
		}
	}
	return pf.BytesPerPixel()
}

// tpixelSize is the size of a Tight TPIXEL: three bytes (red, green,
// blue) for 32-bit true colour of depth 24 with 8-bit channels.
func (pf PixelFormat) tpixelSize() int {
	if pf.TrueColour && pf.BitsPerPixel == 32 && pf.Depth == 24 && pf.RedMax == 255 && pf.GreenMax == 255 && pf.BlueMax == 255 {
		return 3
	}
	return pf.BytesPerPixel()
}

// String is how the gateway writes the pixel format into a capture's Meta
// record (SessionMeta.PixelFormat): space-separated key=value pairs, e.g.
// "bpp=32 depth=24 be=0 tc=1 rmax=255 gmax=255 bmax=255 rshift=16 gshift=8 bshift=0".
// The VNC recorder parses exactly this form.
func (pf PixelFormat) String() string {
	return fmt.Sprintf("bpp=%d depth=%d be=%d tc=%d rmax=%d gmax=%d bmax=%d rshift=%d gshift=%d bshift=%d",
		pf.BitsPerPixel, pf.Depth, b2u(pf.BigEndian), b2u(pf.TrueColour),
		pf.RedMax, pf.GreenMax, pf.BlueMax, pf.RedShift, pf.GreenShift, pf.BlueShift)
}
