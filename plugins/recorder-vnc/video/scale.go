package video

// Scaler fits a source picture of one size into a fixed output size,
// keeping its aspect ratio: the picture is centred and the rest is black.
// Shrinking averages every source pixel a destination pixel covers (a box
// filter, so text stays legible); growing interpolates linearly.
type Scaler struct {
	srcW, srcH int
	dstW, dstH int
	fitW, fitH int // the picture's size inside the output
	offX, offY int
	xk, yk     kernel
	tmp        []uint32 // horizontally scaled rows: fitW*srcH*3 channels, weights applied
}

// kernel holds, for each destination index, the source taps and their
// weights (summing to 1<<weightBits).
type kernel struct {
	start []int32 // index into taps of each destination's first tap
	count []int32
	src   []int32
	w     []int32
}

const weightBits = 12

// NewScaler prepares scaling srcW x srcH pictures into dstW x dstH.
func NewScaler(srcW, srcH, dstW, dstH int) *Scaler {
	s := &Scaler{srcW: srcW, srcH: srcH, dstW: dstW, dstH: dstH}
	// Fit: the larger of the two scale factors that still fits.
	if srcW*dstH >= srcH*dstW {
		s.fitW, s.fitH = dstW, max(1, (srcH*dstW+srcW/2)/srcW)
	} else {
		s.fitW, s.fitH = max(1, (srcW*dstH+srcH/2)/srcH), dstH
	}
	s.fitW, s.fitH = min(s.fitW, dstW), min(s.fitH, dstH)
	s.offX, s.offY = (dstW-s.fitW)/2, (dstH-s.fitH)/2
	if !s.identity() {
		s.xk = newKernel(srcW, s.fitW)
		s.yk = newKernel(srcH, s.fitH)
		s.tmp = make([]uint32, 3*s.fitW*srcH)
	}
	return s
}

func (s *Scaler) identity() bool { return s.srcW == s.fitW && s.srcH == s.fitH }

// Copies reports whether Scale only copies: the source has the output's
// size, so a caller may use the source itself as the output.
func (s *Scaler) Copies() bool { return s.srcW == s.dstW && s.srcH == s.dstH }

// Matches reports whether s scales pictures of w x h.
func (s *Scaler) Matches(w, h int) bool { return s.srcW == w && s.srcH == h }

// newKernel computes the taps mapping n source samples onto m.
func newKernel(n, m int) kernel {
	k := kernel{start: make([]int32, m), count: make([]int32, m)}
	one := 1 << weightBits
	if m < n { // shrink: box filter over the covered span, in fixed point
		for i := 0; i < m; i++ {
			// The span [a, b) in units of 1/m source pixels.
			a, b := i*n, (i+1)*n
			k.start[i] = int32(len(k.src))
			total := 0
			for x := a / m; x*m < b; x++ {
				lo, hi := max(a, x*m), min(b, (x+1)*m)
				w := (hi - lo) * one / n
				k.src = append(k.src, int32(x))
				k.w = append(k.w, int32(w))
				total += w
			}
			k.w[len(k.w)-1] += int32(one - total) // rounding goes to the last tap
			k.count[i] = int32(len(k.src)) - k.start[i]
		}
		return k
	}
	for i := 0; i < m; i++ { // grow (or keep): linear between the two nearest samples
		pos := (float64(i)+0.5)*float64(n)/float64(m) - 0.5
		x0 := int(pos)
		if pos < 0 {
			x0 = 0
			pos = 0
		}
		frac := pos - float64(x0)
		x1 := min(x0+1, n-1)
		w1 := int(frac * float64(one))
		k.start[i] = int32(len(k.src))
		k.src = append(k.src, int32(x0), int32(x1))
		k.w = append(k.w, int32(one-w1), int32(w1))
		k.count[i] = 2
	}
	return k
}

// Scale writes src (srcW x srcH RGB24) into dst (dstW x dstH RGB24). The
// borders of dst are made black.
func (s *Scaler) Scale(dst, src []byte) {
	clear(dst[:3*s.dstW*s.offY])
	clear(dst[3*s.dstW*(s.offY+s.fitH):])
	for y := 0; y < s.fitH; y++ {
		row := dst[3*s.dstW*(s.offY+y):]
		clear(row[:3*s.offX])
		clear(row[3*(s.offX+s.fitW) : 3*s.dstW])
	}
	if s.identity() {
		for y := 0; y < s.fitH; y++ {
			copy(dst[3*(s.dstW*(s.offY+y)+s.offX):3*(s.dstW*(s.offY+y)+s.offX+s.fitW)], src[3*s.srcW*y:])
		}
		return
	}
	// Horizontal pass: every source row into fitW weighted samples.
	for y := 0; y < s.srcH; y++ {
		in := src[3*s.srcW*y : 3*s.srcW*(y+1)]
		out := s.tmp[3*s.fitW*y : 3*s.fitW*(y+1)]
		for x := 0; x < s.fitW; x++ {
			var r, g, b uint32
			st, n := s.xk.start[x], s.xk.count[x]
			for t := st; t < st+n; t++ {
				p, w := 3*int(s.xk.src[t]), uint32(s.xk.w[t])
				r += uint32(in[p]) * w
				g += uint32(in[p+1]) * w
				b += uint32(in[p+2]) * w
			}
			out[3*x], out[3*x+1], out[3*x+2] = r, g, b
		}
	}
	// Vertical pass: weighted rows into the output.
	const round = 1 << (2*weightBits - 1)
	for y := 0; y < s.fitH; y++ {
		row := dst[3*(s.dstW*(s.offY+y)+s.offX):]
		st, n := s.yk.start[y], s.yk.count[y]
		for x := 0; x < 3*s.fitW; x++ {
			var acc uint64
			for t := st; t < st+n; t++ {
				acc += uint64(s.tmp[3*s.fitW*int(s.yk.src[t])+x]) * uint64(s.yk.w[t])
			}
			row[x] = byte(min((acc+round)>>(2*weightBits), 255))
		}
	}
}

// Map converts a source position to the output's (for drawing a cursor).
func (s *Scaler) Map(x, y int) (int, int) {
	return s.offX + x*s.fitW/s.srcW, s.offY + y*s.fitH/s.srcH
}

// Factor is the output's size over the source's, in 1/1024ths.
func (s *Scaler) Factor() int { return s.fitW * 1024 / s.srcW }
