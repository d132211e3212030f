package rfb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

var (
	pfRGB888    = PixelFormat{32, 24, false, true, 255, 255, 255, 16, 8, 0}
	pfBGR888BE  = PixelFormat{32, 24, true, true, 255, 255, 255, 0, 8, 16}
	pfHigh888   = PixelFormat{32, 24, false, true, 255, 255, 255, 24, 16, 8}
	pfHigh888BE = PixelFormat{32, 24, true, true, 255, 255, 255, 24, 16, 8}
	pf30bit     = PixelFormat{32, 30, false, true, 1023, 1023, 1023, 20, 10, 0}
	pfRGB565    = PixelFormat{16, 16, false, true, 31, 63, 31, 11, 5, 0}
	pfRGB565BE  = PixelFormat{16, 16, true, true, 31, 63, 31, 11, 5, 0}
	pfBGR233    = PixelFormat{8, 8, false, true, 7, 7, 3, 0, 3, 6}
	pfColourMap = PixelFormat{8, 8, false, false, 0, 0, 0, 0, 0, 0}
)

var testFormats = []struct {
	name string
	pf   PixelFormat
}{
	{"rgb888", pfRGB888}, {"bgr888-be", pfBGR888BE}, {"high888", pfHigh888}, {"high888-be", pfHigh888BE},
	{"30bit", pf30bit}, {"rgb565", pfRGB565}, {"rgb565-be", pfRGB565BE}, {"bgr233", pfBGR233},
	{"colour-map", pfColourMap},
}

// decodeAll decodes a whole stream and fails the test on any error.
func decodeAll(t testing.TB, data []byte) *Decoder {
	t.Helper()
	d := NewDecoder(NewReaderSource(bytes.NewReader(data)))
	if err := d.ReadServerInit(); err != nil {
		t.Fatalf("ServerInit: %v", err)
	}
	for {
		typ, err := d.ReadMessageType()
		if errors.Is(err, io.EOF) {
			return d
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := d.DecodeMessage(typ); err != nil {
			t.Fatalf("message type %d: %v", typ, err)
		}
	}
}

// expected is the framebuffer a test expects, RGB24.
type expected struct {
	w, h int
	pix  []byte
	tol  []byte // per-pixel tolerance (JPEG)
}

func newExpected(w, h int) *expected {
	return &expected{w: w, h: h, pix: make([]byte, 3*w*h), tol: make([]byte, w*h)}
}

func (e *expected) set(x, y int, c [3]byte, tol byte) {
	copy(e.pix[3*(y*e.w+x):], c[:])
	e.tol[y*e.w+x] = tol
}

func (e *expected) from(sc *screen, cmap []uint8, x, y, w, h int) {
	for j := y; j < y+h; j++ {
		for i := x; i < x+w; i++ {
			e.set(i, j, expectRGB(sc.pf, cmap, sc.at(i, j)), 0)
		}
	}
}

func (e *expected) check(t testing.TB, fb *Framebuffer) {
	t.Helper()
	if fb.Width != e.w || fb.Height != e.h {
		t.Fatalf("framebuffer %dx%d, want %dx%d", fb.Width, fb.Height, e.w, e.h)
	}
	bad := 0
	for i := 0; i < e.w*e.h; i++ {
		for c := 0; c < 3; c++ {
			g, w := int(fb.Pix[3*i+c]), int(e.pix[3*i+c])
			if g-w > int(e.tol[i]) || w-g > int(e.tol[i]) {
				if bad < 5 {
					t.Errorf("pixel (%d,%d) channel %d = %d, want %d (±%d)", i%e.w, i/e.w, c, g, w, e.tol[i])
				}
				bad++
				break
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d pixels differ", bad)
	}
}

// colourMap sends 256 random colour map entries and returns them as the
// decoder must store them.
func colourMap(s *stream, rng *rand.Rand) []uint8 {
	s.u8(MsgSetColourMapEntries)
	s.u8(0)
	s.u16(0)
	s.u16(256)
	cmap := make([]uint8, 3*256)
	for i := range 256 {
		for c := range 3 {
			v := rng.IntN(1 << 16)
			s.u16(v)
			cmap[3*i+c] = byte(v >> 8)
		}
	}
	return cmap
}

func TestDecodeEncodings(t *testing.T) {
	const w, h = 150, 90 // not multiples of 16 or 64: partial tiles everywhere
	encoders := []struct {
		name string
		tc   bool // true colour only
		enc  func(s *stream, sc *screen, e *expected, cmap []uint8, x, y, w, h int)
	}{
		{"raw", false, func(s *stream, sc *screen, e *expected, cmap []uint8, x, y, w, h int) {
			s.raw(sc, x, y, w, h)
			e.from(sc, cmap, x, y, w, h)
		}},
		{"rre", false, func(s *stream, sc *screen, e *expected, cmap []uint8, x, y, w, h int) {
			s.rre(sc, x, y, w, h)
			e.from(sc, cmap, x, y, w, h)
		}},
		{"hextile", false, func(s *stream, sc *screen, e *expected, cmap []uint8, x, y, w, h int) {
			s.hextile(sc, x, y, w, h)
			e.from(sc, cmap, x, y, w, h)
		}},
		{"trle", false, func(s *stream, sc *screen, e *expected, cmap []uint8, x, y, w, h int) {
			s.trle(sc, x, y, w, h)
			e.from(sc, cmap, x, y, w, h)
		}},
		{"zrle", false, func(s *stream, sc *screen, e *expected, cmap []uint8, x, y, w, h int) {
			s.zrle(sc, x, y, w, h)
			e.from(sc, cmap, x, y, w, h)
		}},
		{"tight-copy", false, func(s *stream, sc *screen, e *expected, cmap []uint8, x, y, w, h int) {
			s.tight(sc, x, y, w, h, "copy", (x+y)%4)
			e.from(sc, cmap, x, y, w, h)
		}},
		{"tight-gradient", true, func(s *stream, sc *screen, e *expected, cmap []uint8, x, y, w, h int) {
			s.tight(sc, x, y, w, h, "gradient", 1)
			e.from(sc, cmap, x, y, w, h)
		}},
		{"tight-fill", false, func(s *stream, sc *screen, e *expected, cmap []uint8, x, y, w, h int) {
			s.tight(sc, x, y, w, h, "fill", 0)
			c := expectRGB(sc.pf, cmap, sc.at(x, y))
			for j := y; j < y+h; j++ {
				for i := x; i < x+w; i++ {
					e.set(i, j, c, 0)
				}
			}
		}},
		{"tight-jpeg", true, func(s *stream, sc *screen, e *expected, cmap []uint8, x, y, w, h int) {
			s.tight(sc, x, y, w, h, "jpeg", 0)
			// Lossy, and chroma is subsampled: only the smooth gradient
			// band is checked closely.
			for j := y; j < y+h; j++ {
				for i := x; i < x+w; i++ {
					tol := byte(255)
					if j >= 2*sc.h/3+2 {
						tol = 24
						if sc.pf.RedMax < 31 { // coarse steps ring
							tol = 48
						}
					}
					e.set(i, j, expectRGB(sc.pf, cmap, sc.at(i, j)), tol)
				}
			}
		}},
	}
	for _, f := range testFormats {
		for _, enc := range encoders {
			if enc.tc && !f.pf.TrueColour {
				continue
			}
			t.Run(f.name+"/"+enc.name, func(t *testing.T) {
				rng := rand.New(rand.NewPCG(1, 2))
				s := newStream(f.pf)
				s.serverInit(w, h, "test")
				var cmap []uint8
				if !f.pf.TrueColour {
					cmap = colourMap(s, rng)
				}
				e := newExpected(w, h)
				for pass := range 2 { // twice: the zlib streams carry over
					sc := newScreen(f.pf, w, h, uint64(pass+7))
					rects := [][4]int{{0, 0, 70, 40}, {70, 0, 80, 40}, {0, 40, 150, 50}}
					s.fbuHeader(len(rects))
					for _, r := range rects {
						enc.enc(s, sc, e, cmap, r[0], r[1], r[2], r[3])
					}
				}
				d := decodeAll(t, s.Bytes())
				e.check(t, d.Framebuffer())
			})
		}
	}
}

func TestTightPalettes(t *testing.T) {
	for _, f := range testFormats {
		t.Run(f.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			const w, h = 40, 30
			sc := &screen{pf: f.pf, w: w, h: h, v: make([]uint32, w*h)}
			two := []uint32{randomPixel(f.pf, rng), randomPixel(f.pf, rng)}
			many := make([]uint32, 9)
			for i := range many {
				many[i] = randomPixel(f.pf, rng)
			}
			for y := 0; y < h; y++ {
				for x := 0; x < w; x++ {
					if y < h/2 {
						sc.v[y*w+x] = two[(x*3+y)%7%2]
					} else {
						sc.v[y*w+x] = many[(x+2*y)%len(many)]
					}
				}
			}
			s := newStream(f.pf)
			s.serverInit(w, h, "palettes")
			var cmap []uint8
			if !f.pf.TrueColour {
				cmap = colourMap(s, rng)
			}
			s.fbuHeader(3)
			s.tight(sc, 0, 0, w, h/2, "palette", 2)
			s.tight(sc, 0, h/2, w, h/2, "palette", 3)
			s.tight(sc, 1, 1, 2, 2, "palette", 3) // short: sent uncompressed
			e := newExpected(w, h)
			e.from(sc, cmap, 0, 0, w, h)
			e.check(t, decodeAll(t, s.Bytes()).Framebuffer())
		})
	}
}

func TestCopyRectAndDesktopSize(t *testing.T) {
	pf := pfRGB888
	sc := newScreen(pf, 64, 48, 5)
	s := newStream(pf)
	s.serverInit(64, 48, "copy")
	s.fbuHeader(2)
	s.raw(sc, 0, 0, 64, 48)
	s.copyRect(10, 12, 30, 20, 5, 8) // overlapping, downwards and right
	e := newExpected(64, 48)
	e.from(sc, nil, 0, 0, 64, 48)
	moved := append([]byte(nil), e.pix...)
	for j := 0; j < 20; j++ {
		copy(moved[3*((12+j)*64+10):3*((12+j)*64+40)], e.pix[3*((8+j)*64+5):])
	}
	e.pix = moved
	d := decodeAll(t, s.Bytes())
	e.check(t, d.Framebuffer())

	// A DesktopSize keeps what still fits; ExtendedDesktopSize with an
	// error status changes nothing.
	s.fbuHeader(2)
	s.rectHeader(0, 0, 32, 60, EncDesktopSize)
	s.rectHeader(1, 3, 800, 600, EncExtendedDesktopSize)
	s.Write([]byte{1, 0, 0, 0})
	s.Write(make([]byte, 16))
	d = decodeAll(t, s.Bytes())
	fb := d.Framebuffer()
	if fb.Width != 32 || fb.Height != 60 {
		t.Fatalf("after resize: %dx%d, want 32x60", fb.Width, fb.Height)
	}
	if !bytes.Equal(fb.Pix[:3*32], e.pix[:3*32]) {
		t.Error("the top row did not survive the resize")
	}
	if !bytes.Equal(fb.Pix[3*32*59:], make([]byte, 3*32)) {
		t.Error("the new bottom row is not black")
	}
}

func TestPseudoEncodings(t *testing.T) {
	pf := pfRGB888
	s := newStream(pf)
	s.serverInit(100, 100, "old name")
	s.fbuHeader(5)
	// A 3x2 rich cursor, hot spot (1,1), mask 101/010.
	s.rectHeader(1, 1, 3, 2, EncCursor)
	for i := range 6 {
		s.pixel(uint32(i) << 16)
	}
	s.Write([]byte{0xa0, 0x40})
	s.rectHeader(40, 50, 0, 0, EncPointerPos)
	s.rectHeader(0, 0, 0, 0, EncDesktopName)
	s.u32(8)
	s.WriteString("new name")
	s.rectHeader(0, 0, 0, 0, EncLastRect)
	s.rectHeader(0, 0, 1, 1, 12345) // after LastRect: never read
	d := NewDecoder(NewReaderSource(bytes.NewReader(s.Bytes())))
	if err := d.ReadServerInit(); err != nil {
		t.Fatal(err)
	}
	typ, err := d.ReadMessageType()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.DecodeMessage(typ); err != nil {
		t.Fatal(err)
	}
	c := d.Cursor()
	if c.Width != 3 || c.Height != 2 || c.HotX != 1 || c.HotY != 1 {
		t.Errorf("cursor %+v", c)
	}
	wantAlpha := []byte{255, 0, 255, 0, 255, 0}
	for i, a := range wantAlpha {
		if c.RGBA[4*i+3] != a || c.RGBA[4*i] != byte(i*255/255) {
			t.Errorf("cursor pixel %d = %v, want red %d alpha %d", i, c.RGBA[4*i:4*i+4], i, a)
		}
	}
	if x, y, ok := d.Pointer(); !ok || x != 40 || y != 50 {
		t.Errorf("pointer = %d,%d,%v", x, y, ok)
	}
	if d.Name() != "new name" {
		t.Errorf("name %q", d.Name())
	}
}

func TestPixelFormatString(t *testing.T) {
	for _, f := range testFormats {
		got, err := ParsePixelFormatString(f.pf.String())
		if err != nil || got != f.pf {
			t.Errorf("%s: round trip %q: %+v, %v", f.name, f.pf.String(), got, err)
		}
	}
	for _, bad := range []string{
		"",
		"bpp=32",
		"bpp=32 depth=24 be=0 tc=1 rmax=255 gmax=255 bmax=255 rshift=16 gshift=8 bshift=0 bpp=32",
		"bpp=24 depth=24 be=0 tc=1 rmax=255 gmax=255 bmax=255 rshift=16 gshift=8 bshift=0",
		"bpp=32 depth=24 be=0 tc=1 rmax=254 gmax=255 bmax=255 rshift=16 gshift=8 bshift=0",
		"bpp=32 depth=24 be=0 tc=1 rmax=255 gmax=255 bmax=255 rshift=30 gshift=8 bshift=0",
		"bpp=32 depth=24 be=0 tc=1 rmax=255 gmax=255 bmax=255 rshift=16 gshift=8 bshift=x",
		"bpp=32 depth=24 be=0 tc=1 rmax=255 gmax=255 bmax=255 rshift=16 gshift=8 zshift=0",
		"bpp=16 depth=24 be=0 tc=1 rmax=255 gmax=255 bmax=255 rshift=16 gshift=8 bshift=0",
	} {
		if _, err := ParsePixelFormatString(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("%q: %v, want ErrMalformed", bad, err)
		}
	}
}

// TestMalformed feeds streams that break one rule each: every one must
// fail with ErrMalformed, naming what is wrong, without panicking or
// allocating what the stream claims.
func TestMalformed(t *testing.T) {
	pf := pfRGB888
	cases := []struct {
		name string
		body func(s *stream)
		want string
	}{
		{"unknown message", func(s *stream) { s.u8(77) }, "type 77"},
		{"rect outside", func(s *stream) { s.fbuHeader(1); s.rectHeader(60, 0, 10, 1, EncRaw) }, "outside the 64x48"},
		{"absurd rect", func(s *stream) { s.fbuHeader(1); s.rectHeader(0, 0, 65535, 65535, EncZRLE) }, "outside"},
		{"copyrect source", func(s *stream) {
			s.fbuHeader(1)
			s.copyRect(0, 0, 10, 10, 60, 0)
		}, "source (60,0)"},
		{"rre count", func(s *stream) {
			s.fbuHeader(1)
			s.rectHeader(0, 0, 2, 2, EncRRE)
			s.u32(5)
		}, "5 subrectangles"},
		{"rre subrect", func(s *stream) {
			s.fbuHeader(1)
			s.rectHeader(0, 0, 2, 2, EncRRE)
			s.u32(1)
			s.pixel(0)
			s.pixel(0)
			s.Write([]byte{0, 1, 0, 1, 0, 2, 0, 1})
		}, "outside the rectangle"},
		{"hextile subencoding", func(s *stream) {
			s.fbuHeader(1)
			s.rectHeader(0, 0, 16, 16, EncHextile)
			s.u8(0x40)
		}, "subencoding 0x40"},
		{"hextile subrect", func(s *stream) {
			s.fbuHeader(1)
			s.rectHeader(0, 0, 8, 8, EncHextile)
			s.u8(hextileBackground | hextileForeground | hextileAnySubrects)
			s.pixel(0)
			s.pixel(1)
			s.u8(1)
			s.Write([]byte{0x70, 0x11}) // 2x2 at (7,0) in an 8x8 tile
		}, "outside the 8x8 tile"},
		{"zrle length", func(s *stream) {
			s.fbuHeader(1)
			s.rectHeader(0, 0, 4, 4, EncZRLE)
			s.u32(1 << 30)
		}, "bytes of compressed data"},
		{"zrle garbage", func(s *stream) {
			s.fbuHeader(1)
			s.rectHeader(0, 0, 4, 4, EncZRLE)
			s.u32(6)
			s.Write([]byte{0x78, 0x9c, 0xff, 0xff, 0xff, 0xff})
		}, "inflating"},
		{"zrle short", func(s *stream) {
			s.fbuHeader(1)
			s.rectHeader(0, 0, 64, 48, EncZRLE)
			z := newStream(pf)
			z.tightData(0, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}) // a raw tile needs 64*48*3
			data := z.Bytes()[1:]                                            // drop the compact length
			s.u32(len(data))
			s.Write(data)
		}, "compressed data ends before"},
		{"zrle bomb", func(s *stream) {
			// A plain RLE tile whose run length never ends: megabytes of
			// 255 that deflate squeezes into a few hundred bytes.
			s.fbuHeader(1)
			s.rectHeader(0, 0, 64, 48, EncZRLE)
			z := newStream(pf)
			z.tightData(0, append([]byte{128, 1, 2, 3}, bytes.Repeat([]byte{255}, 8<<20)...))
			data := z.Bytes()
			for data[0]&0x80 != 0 {
				data = data[1:]
			}
			s.u32(len(data) - 1)
			s.Write(data[1:])
		}, "run of"},
		{"zrle unused subencoding", func(s *stream) {
			s.fbuHeader(1)
			s.rectHeader(0, 0, 4, 4, EncTRLE)
			s.u8(17)
		}, "subencoding 17"},
		{"zrle reuse", func(s *stream) {
			s.fbuHeader(1)
			s.rectHeader(0, 0, 4, 4, EncZRLE)
			z := newStream(pf)
			z.tightData(0, append([]byte{127}, make([]byte, 20)...))
			data := z.Bytes()[1:]
			s.u32(len(data))
			s.Write(data)
		}, "subencoding 127"},
		{"trle reuse without palette", func(s *stream) {
			s.fbuHeader(1)
			s.rectHeader(0, 0, 4, 4, EncTRLE)
			s.u8(127)
		}, "previous tile had 0 colours"},
		{"trle palette index", func(s *stream) {
			s.fbuHeader(1)
			s.rectHeader(0, 0, 4, 1, EncTRLE)
			s.u8(3) // 3 colours, 2-bit indexes: index 3 is beyond
			s.Write(make([]byte, 9))
			s.u8(0xc0)
		}, "palette index 3 of 3"},
		{"trle run", func(s *stream) {
			s.fbuHeader(1)
			s.rectHeader(0, 0, 4, 4, EncTRLE)
			s.u8(128)
			s.Write([]byte{1, 2, 3, 200})
		}, "run of 201"},
		{"unknown encoding", func(s *stream) { s.fbuHeader(1); s.rectHeader(0, 0, 1, 1, 6) }, "encoding 6"},
		{"desktop size", func(s *stream) { s.fbuHeader(1); s.rectHeader(0, 0, 65535, 65535, EncDesktopSize) }, "framebuffer size"},
		{"cursor size", func(s *stream) { s.fbuHeader(1); s.rectHeader(0, 0, 4000, 4000, EncCursor) }, "cursor of 4000x4000"},
		{"cursor hot spot", func(s *stream) { s.fbuHeader(1); s.rectHeader(9, 0, 4, 4, EncXCursor) }, "hot spot"},
		{"cut text", func(s *stream) {
			s.u8(MsgServerCutText)
			s.Write([]byte{0, 0, 0})
			s.u32(1 << 31)
		}, "ServerCutText"},
		{"colour map", func(s *stream) {
			s.u8(MsgSetColourMapEntries)
			s.u8(0)
			s.u16(65000)
			s.u16(1000)
		}, "beyond 65535"},
		{"tight control", func(s *stream) { s.fbuHeader(1); s.rectHeader(0, 0, 4, 4, EncTight); s.u8(0xa0) }, "compression control"},
		{"tight filter", func(s *stream) {
			s.fbuHeader(1)
			s.rectHeader(0, 0, 4, 4, EncTight)
			s.u8(0x40)
			s.u8(9)
		}, "filter 9"},
		{"tight jpeg size", func(s *stream) {
			sc := newScreen(pf, 64, 48, 1)
			s.fbuHeader(1)
			s.tight(sc, 0, 0, 8, 8, "jpeg", 0)
			b := s.Bytes()
			// Claim the JPEG is for a 9x8 rectangle.
			i := bytes.LastIndex(b, []byte{0, 0, 0, 0, 0, 8, 0, 8})
			b[i+5] = 9
		}, "jpeg of 8x8"},
		{"tight leftover", func(s *stream) {
			sc := newScreen(pf, 64, 48, 1)
			s.fbuHeader(2)
			s.tight(sc, 0, 0, 4, 4, "copy", 0) // starts zlib stream 0
			s.rectHeader(0, 0, 4, 4, EncTight)
			s.u8(0x00) // copy, stream 0: 48 bytes inflated
			s.tightBuf[0].Reset()
			s.tightZ[0].Write(make([]byte, 48))
			s.tightZ[0].Flush()
			data := append(s.tightBuf[0].Bytes(), make([]byte, 100<<10)...)
			s.compact(len(data))
			s.Write(data)
		}, "compressed bytes left unused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStream(pf)
			s.serverInit(64, 48, "x")
			c.body(s)
			err := decodeErr(s.Bytes())
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrMalformed naming %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "recorder-vnc: ") {
				t.Errorf("error %q does not name the component", err)
			}
		})
	}
}

// decodeErr decodes until the first error; io.EOF at a message boundary
// is success (nil).
func decodeErr(data []byte) error {
	d := NewDecoder(NewReaderSource(bytes.NewReader(data)))
	if err := d.ReadServerInit(); err != nil {
		return err
	}
	for {
		typ, err := d.ReadMessageType()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := d.DecodeMessage(typ); err != nil {
			return err
		}
	}
}

func TestTruncated(t *testing.T) {
	s := newStream(pfRGB888)
	s.serverInit(64, 48, "x")
	sc := newScreen(pfRGB888, 64, 48, 1)
	s.fbuHeader(2)
	s.zrle(sc, 0, 0, 64, 48)
	s.hextile(sc, 0, 0, 64, 48)
	full := s.Bytes()
	for _, cut := range []int{len(full) - 1, len(full) - 100, 40, 30} {
		err := decodeErr(full[:cut])
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d of %d: %v, want io.ErrUnexpectedEOF", cut, len(full), err)
		}
	}
}

func TestServerInitErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		w, h int
		pf   PixelFormat
		want string
	}{
		{"zero width", 0, 10, pfRGB888, "framebuffer size 0x10"},
		{"too large", 16384, 16384, pfRGB888, "framebuffer size"},
		{"24 bpp", 10, 10, PixelFormat{24, 24, false, true, 255, 255, 255, 16, 8, 0}, "24 bits per pixel"},
		{"depth", 10, 10, PixelFormat{16, 24, false, true, 31, 63, 31, 11, 5, 0}, "depth 24"},
	} {
		s := newStream(c.pf)
		s.serverInit(c.w, c.h, "x")
		err := decodeErr(s.Bytes())
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrMalformed naming %q", c.name, err, c.want)
		}
	}
}

func ExamplePixelFormat_String() {
	fmt.Println(pfRGB565.String())
	// Output: bpp=16 depth=16 be=0 tc=1 rmax=31 gmax=63 bmax=31 rshift=11 gshift=5 bshift=0
}

// TestWorkLimit: a stream that asks for more pixel writes than the
// framebuffer's Limit is stopped before doing them.
func TestWorkLimit(t *testing.T) {
	for _, c := range []struct {
		name string
		body func(s *stream)
	}{
		{"resizes", func(s *stream) {
			s.fbuHeader(400)
			for i := range 400 {
				s.rectHeader(0, 0, 1024+i%2, 1024, EncDesktopSize)
			}
		}},
		{"rre subrectangles", func(s *stream) {
			s.fbuHeader(1)
			s.rectHeader(0, 0, 64, 48, EncRRE)
			s.u32(3000)
			s.pixel(0)
			for range 3000 {
				s.pixel(1)
				s.Write([]byte{0, 0, 0, 0, 0, 64, 0, 48})
			}
		}},
		{"fills", func(s *stream) {
			sc := newScreen(pfRGB888, 64, 48, 1)
			s.fbuHeader(1000)
			for range 1000 {
				s.tight(sc, 0, 0, 64, 48, "fill", 0)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newStream(pfRGB888)
			s.serverInit(64, 48, "x")
			c.body(s)
			d := NewDecoder(NewReaderSource(bytes.NewReader(s.Bytes())))
			d.Framebuffer().Limit = 1 << 20
			err := d.ReadServerInit()
			for err == nil {
				var typ byte
				if typ, err = d.ReadMessageType(); err == nil {
					err = d.DecodeMessage(typ)
				}
			}
			if !errors.Is(err, ErrTooMuchWork) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v, want ErrTooMuchWork", err)
			}
			if fb := d.Framebuffer(); fb.Work > fb.Limit {
				t.Errorf("work %d beyond the limit %d", fb.Work, fb.Limit)
			}
		})
	}
}
