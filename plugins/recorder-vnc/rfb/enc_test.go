package rfb

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
)

// This file is a small RFB server-side encoder for the tests: it writes
// the streams the decoder must read back pixel for pixel.

// screen is a test image as pixel values of one pixel format.
type screen struct {
	pf   PixelFormat
	w, h int
	v    []uint32
}

func (s *screen) at(x, y int) uint32 { return s.v[y*s.w+x] }

// newScreen fills a w x h screen with blocks of a few colours, a noisy
// band and a gradient, so every subencoding has something to do.
func newScreen(pf PixelFormat, w, h int, seed uint64) *screen {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s := &screen{pf: pf, w: w, h: h, v: make([]uint32, w*h)}
	colours := make([]uint32, 5)
	for i := range colours {
		colours[i] = randomPixel(pf, rng)
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var p uint32
			switch {
			case y < h/3:
				p = colours[(x/7+y/5)%len(colours)]
			case y < 2*h/3:
				p = randomPixel(pf, rng)
			default:
				if pf.TrueColour {
					r := uint32(x*int(pf.RedMax)/max(w-1, 1)) << pf.RedShift
					g := uint32(y*int(pf.GreenMax)/max(h-1, 1)) << pf.GreenShift
					p = r | g | uint32(pf.BlueMax/2)<<pf.BlueShift
				} else {
					p = uint32((x + y) % 256)
				}
			}
			s.v[y*w+x] = p
		}
	}
	return s
}

func randomPixel(pf PixelFormat, rng *rand.Rand) uint32 {
	if !pf.TrueColour {
		return uint32(rng.IntN(256))
	}
	return uint32(rng.IntN(int(pf.RedMax)+1))<<pf.RedShift |
		uint32(rng.IntN(int(pf.GreenMax)+1))<<pf.GreenShift |
		uint32(rng.IntN(int(pf.BlueMax)+1))<<pf.BlueShift
}

// expectRGB is what a pixel value must become, computed independently of
// the decoder's converter: each channel scaled from 0..max to 0..255.
func expectRGB(pf PixelFormat, cmap []uint8, v uint32) [3]byte {
	if !pf.TrueColour {
		if int(v)*3+3 > len(cmap) {
			return [3]byte{}
		}
		return [3]byte{cmap[3*v], cmap[3*v+1], cmap[3*v+2]}
	}
	sc := func(c uint32, m uint16) byte { return byte((c*255 + uint32(m)/2) / uint32(m)) }
	return [3]byte{
		sc(v>>pf.RedShift&uint32(pf.RedMax), pf.RedMax),
		sc(v>>pf.GreenShift&uint32(pf.GreenMax), pf.GreenMax),
		sc(v>>pf.BlueShift&uint32(pf.BlueMax), pf.BlueMax),
	}
}

// stream builds a server-to-client byte stream.
type stream struct {
	bytes.Buffer
	pf       PixelFormat
	zw       *zlib.Writer
	zrleBuf  bytes.Buffer
	tightZ   [4]*zlib.Writer
	tightBuf [4]bytes.Buffer
}

func newStream(pf PixelFormat) *stream { return &stream{pf: pf} }

func (s *stream) u8(v int)  { s.WriteByte(byte(v)) }
func (s *stream) u16(v int) { s.Write(binary.BigEndian.AppendUint16(nil, uint16(v))) }
func (s *stream) u32(v int) { s.Write(binary.BigEndian.AppendUint32(nil, uint32(v))) }
func (s *stream) s32(v int32) {
	s.Write(binary.BigEndian.AppendUint32(nil, uint32(v)))
}

func pfBytes(pf PixelFormat) []byte {
	b := []byte{pf.BitsPerPixel, pf.Depth, 0, 0}
	if pf.BigEndian {
		b[2] = 1
	}
	if pf.TrueColour {
		b[3] = 1
	}
	b = binary.BigEndian.AppendUint16(b, pf.RedMax)
	b = binary.BigEndian.AppendUint16(b, pf.GreenMax)
	b = binary.BigEndian.AppendUint16(b, pf.BlueMax)
	return append(b, pf.RedShift, pf.GreenShift, pf.BlueShift, 0, 0, 0)
}

func (s *stream) serverInit(w, h int, name string) {
	s.u16(w)
	s.u16(h)
	s.Write(pfBytes(s.pf))
	s.u32(len(name))
	s.WriteString(name)
}

// pixelBytes encodes v in the stream's pixel format.
func pixelBytes(pf PixelFormat, v uint32) []byte {
	b := make([]byte, 4)
	switch pf.BitsPerPixel {
	case 8:
		return []byte{byte(v)}
	case 16:
		if pf.BigEndian {
			return binary.BigEndian.AppendUint16(nil, uint16(v))
		}
		return binary.LittleEndian.AppendUint16(nil, uint16(v))
	}
	if pf.BigEndian {
		binary.BigEndian.PutUint32(b, v)
	} else {
		binary.LittleEndian.PutUint32(b, v)
	}
	return b
}

func cpixelBytes(pf PixelFormat, v uint32) []byte {
	b := pixelBytes(pf, v)
	size, low := pf.cpixelLayout()
	if size != 3 {
		return b
	}
	if low {
		return b[:3]
	}
	return b[1:]
}

func (s *stream) pixel(v uint32) { s.Write(pixelBytes(s.pf, v)) }

func (s *stream) fbuHeader(n int) {
	s.u8(MsgFramebufferUpdate)
	s.u8(0)
	s.u16(n)
}

func (s *stream) rectHeader(x, y, w, h int, enc int32) {
	s.u16(x)
	s.u16(y)
	s.u16(w)
	s.u16(h)
	s.s32(enc)
}

func (s *stream) raw(sc *screen, x, y, w, h int) {
	s.rectHeader(x, y, w, h, EncRaw)
	for j := y; j < y+h; j++ {
		for i := x; i < x+w; i++ {
			s.pixel(sc.at(i, j))
		}
	}
}

// rre sends the rectangle as RRE: the top-left pixel as background and a
// 1x1 subrectangle for every other pixel.
func (s *stream) rre(sc *screen, x, y, w, h int) {
	s.rectHeader(x, y, w, h, EncRRE)
	bg := sc.at(x, y)
	var subs bytes.Buffer
	n := 0
	for j := 0; j < h; j++ {
		for i := 0; i < w; i++ {
			if v := sc.at(x+i, y+j); v != bg {
				subs.Write(pixelBytes(s.pf, v))
				subs.Write(binary.BigEndian.AppendUint16(nil, uint16(i)))
				subs.Write(binary.BigEndian.AppendUint16(nil, uint16(j)))
				subs.Write([]byte{0, 1, 0, 1})
				n++
			}
		}
	}
	s.u32(n)
	s.pixel(bg)
	s.Write(subs.Bytes())
}

// hextile cycles the tiles through raw, coloured subrectangles and
// foreground subrectangles.
func (s *stream) hextile(sc *screen, x, y, w, h int) {
	s.rectHeader(x, y, w, h, EncHextile)
	k := 0
	for ty := y; ty < y+h; ty += 16 {
		th := min(16, y+h-ty)
		for tx := x; tx < x+w; tx += 16 {
			tw := min(16, x+w-tx)
			colours := map[uint32]int{}
			for j := 0; j < th; j++ {
				for i := 0; i < tw; i++ {
					colours[sc.at(tx+i, ty+j)]++
				}
			}
			k++
			switch {
			case k%3 == 0 || len(colours) > 40:
				s.u8(hextileRaw)
				for j := 0; j < th; j++ {
					for i := 0; i < tw; i++ {
						s.pixel(sc.at(tx+i, ty+j))
					}
				}
			case len(colours) == 2 && k%3 == 1:
				bg := sc.at(tx, ty)
				var fg uint32
				for c := range colours {
					if c != bg {
						fg = c
					}
				}
				s.hextileSubrects(sc, tx, ty, tw, th, bg, &fg)
			default:
				s.hextileSubrects(sc, tx, ty, tw, th, sc.at(tx, ty), nil)
			}
		}
	}
}

func (s *stream) hextileSubrects(sc *screen, tx, ty, tw, th int, bg uint32, fg *uint32) {
	var subs bytes.Buffer
	n := 0
	for j := 0; j < th; j++ {
		for i := 0; i < tw; i++ {
			v := sc.at(tx+i, ty+j)
			if v == bg {
				continue
			}
			if fg == nil {
				subs.Write(pixelBytes(s.pf, v))
			}
			subs.Write([]byte{byte(i<<4 | j), 0})
			n++
		}
	}
	sub := hextileBackground
	if n > 0 {
		sub |= hextileAnySubrects
		if fg != nil {
			sub |= hextileForeground
		} else {
			sub |= hextileSubrectsColoured
		}
	}
	s.u8(sub)
	s.pixel(bg)
	if fg != nil && n > 0 {
		s.pixel(*fg)
	}
	if n > 0 {
		s.u8(n)
		s.Write(subs.Bytes())
	}
}

// tiles encodes the ZRLE/TRLE tile data of a rectangle, cycling the
// subencodings each tile could use.
func tileData(pf PixelFormat, sc *screen, x, y, w, h, size int, trle bool) []byte {
	var out bytes.Buffer
	k := 0
	for ty := y; ty < y+h; ty += size {
		th := min(size, y+h-ty)
		for tx := x; tx < x+w; tx += size {
			tw := min(size, x+w-tx)
			var px []uint32
			index := map[uint32]int{}
			var pal []uint32
			for j := 0; j < th; j++ {
				for i := 0; i < tw; i++ {
					v := sc.at(tx+i, ty+j)
					px = append(px, v)
					if _, ok := index[v]; !ok {
						index[v] = len(pal)
						pal = append(pal, v)
					}
				}
			}
			k++
			cp := func(v uint32) { out.Write(cpixelBytes(pf, v)) }
			switch {
			case len(pal) == 1:
				out.WriteByte(1)
				cp(pal[0])
			case len(pal) <= 16 && k%2 == 0:
				out.WriteByte(byte(len(pal)))
				for _, v := range pal {
					cp(v)
				}
				writePacked(&out, px, index, len(pal), tw, th)
			case len(pal) <= 127 && k%3 != 0:
				out.WriteByte(byte(128 + len(pal)))
				for _, v := range pal {
					cp(v)
				}
				for i := 0; i < len(px); {
					n := 1
					for i+n < len(px) && px[i+n] == px[i] {
						n++
					}
					if n == 1 {
						out.WriteByte(byte(index[px[i]]))
					} else {
						out.WriteByte(byte(index[px[i]] | 0x80))
						writeRun(&out, n)
					}
					i += n
				}
			case k%5 == 0:
				out.WriteByte(128)
				for i := 0; i < len(px); {
					n := 1
					for i+n < len(px) && px[i+n] == px[i] {
						n++
					}
					cp(px[i])
					writeRun(&out, n)
					i += n
				}
			default:
				out.WriteByte(0)
				for _, v := range px {
					cp(v)
				}
			}
		}
	}
	return out.Bytes()
}

func writePacked(out *bytes.Buffer, px []uint32, index map[uint32]int, n, tw, th int) {
	bits := 4
	switch {
	case n == 2:
		bits = 1
	case n <= 4:
		bits = 2
	}
	for j := 0; j < th; j++ {
		var cur byte
		used := 0
		for i := 0; i < tw; i++ {
			cur |= byte(index[px[j*tw+i]]) << (8 - bits - used)
			used += bits
			if used == 8 {
				out.WriteByte(cur)
				cur, used = 0, 0
			}
		}
		if used > 0 {
			out.WriteByte(cur)
		}
	}
}

func writeRun(out *bytes.Buffer, n int) {
	n--
	for n >= 255 {
		out.WriteByte(255)
		n -= 255
	}
	out.WriteByte(byte(n))
}

func (s *stream) trle(sc *screen, x, y, w, h int) {
	s.rectHeader(x, y, w, h, EncTRLE)
	s.Write(tileData(s.pf, sc, x, y, w, h, 16, true))
}

// zrle compresses the rectangle's tiles into the connection's one zlib
// stream, with a sync flush at its end as servers do.
func (s *stream) zrle(sc *screen, x, y, w, h int) {
	s.rectHeader(x, y, w, h, EncZRLE)
	if s.zw == nil {
		s.zw = zlib.NewWriter(&s.zrleBuf)
	}
	s.zrleBuf.Reset()
	s.zw.Write(tileData(s.pf, sc, x, y, w, h, 64, false))
	s.zw.Flush()
	s.u32(s.zrleBuf.Len())
	s.Write(s.zrleBuf.Bytes())
}

func (s *stream) copyRect(dx, dy, w, h, sx, sy int) {
	s.rectHeader(dx, dy, w, h, EncCopyRect)
	s.u16(sx)
	s.u16(sy)
}

func tpixel(pf PixelFormat, v uint32) []byte {
	if pf.tpixelIsRGB() {
		return []byte{byte(v >> pf.RedShift), byte(v >> pf.GreenShift), byte(v >> pf.BlueShift)}
	}
	return pixelBytes(pf, v)
}

func (s *stream) compact(n int) {
	s.u8(n&0x7f | boolBit(n > 0x7f))
	if n > 0x7f {
		s.u8(n>>7&0x7f | boolBit(n > 0x3fff))
		if n > 0x3fff {
			s.u8(n >> 14)
		}
	}
}

func boolBit(b bool) int {
	if b {
		return 0x80
	}
	return 0
}

// tightData sends Tight basic data: raw when short, else compressed into
// stream id.
func (s *stream) tightData(id int, data []byte) {
	if len(data) < tightMinToCompress {
		s.Write(data)
		return
	}
	if s.tightZ[id] == nil {
		s.tightZ[id] = zlib.NewWriter(&s.tightBuf[id])
	}
	s.tightBuf[id].Reset()
	s.tightZ[id].Write(data)
	s.tightZ[id].Flush()
	s.compact(s.tightBuf[id].Len())
	s.Write(s.tightBuf[id].Bytes())
}

// tight sends a rectangle in one of Tight's forms: "fill", "copy",
// "palette", "gradient" or "jpeg" (jpeg only for true colour).
func (s *stream) tight(sc *screen, x, y, w, h int, form string, stream int) {
	s.rectHeader(x, y, w, h, EncTight)
	pf := s.pf
	switch form {
	case "fill":
		s.u8(tightFill << 4)
		s.Write(tpixel(pf, sc.at(x, y)))
	case "copy":
		s.u8(stream << 4)
		var data []byte
		for j := y; j < y+h; j++ {
			for i := x; i < x+w; i++ {
				data = append(data, tpixel(pf, sc.at(i, j))...)
			}
		}
		s.tightData(stream, data)
	case "palette":
		index := map[uint32]int{}
		var pal []uint32
		for j := y; j < y+h; j++ {
			for i := x; i < x+w; i++ {
				if _, ok := index[sc.at(i, j)]; !ok {
					index[sc.at(i, j)] = len(pal)
					pal = append(pal, sc.at(i, j))
				}
			}
		}
		s.u8((stream | tightExplicit) << 4)
		s.u8(tightFilterPalette)
		s.u8(len(pal) - 1)
		for _, v := range pal {
			s.Write(tpixel(pf, v))
		}
		var data []byte
		for j := y; j < y+h; j++ {
			if len(pal) <= 2 {
				row := make([]byte, (w+7)/8)
				for i := 0; i < w; i++ {
					row[i/8] |= byte(index[sc.at(x+i, j)]) << (7 - i%8)
				}
				data = append(data, row...)
				continue
			}
			for i := x; i < x+w; i++ {
				data = append(data, byte(index[sc.at(i, j)]))
			}
		}
		s.tightData(stream, data)
	case "gradient":
		s.u8((stream | tightExplicit) << 4)
		s.u8(tightFilterGradient)
		s.tightData(stream, gradientData(pf, sc, x, y, w, h))
	case "jpeg":
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for j := 0; j < h; j++ {
			for i := 0; i < w; i++ {
				c := expectRGB(pf, nil, sc.at(x+i, y+j))
				img.Set(i, j, color.RGBA{c[0], c[1], c[2], 255})
			}
		}
		var b bytes.Buffer
		jpeg.Encode(&b, img, &jpeg.Options{Quality: 100})
		s.u8(tightJPEG << 4)
		s.compact(b.Len())
		s.Write(b.Bytes())
	}
}

// gradientData applies Tight's gradient filter (the encoder side).
func gradientData(pf PixelFormat, sc *screen, x, y, w, h int) []byte {
	rgb := pf.tpixelIsRGB()
	maxes := [3]int{int(pf.RedMax), int(pf.GreenMax), int(pf.BlueMax)}
	shifts := [3]uint8{pf.RedShift, pf.GreenShift, pf.BlueShift}
	ch := func(i, j, c int) int {
		if i < 0 || j < 0 {
			return 0
		}
		return int(sc.at(x+i, y+j)>>shifts[c]) & maxes[c]
	}
	var data []byte
	for j := 0; j < h; j++ {
		for i := 0; i < w; i++ {
			var d [3]int
			var v uint32
			for c := 0; c < 3; c++ {
				est := min(max(ch(i-1, j, c)+ch(i, j-1, c)-ch(i-1, j-1, c), 0), maxes[c])
				d[c] = (ch(i, j, c) - est) & maxes[c]
				v |= uint32(d[c]) << shifts[c]
			}
			if rgb {
				data = append(data, byte(d[0]), byte(d[1]), byte(d[2]))
			} else {
				data = append(data, pixelBytes(pf, v)...)
			}
		}
	}
	return data
}
