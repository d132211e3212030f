package rfbwire

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

var (
	pfRGB888 = PixelFormat{32, 24, false, true, 255, 255, 255, 16, 8, 0}
	pfRGB565 = PixelFormat{16, 16, true, true, 31, 63, 31, 11, 5, 0}
	pf30bit  = PixelFormat{32, 30, false, true, 1023, 1023, 1023, 20, 10, 0}
	pfMap8   = PixelFormat{8, 8, false, false, 0, 0, 0, 0, 0, 0}
)

// gen writes valid server messages with random content, for one pixel
// format and framebuffer size.
type gen struct {
	bytes.Buffer
	rng  *rand.Rand
	pf   PixelFormat
	w, h int
}

func (g *gen) u8(v int)  { g.WriteByte(byte(v)) }
func (g *gen) u16(v int) { g.Write(binary.BigEndian.AppendUint16(nil, uint16(v))) }
func (g *gen) u32(v int) { g.Write(binary.BigEndian.AppendUint32(nil, uint32(v))) }
func (g *gen) junk(n int) {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(g.rng.IntN(256))
	}
	g.Write(b)
}

func (g *gen) header(x, y, w, h int, enc int32) {
	g.u16(x)
	g.u16(y)
	g.u16(w)
	g.u16(h)
	g.u32(int(enc))
}

func (g *gen) compact(n int) {
	switch {
	case n < 0x80:
		g.u8(n)
	case n < 0x4000:
		g.u8(n&0x7f | 0x80)
		g.u8(n >> 7)
	default:
		g.u8(n&0x7f | 0x80)
		g.u8(n>>7&0x7f | 0x80)
		g.u8(n >> 14)
	}
}

// rect writes one random rectangle of encoding enc inside the framebuffer.
func (g *gen) rect(enc int32) {
	bpp := g.pf.BytesPerPixel()
	w, h := 1+g.rng.IntN(min(g.w, 80)), 1+g.rng.IntN(min(g.h, 80))
	x, y := g.rng.IntN(g.w-w+1), g.rng.IntN(g.h-h+1)
	g.header(x, y, w, h, enc)
	switch enc {
	case EncRaw:
		g.junk(w * h * bpp)
	case EncCopyRect:
		g.u16(g.rng.IntN(g.w - w + 1))
		g.u16(g.rng.IntN(g.h - h + 1))
	case EncRRE:
		n := g.rng.IntN(5)
		g.u32(n)
		g.junk(bpp + n*(bpp+8))
	case EncHextile:
		for ty := 0; ty < h; ty += 16 {
			for tx := 0; tx < w; tx += 16 {
				tw, th := min(16, w-tx), min(16, h-ty)
				sub := g.rng.IntN(32)
				g.u8(sub)
				if sub&hextileRaw != 0 {
					g.junk(tw * th * bpp)
					continue
				}
				if sub&hextileBackground != 0 {
					g.junk(bpp)
				}
				if sub&hextileForeground != 0 {
					g.junk(bpp)
				}
				if sub&hextileAnySubrects != 0 {
					n := g.rng.IntN(4)
					g.u8(n)
					for range n {
						if sub&hextileSubrectsColoured != 0 {
							g.junk(bpp)
						}
						sx, sy := g.rng.IntN(tw), g.rng.IntN(th)
						g.u8(sx<<4 | sy)
						g.u8(g.rng.IntN(tw-sx)<<4 | g.rng.IntN(th-sy))
					}
				}
			}
		}
	case EncTRLE:
		cpix := g.pf.cpixelSize()
		pal := 0
		for ty := 0; ty < h; ty += 16 {
			for tx := 0; tx < w; tx += 16 {
				tw, th := min(16, w-tx), min(16, h-ty)
				bitsFor := func(n int) int {
					switch {
					case n == 2:
						return 1
					case n <= 4:
						return 2
					}
					return 4
				}
				runs := func(left int, withPixel func()) {
					for left > 0 {
						withPixel()
						n := 1 + g.rng.IntN(min(left, 600))
						left -= n
						n--
						for n >= 255 {
							g.u8(255)
							n -= 255
						}
						g.u8(n)
					}
				}
				switch k := g.rng.IntN(6); {
				case k == 0:
					g.u8(0)
					g.junk(tw * th * cpix)
				case k == 1:
					g.u8(1)
					g.junk(cpix)
				case k == 2 || (k == 3 && (pal < 2 || pal > 16)):
					pal = 2 + g.rng.IntN(15)
					g.u8(pal)
					g.junk(pal * cpix)
					g.junk((tw*bitsFor(pal) + 7) / 8 * th)
				case k == 3:
					g.u8(127)
					g.junk((tw*bitsFor(pal) + 7) / 8 * th)
				case k == 4:
					g.u8(128)
					runs(tw*th, func() { g.junk(cpix) })
				default:
					pal = 2 + g.rng.IntN(126)
					g.u8(128 + pal)
					g.junk(pal * cpix)
					runs(tw*th, func() { g.u8(0x80 | g.rng.IntN(pal)) })
				}
			}
		}
	case EncZRLE:
		n := g.rng.IntN(300)
		g.u32(n)
		g.junk(n)
	case EncTight:
		tpix := g.pf.tpixelSize()
		switch g.rng.IntN(4) {
		case 0:
			g.u8(0x80)
			g.junk(tpix)
		case 1:
			if !g.pf.TrueColour {
				g.u8(0x80)
				g.junk(tpix)
				break
			}
			n := g.rng.IntN(20000)
			g.u8(0x90)
			g.compact(n)
			g.junk(n)
		case 2:
			g.u8(0x60) // palette filter, stream 2
			g.u8(1)
			n := g.rng.IntN(256)
			g.u8(n)
			g.junk((n + 1) * tpix)
			size := w * h
			if n+1 <= 2 {
				size = (w + 7) / 8 * h
			}
			if size < 12 {
				g.junk(size)
			} else {
				k := g.rng.IntN(5000)
				g.compact(k)
				g.junk(k)
			}
		default:
			g.u8(0x10) // copy, stream 1
			if w*h*tpix < 12 {
				g.junk(w * h * tpix)
			} else {
				k := g.rng.IntN(70000)
				g.compact(k)
				g.junk(k)
			}
		}
	}
}

// messages writes n random messages, returning their offsets.
func (g *gen) messages(n int) []int {
	encs := []int32{EncRaw, EncCopyRect, EncRRE, EncHextile, EncTRLE, EncZRLE, EncTight}
	var ends []int
	for range n {
		switch g.rng.IntN(10) {
		case 0:
			g.u8(MsgBell)
		case 1:
			g.u8(MsgServerCutText)
			g.junk(3)
			k := g.rng.IntN(200)
			g.u32(k)
			g.junk(k)
		case 2:
			g.u8(MsgSetColourMapEntries)
			g.u8(0)
			first, k := g.rng.IntN(256), g.rng.IntN(256)
			g.u16(first)
			g.u16(k)
			g.junk(6 * k)
		default:
			g.u8(MsgFramebufferUpdate)
			g.u8(0)
			k := 1 + g.rng.IntN(4)
			g.u16(k)
			for range k {
				g.rect(encs[g.rng.IntN(len(encs))])
			}
		}
		ends = append(ends, g.Len())
	}
	return ends
}

// frameAll frames data, returning the offsets at which messages ended,
// the bytes emitted and the error that stopped it.
func frameAll(data []byte, si ServerInit) ([]int, []byte, error) {
	var emitted []byte
	f := NewServerFramer(bufio.NewReaderSize(bytes.NewReader(data), 4096), si, func(b []byte) error {
		emitted = append(emitted, b...)
		return nil
	})
	var ends []int
	for {
		_, err := f.Next()
		if err != nil {
			return ends, emitted, err
		}
		ends = append(ends, len(emitted))
	}
}

func TestServerFraming(t *testing.T) {
	for _, pf := range []PixelFormat{pfRGB888, pfRGB565, pf30bit, pfMap8} {
		for seed := range 40 {
			g := &gen{rng: rand.New(rand.NewPCG(uint64(seed), 1)), pf: pf, w: 300, h: 200}
			want := g.messages(30)
			ends, emitted, err := frameAll(g.Bytes(), ServerInit{Width: g.w, Height: g.h, PixelFormat: pf})
			if !errors.Is(err, io.EOF) {
				t.Fatalf("%v seed %d: %v", pf, seed, err)
			}
			if !bytes.Equal(emitted, g.Bytes()) {
				t.Fatalf("%v seed %d: emitted %d bytes of %d, or different ones", pf, seed, len(emitted), g.Len())
			}
			if len(ends) != len(want) {
				t.Fatalf("%v seed %d: %d messages, want %d", pf, seed, len(ends), len(want))
			}
			for i := range want {
				if ends[i] != want[i] {
					t.Fatalf("%v seed %d: message %d ends at %d, want %d", pf, seed, i, ends[i], want[i])
				}
			}
		}
	}
}

func TestServerFramingResize(t *testing.T) {
	g := &gen{rng: rand.New(rand.NewPCG(1, 1)), pf: pfRGB888, w: 100, h: 100}
	g.u8(MsgFramebufferUpdate)
	g.u8(0)
	g.u16(3)
	g.header(0, 0, 200, 150, EncDesktopSize)
	g.header(150, 100, 50, 50, EncRaw) // only fits the new size
	g.junk(50 * 50 * 4)
	g.header(1, 2, 4000, 4000, EncExtendedDesktopSize) // status 2: refused, size unchanged
	g.u8(1)
	g.junk(3 + 16)
	f := NewServerFramer(bufio.NewReader(bytes.NewReader(g.Bytes())), ServerInit{Width: 100, Height: 100, PixelFormat: pfRGB888},
		func([]byte) error { return nil })
	m, err := f.Next()
	if err != nil {
		t.Fatal(err)
	}
	if !m.Resized || m.Width != 200 || m.Height != 150 || m.Rects != 3 {
		t.Fatalf("message %+v, want resized to 200x150 with 3 rectangles", m)
	}
}

func TestServerFramingErrors(t *testing.T) {
	fbu := func(g *gen, n int) {
		g.u8(MsgFramebufferUpdate)
		g.u8(0)
		g.u16(n)
	}
	cases := []struct {
		name string
		body func(g *gen)
		want string
	}{
		{"unknown type", func(g *gen) { g.u8(9) }, "server message type 9"},
		{"outside", func(g *gen) { fbu(g, 1); g.header(90, 0, 20, 1, EncRaw) }, "outside the 100x80 framebuffer"},
		{"absurd", func(g *gen) { fbu(g, 1); g.header(0, 0, 65535, 65535, EncRaw) }, "outside"},
		{"copyrect source", func(g *gen) { fbu(g, 1); g.header(0, 0, 10, 10, EncCopyRect); g.u16(95); g.u16(0) }, "source at 95,0"},
		{"rre count", func(g *gen) { fbu(g, 1); g.header(0, 0, 2, 2, EncRRE); g.u32(1 << 30) }, "1073741824 subrectangles"},
		{"zrle length", func(g *gen) { fbu(g, 1); g.header(0, 0, 10, 10, EncZRLE); g.u32(0xffffffff) }, "bytes of compressed data"},
		{"hextile subencoding", func(g *gen) { fbu(g, 1); g.header(0, 0, 10, 10, EncHextile); g.u8(0xff) }, "subencoding 0xff"},
		{"hextile subrect", func(g *gen) {
			fbu(g, 1)
			g.header(0, 0, 10, 10, EncHextile)
			g.u8(hextileAnySubrects)
			g.u8(1)
			g.u8(0x90)
			g.u8(0x10) // 2x1 at 9,0
		}, "outside the 10x10 tile"},
		{"trle run", func(g *gen) {
			fbu(g, 1)
			g.header(0, 0, 4, 4, EncTRLE)
			g.u8(128)
			g.junk(4)
			g.u8(255)
			g.u8(255)
		}, "run of"},
		{"trle reuse", func(g *gen) { fbu(g, 1); g.header(0, 0, 4, 4, EncTRLE); g.u8(129) }, "subencoding 129"},
		{"trle index", func(g *gen) { fbu(g, 1); g.header(0, 0, 4, 4, EncTRLE); g.u8(130); g.junk(6); g.u8(5) }, "palette index 5 of 2"},
		{"trle unused", func(g *gen) { fbu(g, 1); g.header(0, 0, 4, 4, EncTRLE); g.u8(50) }, "subencoding 50"},
		{"tight control", func(g *gen) { fbu(g, 1); g.header(0, 0, 4, 4, EncTight); g.u8(0xb0) }, "compression control"},
		{"tight filter", func(g *gen) { fbu(g, 1); g.header(0, 0, 4, 4, EncTight); g.u8(0x40); g.u8(7) }, "filter 7"},
		{"not asked for", func(g *gen) { fbu(g, 1); g.header(0, 0, 4, 4, 6) }, "encoding 6"},
		{"desktop size", func(g *gen) { fbu(g, 1); g.header(0, 0, 0, 10, EncDesktopSize) }, "framebuffer size 0x10"},
		{"cursor", func(g *gen) { fbu(g, 1); g.header(0, 0, 2000, 2, EncCursor) }, "cursor of 2000x2"},
		{"hot spot", func(g *gen) { fbu(g, 1); g.header(5, 0, 2, 2, EncXCursor) }, "hot spot 5,0"},
		{"name", func(g *gen) { fbu(g, 1); g.header(0, 0, 0, 0, EncDesktopName); g.u32(1 << 20) }, "desktop name of"},
		{"cut text", func(g *gen) { g.u8(MsgServerCutText); g.junk(3); g.u32(-1) }, "server cut text of 4294967295"},
		{"colour map", func(g *gen) { g.u8(MsgSetColourMapEntries); g.u8(0); g.u16(65535); g.u16(2) }, "beyond 65535"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := &gen{rng: rand.New(rand.NewPCG(1, 1)), pf: pfRGB888, w: 100, h: 80}
			c.body(g)
			g.junk(64) // whatever follows is never read as a message
			_, emitted, err := frameAll(g.Bytes(), ServerInit{Width: 100, Height: 80, PixelFormat: pfRGB888})
			if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrProtocol naming %q", err, c.want)
			}
			if !bytes.HasPrefix(g.Bytes(), emitted) || len(emitted) > g.Len()-64 {
				t.Errorf("emitted %d bytes past the fault", len(emitted))
			}
		})
	}
}

func TestServerFramingTruncated(t *testing.T) {
	g := &gen{rng: rand.New(rand.NewPCG(5, 5)), pf: pfRGB888, w: 300, h: 200}
	ends := g.messages(10)
	for _, cut := range []int{ends[3] - 1, ends[5] + 1, ends[9] - 3} {
		got, _, err := frameAll(g.Bytes()[:cut], ServerInit{Width: 300, Height: 200, PixelFormat: pfRGB888})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("cut at %d: %v after %d messages, want io.ErrUnexpectedEOF", cut, err, len(got))
		}
	}
}

func TestEmitError(t *testing.T) {
	g := &gen{rng: rand.New(rand.NewPCG(5, 5)), pf: pfRGB888, w: 300, h: 200}
	g.messages(10)
	stop := errors.New("client gone")
	f := NewServerFramer(bufio.NewReader(bytes.NewReader(g.Bytes())), ServerInit{Width: 300, Height: 200, PixelFormat: pfRGB888},
		func([]byte) error { return stop })
	if _, err := f.Next(); !errors.Is(err, stop) {
		t.Fatalf("Next = %v, want the emit error", err)
	}
}

func TestClientMessages(t *testing.T) {
	var in bytes.Buffer
	in.Write(append([]byte{MsgSetPixelFormat, 0, 0, 0}, pfRGB565.AppendTo(nil)...))
	in.Write(SetEncodings([]int32{EncTight, 6, EncZRLE, -314, EncRaw, EncTight, -25, EncDesktopSize, -312}))
	in.Write([]byte{MsgFramebufferUpdateRequest, 1, 0, 0, 0, 0, 1, 0, 1, 0})
	in.Write([]byte{MsgKeyEvent, 1, 0, 0, 0, 0, 0, 'a'})
	in.Write([]byte{MsgPointerEvent, 1, 0, 10, 0, 20})
	in.Write(append([]byte{MsgClientCutText, 0, 0, 0, 0, 0, 0, 5}, "hello"...))
	in.Write(append([]byte{MsgSetDesktopSize, 0, 4, 0, 3, 0, 1, 0}, make([]byte, 16)...))
	c := NewClientReader(bufio.NewReader(&in))
	var types []byte
	var sizes []int
	var m ClientMessage
	var err error
	for {
		m, err = c.Next()
		if err != nil {
			break
		}
		types = append(types, m.Type)
		sizes = append(sizes, len(m.Raw))
		switch m.Type {
		case MsgSetPixelFormat:
			if m.PixelFormat != pfRGB565 {
				t.Errorf("pixel format %v", m.PixelFormat)
			}
		case MsgSetEncodings:
			got := FilterEncodings(m.Encodings)
			want := []int32{EncTight, EncZRLE, EncRaw, -25, EncDesktopSize}
			if len(got) != len(want) {
				t.Fatalf("filtered %v, want %v", got, want)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("filtered %v, want %v", got, want)
				}
			}
		}
	}
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	wantSizes := []int{20, 4 + 9*4, 10, 8, 6, 13, 24}
	if len(sizes) != len(wantSizes) {
		t.Fatalf("message sizes %v (types %v), want %v", sizes, types, wantSizes)
	}
	for i := range wantSizes {
		if sizes[i] != wantSizes[i] {
			t.Fatalf("message sizes %v, want %v", sizes, wantSizes)
		}
	}
}

func TestClientErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		in   []byte
		want string
	}{
		{"unknown", []byte{200}, "client message type 200"},
		{"cut text", []byte{MsgClientCutText, 0, 0, 0, 0xff, 0xff, 0xff, 0xfe}, "client cut text of"},
		{"pixel format", append([]byte{MsgSetPixelFormat, 0, 0, 0}, PixelFormat{BitsPerPixel: 24, Depth: 24}.AppendTo(nil)...), "24 bits per pixel"},
	} {
		_, err := NewClientReader(bufio.NewReader(bytes.NewReader(c.in))).Next()
		if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrProtocol naming %q", c.name, err, c.want)
		}
	}
	_, err := NewClientReader(bufio.NewReader(bytes.NewReader([]byte{MsgKeyEvent, 1}))).Next()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated key event: %v", err)
	}
}

func TestHandshakeMessages(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Version
		ok   bool
	}{
		{"RFB 003.003\n", V33, true}, {"RFB 003.007\n", V37, true}, {"RFB 003.008\n", V38, true},
		{"RFB 003.005\n", V33, true}, {"RFB 003.889\n", V38, true},
		{"RFB 004.000\n", 0, false}, {"HTTP/1.1 200", 0, false},
	} {
		v, err := ReadVersion(strings.NewReader(c.in))
		if (err == nil) != c.ok || v != c.want {
			t.Errorf("%q: %v, %v", c.in, v, err)
		}
	}
	si := ServerInit{Width: 1280, Height: 720, PixelFormat: pfRGB888, Name: "desk"}
	got, err := ReadServerInit(bytes.NewReader(si.Bytes()))
	if err != nil || got != si {
		t.Errorf("ServerInit round trip: %+v, %v", got, err)
	}
	bad := ServerInit{Width: 20000, Height: 720, PixelFormat: pfRGB888}
	if _, err := ReadServerInit(bytes.NewReader(bad.Bytes())); !errors.Is(err, ErrProtocol) {
		t.Errorf("20000 wide ServerInit: %v", err)
	}
	err = ReadSecurityResult(bytes.NewReader(SecurityResult(V38, "no way")), V38)
	var re *RefusedError
	if !errors.As(err, &re) || re.Reason != "no way" {
		t.Errorf("security result: %v", err)
	}
}
