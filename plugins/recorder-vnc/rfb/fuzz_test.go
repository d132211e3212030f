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
		d := NewDecoder(NewReaderSource(bytes.NewReader(data)))
		// The recorder bounds work by the session's time; here a fixed
		// budget keeps every run short.
		d.Framebuffer().Limit = 1 << 22
		err := d.ReadServerInit()
		for err == nil {
			var typ byte
			typ, err = d.ReadMessageType()
			if err == nil {
				err = d.DecodeMessage(typ)
			}
		}
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrMalformed) {
			t.Fatalf("unexpected error kind: %v", err)
		}
		if fb := d.Framebuffer(); len(fb.Pix) != 3*fb.Width*fb.Height || fb.Width*fb.Height > MaxPixels || fb.Work > fb.Limit {
			t.Fatalf("framebuffer %dx%d with %d bytes, work %d", fb.Width, fb.Height, len(fb.Pix), fb.Work)
		}
	})
}
