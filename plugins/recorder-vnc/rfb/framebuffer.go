package rfb

// Framebuffer is the remote screen as RGB24, row after row, without
// padding.
type Framebuffer struct {
	Width, Height int
	Pix           []byte // 3*Width*Height bytes
	// Gen counts changes: it grows whenever pixels or the size change, so
	// a reader can tell an unchanged screen without comparing pixels.
	Gen uint64
	// Work counts the pixels written (and allocated) so far: a stream can
	// ask for far more work than it has bytes (a 16-byte fill rectangle
	// repaints the whole screen), so callers bound it with Limit.
	Work uint64
	// Limit, when not 0, bounds Work: an operation that would take Work
	// past it is not done, and Over is set; the decoder then fails with
	// ErrTooMuchWork.
	Limit uint64
	Over  bool
}

// spend accounts for n pixels of work about to be done, or refuses it.
func (fb *Framebuffer) spend(n int) bool {
	if fb.Over || (fb.Limit > 0 && fb.Work+uint64(n) > fb.Limit) {
		fb.Over = true
		return false
	}
	fb.Work += uint64(n)
	return true
}

func (fb *Framebuffer) resize(w, h int) {
	if w == fb.Width && h == fb.Height || !fb.spend(w*h) {
		return
	}
	pix := make([]byte, 3*w*h)
	for y := 0; y < min(h, fb.Height); y++ {
		copy(pix[3*w*y:3*w*y+3*min(w, fb.Width)], fb.Pix[3*fb.Width*y:])
	}
	fb.Width, fb.Height, fb.Pix = w, h, pix
	fb.Gen++
}

// paint accounts for w*h pixels about to be written directly (through
// rowAt); false: over the limit, write nothing.
func (fb *Framebuffer) paint(w, h int) bool {
	if !fb.spend(w * h) {
		return false
	}
	if w > 0 && h > 0 {
		fb.Gen++
	}
	return true
}

// rowAt returns the bytes of n pixels from (x, y).
func (fb *Framebuffer) rowAt(x, y, n int) []byte {
	o := 3 * (y*fb.Width + x)
	return fb.Pix[o : o+3*n]
}

func (fb *Framebuffer) fill(x, y, w, h int, rgb [3]byte) {
	if w <= 0 || h <= 0 || !fb.spend(w*h) {
		return
	}
	row := fb.rowAt(x, y, w)
	for i := 0; i < w; i++ {
		row[3*i], row[3*i+1], row[3*i+2] = rgb[0], rgb[1], rgb[2]
	}
	for j := 1; j < h; j++ {
		copy(fb.rowAt(x, y+j, w), row)
	}
	fb.Gen++
}

// copyRect copies the w x h rectangle at (sx, sy) to (dx, dy); the two may
// overlap.
func (fb *Framebuffer) copyRect(dx, dy, sx, sy, w, h int) {
	if w <= 0 || h <= 0 || !fb.spend(w*h) {
		return
	}
	if dy <= sy {
		for j := 0; j < h; j++ {
			copy(fb.rowAt(dx, dy+j, w), fb.rowAt(sx, sy+j, w))
		}
	} else {
		for j := h - 1; j >= 0; j-- {
			copy(fb.rowAt(dx, dy+j, w), fb.rowAt(sx, sy+j, w))
		}
	}
	fb.Gen++
}
