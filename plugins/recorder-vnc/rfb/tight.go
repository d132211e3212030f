package rfb

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
)

// Tight compression control (the high nibble of the first byte).
const (
	tightFill     = 0x8
	tightJPEG     = 0x9
	tightExplicit = 0x4 // basic compression: a filter id follows

	tightFilterCopy     = 0
	tightFilterPalette  = 1
	tightFilterGradient = 2

	// tightMinToCompress: data shorter than this is sent as is.
	tightMinToCompress = 12
	// tightMaxCompact is the largest compact length (22 bits).
	tightMaxCompact = 1<<22 - 1
)

// compactLength reads Tight's 1-3 byte length.
func (d *Decoder) compactLength() (int, error) {
	n := 0
	for i := 0; i < 3; i++ {
		b, err := d.read(1)
		if err != nil {
			return 0, err
		}
		if i == 2 {
			return n | int(b[0])<<14, nil
		}
		n |= int(b[0]&0x7f) << (7 * i)
		if b[0]&0x80 == 0 {
			return n, nil
		}
	}
	return n, nil
}

// tpixelSize is the size of a TPIXEL in the pixel format in force.
func (d *Decoder) tpixelSize() int {
	if d.pf.tpixelIsRGB() {
		return 3
	}
	return d.conv.bpp
}

// tpixelRGB converts one TPIXEL.
func (d *Decoder) tpixelRGB(dst, b []byte) {
	if d.pf.tpixelIsRGB() {
		copy(dst[:3], b[:3])
		return
	}
	d.conv.rgb(dst, d.conv.value(b))
}

func (d *Decoder) tightRect(r rect) error {
	b, err := d.read(1)
	if err != nil {
		return err
	}
	ctl := b[0]
	for i := range d.tight {
		if ctl&(1<<i) != 0 {
			d.tight[i].reset()
		}
	}
	ctl >>= 4
	tp := d.tpixelSize()
	switch {
	case ctl == tightFill:
		p, err := d.read(tp)
		if err != nil {
			return err
		}
		var rgb [3]byte
		d.tpixelRGB(rgb[:], p)
		d.fb.fill(r.x, r.y, r.w, r.h, rgb)
		return nil
	case ctl == tightJPEG:
		return d.tightJPEG(r)
	case ctl > tightJPEG:
		return fmt.Errorf("compression control %#x: %w", ctl, ErrMalformed)
	}
	stream := int(ctl & 3)
	filter := tightFilterCopy
	if ctl&tightExplicit != 0 {
		f, err := d.read(1)
		if err != nil {
			return err
		}
		filter = int(f[0])
	}
	var palette [256][3]byte
	palLen := 0
	rowSize := r.w * tp
	switch filter {
	case tightFilterCopy:
	case tightFilterPalette:
		n, err := d.read(1)
		if err != nil {
			return err
		}
		palLen = int(n[0]) + 1
		p, err := d.read(palLen * tp)
		if err != nil {
			return err
		}
		for i := 0; i < palLen; i++ {
			d.tpixelRGB(palette[i][:], p[i*tp:])
		}
		rowSize = r.w
		if palLen <= 2 {
			rowSize = (r.w + 7) / 8
		}
	case tightFilterGradient:
		if !d.pf.TrueColour {
			return fmt.Errorf("gradient filter with a colour map: %w", ErrMalformed)
		}
	default:
		return fmt.Errorf("filter %d: %w", filter, ErrMalformed)
	}
	size := rowSize * r.h
	if !d.fb.paint(r.w, r.h) {
		return errWork
	}
	next := tileSource(d.read)
	var z *zstream
	if size >= tightMinToCompress {
		n, err := d.compactLength()
		if err != nil {
			return err
		}
		z = &d.tight[stream]
		if err := z.begin(d.src, n); err != nil {
			return err
		}
		next = z.next
	}
	switch filter {
	case tightFilterPalette:
		err = d.tightPalette(r, next, palette[:palLen], rowSize)
	case tightFilterGradient:
		err = d.tightGradient(r, next, tp)
	default:
		err = d.tightCopy(r, next, tp)
	}
	if err == nil && z != nil {
		err = z.end()
	}
	return err
}

func (d *Decoder) tightCopy(r rect, next tileSource, tp int) error {
	for j := 0; j < r.h; j++ {
		b, err := next(r.w * tp)
		if err != nil {
			return err
		}
		row := d.fb.rowAt(r.x, r.y+j, r.w)
		if tp == 3 && d.pf.tpixelIsRGB() {
			copy(row, b)
			continue
		}
		for i := 0; i < r.w; i++ {
			d.tpixelRGB(row[3*i:], b[i*tp:])
		}
	}
	return nil
}

func (d *Decoder) tightPalette(r rect, next tileSource, pal [][3]byte, rowSize int) error {
	for j := 0; j < r.h; j++ {
		b, err := next(rowSize)
		if err != nil {
			return err
		}
		row := d.fb.rowAt(r.x, r.y+j, r.w)
		for i := 0; i < r.w; i++ {
			var idx int
			if len(pal) <= 2 {
				idx = int(b[i/8]>>(7-i%8)) & 1
			} else {
				idx = int(b[i])
			}
			if idx >= len(pal) {
				return fmt.Errorf("palette index %d of %d colours: %w", idx, len(pal), ErrMalformed)
			}
			copy(row[3*i:3*i+3], pal[idx][:])
		}
	}
	return nil
}

// tightGradient undoes the gradient filter: every channel was sent as the
// difference from left + above - above-left, clamped to the channel's
// range.
func (d *Decoder) tightGradient(r rect, next tileSource, tp int) error {
	rgbTP := d.pf.tpixelIsRGB()
	maxes := [3]int{255, 255, 255}
	shifts := [3]uint8{}
	if !rgbTP {
		maxes = [3]int{int(d.pf.RedMax), int(d.pf.GreenMax), int(d.pf.BlueMax)}
		shifts = [3]uint8{d.pf.RedShift, d.pf.GreenShift, d.pf.BlueShift}
	}
	prev := make([]int, 3*r.w)
	cur := make([]int, 3*r.w)
	for j := 0; j < r.h; j++ {
		b, err := next(r.w * tp)
		if err != nil {
			return err
		}
		row := d.fb.rowAt(r.x, r.y+j, r.w)
		for i := 0; i < r.w; i++ {
			var diff [3]int
			if rgbTP {
				diff = [3]int{int(b[3*i]), int(b[3*i+1]), int(b[3*i+2])}
			} else {
				v := d.conv.value(b[i*tp:])
				for c := range diff {
					diff[c] = int(v>>shifts[c]) & maxes[c]
				}
			}
			var out uint32
			for c := 0; c < 3; c++ {
				left, upLeft := 0, 0
				if i > 0 {
					left, upLeft = cur[3*(i-1)+c], prev[3*(i-1)+c]
				}
				est := min(max(left+prev[3*i+c]-upLeft, 0), maxes[c])
				v := (est + diff[c]) & maxes[c]
				cur[3*i+c] = v
				out |= uint32(v) << shifts[c]
			}
			if rgbTP {
				row[3*i], row[3*i+1], row[3*i+2] = byte(cur[3*i]), byte(cur[3*i+1]), byte(cur[3*i+2])
			} else {
				d.conv.rgb(row[3*i:], out)
			}
		}
		prev, cur = cur, prev
	}
	return nil
}

func (d *Decoder) tightJPEG(r rect) error {
	n, err := d.compactLength()
	if err != nil {
		return err
	}
	data, err := d.read(n)
	if err != nil {
		return err
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("jpeg: %v: %w", err, ErrMalformed)
	}
	if cfg.Width != r.w || cfg.Height != r.h {
		return fmt.Errorf("jpeg of %dx%d in the rectangle: %w", cfg.Width, cfg.Height, ErrMalformed)
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("jpeg: %v: %w", err, ErrMalformed)
	}
	drawImage(&d.fb, r.x, r.y, img)
	return nil
}

// drawImage copies img (its bounds' size) to (x, y).
func drawImage(fb *Framebuffer, x, y int, img image.Image) {
	b := img.Bounds()
	switch m := img.(type) {
	case *image.YCbCr:
		for j := 0; j < b.Dy(); j++ {
			row := fb.rowAt(x, y+j, b.Dx())
			for i := 0; i < b.Dx(); i++ {
				c := m.YCbCrAt(b.Min.X+i, b.Min.Y+j)
				row[3*i], row[3*i+1], row[3*i+2] = color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
			}
		}
	default:
		for j := 0; j < b.Dy(); j++ {
			row := fb.rowAt(x, y+j, b.Dx())
			for i := 0; i < b.Dx(); i++ {
				cr, cg, cb, _ := img.At(b.Min.X+i, b.Min.Y+j).RGBA()
				row[3*i], row[3*i+1], row[3*i+2] = byte(cr>>8), byte(cg>>8), byte(cb>>8)
			}
		}
	}
}
