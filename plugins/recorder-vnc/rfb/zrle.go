package rfb

import (
	"encoding/binary"
	"fmt"
)

// tileSource is where tile data comes from: the Source itself (TRLE) or an
// inflated zlib stream (ZRLE).
type tileSource func(n int) ([]byte, error)

// maxZRLEData bounds the compressed length of a ZRLE rectangle of w x h:
// every tile in its largest form (plain RLE of single-pixel runs, or a
// palette RLE with a full palette) and deflate's stored-block overhead,
// twice over.
func maxZRLEData(w, h int) int {
	tiles := ((w + 63) / 64) * ((h + 63) / 64)
	worst := tiles*(1+127*4) + w*h*5
	return 2*worst + 1024
}

func (d *Decoder) zrleRect(r rect) error {
	b, err := d.read(4)
	if err != nil {
		return err
	}
	n := int64(binary.BigEndian.Uint32(b))
	if limit := maxZRLEData(r.w, r.h); n > int64(limit) {
		return fmt.Errorf("%d bytes of compressed data for at most %d: %w", n, limit, ErrMalformed)
	}
	if err := d.zrle.begin(d.src, int(n)); err != nil {
		return err
	}
	if err := d.tiles(r, 64, false, d.zrle.next); err != nil {
		return err
	}
	return d.zrle.end()
}

func (d *Decoder) trle(r rect) error {
	return d.tiles(r, 16, true, d.read)
}

// tiles decodes the tiles of a ZRLE (64x64, trle false) or TRLE (16x16,
// palette reuse allowed) rectangle (RFC 6143, 7.7.5 and 7.7.6).
func (d *Decoder) tiles(r rect, size int, trle bool, next tileSource) error {
	if !d.fb.paint(r.w, r.h) {
		return errWork
	}
	cpix, low := d.pf.cpixelLayout()
	var palette [128]uint32
	var tile [64 * 64]uint32
	for ty := 0; ty < r.h; ty += size {
		th := min(size, r.h-ty)
		for tx := 0; tx < r.w; tx += size {
			tw := min(size, r.w-tx)
			x, y := r.x+tx, r.y+ty
			solid, err := d.tile(next, cpix, low, trle, palette[:], tile[:tw*th], tw, th)
			if err != nil {
				return fmt.Errorf("tile at (%d,%d): %w", x, y, err)
			}
			// Tiles are mostly runs and palettes of a few colours: convert
			// a value only when it differs from the previous pixel's.
			var rgb [3]byte
			last := tile[0]
			d.conv.rgb(rgb[:], last)
			if solid {
				row := d.fb.rowAt(x, y, tw)
				for i := 0; i < len(row); i += 3 {
					row[i], row[i+1], row[i+2] = rgb[0], rgb[1], rgb[2]
				}
				for j := 1; j < th; j++ {
					copy(d.fb.rowAt(x, y+j, tw), row)
				}
				continue
			}
			for j := 0; j < th; j++ {
				row := d.fb.rowAt(x, y+j, tw)
				for i, v := range tile[j*tw : (j+1)*tw] {
					if v != last {
						last = v
						d.conv.rgb(rgb[:], v)
					}
					row[3*i], row[3*i+1], row[3*i+2] = rgb[0], rgb[1], rgb[2]
				}
			}
		}
	}
	return nil
}

// cpixels reads n CPIXELs into dst.
func (d *Decoder) cpixels(next tileSource, cpix int, low bool, dst []uint32) error {
	b, err := next(cpix * len(dst))
	if err != nil {
		return err
	}
	for i := range dst {
		dst[i] = d.cpixel(b[i*cpix:], cpix, low)
	}
	return nil
}

func (d *Decoder) cpixel(b []byte, cpix int, low bool) uint32 {
	if cpix != 3 {
		return d.conv.value(b)
	}
	var p [4]byte
	if low {
		copy(p[0:3], b[:3])
	} else {
		copy(p[1:4], b[:3])
	}
	return d.conv.value(p[:])
}

// tile decodes one tile's pixel values into out (tw*th of them); solid
// says the tile is one colour, out[0], and the rest of out is not set.
func (d *Decoder) tile(next tileSource, cpix int, low, trle bool, palette []uint32, out []uint32, tw, th int) (solid bool, err error) {
	b, err := next(1)
	if err != nil {
		return false, err
	}
	sub := int(b[0])
	switch {
	case sub == 0:
		return false, d.cpixels(next, cpix, low, out)
	case sub == 1:
		return true, d.cpixels(next, cpix, low, out[:1])
	case sub >= 2 && sub <= 16:
		if err := d.cpixels(next, cpix, low, palette[:sub]); err != nil {
			return false, err
		}
		d.trlePalLen = sub
		copy(d.trlePalette[:], palette[:sub])
		return false, packedPalette(next, palette[:sub], out, tw, th)
	case sub == 127 && trle:
		if d.trlePalLen < 2 || d.trlePalLen > 16 {
			return false, fmt.Errorf("subencoding 127 reuses a packed palette, but the previous tile had %d colours: %w", d.trlePalLen, ErrMalformed)
		}
		return false, packedPalette(next, d.trlePalette[:d.trlePalLen], out, tw, th)
	case sub == 128:
		return false, plainRLE(d, next, cpix, low, out)
	case sub == 129 && trle:
		if d.trlePalLen < 2 {
			return false, fmt.Errorf("subencoding 129 reuses the previous tile's palette, but it had none: %w", ErrMalformed)
		}
		return false, paletteRLE(next, d.trlePalette[:d.trlePalLen], out)
	case sub >= 130:
		n := sub - 128
		if err := d.cpixels(next, cpix, low, palette[:n]); err != nil {
			return false, err
		}
		d.trlePalLen = n
		copy(d.trlePalette[:], palette[:n])
		return false, paletteRLE(next, palette[:n], out)
	}
	return false, fmt.Errorf("subencoding %d: unused: %w", sub, ErrMalformed)
}

func packedPalette(next tileSource, pal []uint32, out []uint32, tw, th int) error {
	bits := 4
	switch {
	case len(pal) == 2:
		bits = 1
	case len(pal) <= 4:
		bits = 2
	}
	stride := (tw*bits + 7) / 8
	b, err := next(stride * th)
	if err != nil {
		return err
	}
	mask := byte(1<<bits - 1)
	for y := 0; y < th; y++ {
		row := b[y*stride:]
		for x := 0; x < tw; x++ {
			bit := x * bits
			idx := int(row[bit/8]>>(8-bits-bit%8)) & int(mask)
			if idx >= len(pal) {
				return fmt.Errorf("palette index %d of %d colours: %w", idx, len(pal), ErrMalformed)
			}
			out[y*tw+x] = pal[idx]
		}
	}
	return nil
}

// runLength reads an RLE run length: bytes summed while they are 255, plus
// one. It stops as soon as the run exceeds left.
func runLength(next tileSource, left int) (int, error) {
	n := 1
	for {
		b, err := next(1)
		if err != nil {
			return 0, err
		}
		n += int(b[0])
		if n > left {
			return 0, fmt.Errorf("run of %d pixels or more with %d left in the tile: %w", n, left, ErrMalformed)
		}
		if b[0] != 255 {
			return n, nil
		}
	}
}

func plainRLE(d *Decoder, next tileSource, cpix int, low bool, out []uint32) error {
	for i := 0; i < len(out); {
		var c [1]uint32
		if err := d.cpixels(next, cpix, low, c[:]); err != nil {
			return err
		}
		n, err := runLength(next, len(out)-i)
		if err != nil {
			return err
		}
		for k := 0; k < n; k++ {
			out[i+k] = c[0]
		}
		i += n
	}
	return nil
}

func paletteRLE(next tileSource, pal []uint32, out []uint32) error {
	for i := 0; i < len(out); {
		b, err := next(1)
		if err != nil {
			return err
		}
		idx := int(b[0] & 0x7f)
		if idx >= len(pal) {
			return fmt.Errorf("palette index %d of %d colours: %w", idx, len(pal), ErrMalformed)
		}
		n := 1
		if b[0]&0x80 != 0 {
			if n, err = runLength(next, len(out)-i); err != nil {
				return err
			}
		}
		for k := 0; k < n; k++ {
			out[i+k] = pal[idx]
		}
		i += n
	}
	return nil
}
