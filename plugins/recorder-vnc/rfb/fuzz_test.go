package rfb

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzDecoder feeds arbitrary bytes as a server stream: decoding must end
// with io.EOF at a message boundary, a truncation, or ErrMalformed — never
// a panic, a hang or an allocation the limits do not allow.
func FuzzDecoder(f *testing.F) {
	for _, pf := range []PixelFormat{pfRGB888, pfRGB565BE, pfColourMap, pfHigh888} {
		sc := newScreen(pf, 40, 30, 9)
		s := newStream(pf)
		s.serverInit(40, 30, "fuzz")
		s.fbuHeader(3)
		s.raw(sc, 0, 0, 8, 8)
		s.rre(sc, 8, 0, 8, 8)
		s.hextile(sc, 0, 8, 40, 22)
		f.Add(s.Bytes())
		s.fbuHeader(2)
		s.zrle(sc, 0, 0, 40, 30)
		s.trle(sc, 0, 0, 40, 30)
		f.Add(s.Bytes())
		s.fbuHeader(4)
		s.tight(sc, 0, 0, 40, 10, "copy", 1)
		s.tight(sc, 0, 10, 40, 10, "fill", 0)
		s.tight(sc, 0, 20, 40, 10, "palette", 2)
		s.copyRect(1, 1, 10, 10, 0, 0)
		f.Add(s.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// Large screens are legal but slow to allocate at every run; the
		// limits themselves are tested in TestServerInitErrors.
		if len(data) >= 4 && int(data[0])<<8|int(data[1]) > 2048 || len(data) >= 4 && int(data[2])<<8|int(data[3]) > 2048 {
			return
		}
		d := NewDecoder(NewReaderSource(bytes.NewReader(data)))
		err := d.ReadServerInit()
		// The recorder bounds work against the session's time; here a
		// fixed budget keeps every run short.
		for err == nil && d.Framebuffer().Work < 1<<24 {
			var typ byte
			typ, err = d.ReadMessageType()
			if err == nil {
				err = d.DecodeMessage(typ)
			}
		}
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if fb := d.Framebuffer(); len(fb.Pix) != 3*fb.Width*fb.Height || fb.Width*fb.Height > MaxPixels {
			t.Fatalf("framebuffer %dx%d with %d bytes", fb.Width, fb.Height, len(fb.Pix))
		}
	})
}
