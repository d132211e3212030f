package termrender

import (
	"time"
	"unicode/utf8"
)

// Parser states, after the DEC/ANSI parser of vt100.net (Paul Williams),
// reduced to what a transcript needs: sequences are recognised so that
// none of their bytes reach the text, and a few act on the current line.
const (
	stGround = iota
	stEscape
	stEscInter
	stCSI
	stString    // OSC, DCS, SOS, PM, APC: skipped up to ST (or BEL)
	stStringEsc // ESC inside a string: ST if '\' follows
)

const maxParams = 16

// vtLine is one terminal's current line and parser state.
type vtLine struct {
	dec     decoder
	cells   []rune
	col     int
	start   time.Time // when the line got its first character
	last    time.Time // when the last bytes came
	has     bool
	state   int
	params  [maxParams]int
	nparams int
}

type emitFunc func(at time.Time, text string)

// feed interprets b, written at time at.
func (v *vtLine) feed(b []byte, at time.Time, emit emitFunc) {
	v.last = at
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		v.rune(r, at, emit)
	}
}

func (v *vtLine) rune(r rune, at time.Time, emit emitFunc) {
	if r == 0x18 || r == 0x1a { // CAN, SUB: abort any sequence
		v.state = stGround
		return
	}
	switch v.state {
	case stGround:
		v.ground(r, at, emit)
	case stEscape:
		switch {
		case r == '[':
			v.state, v.nparams, v.params[0] = stCSI, 0, 0
		case r == ']' || r == 'P' || r == 'X' || r == '^' || r == '_':
			v.state = stString
		case r == 0x1b:
		case r >= 0x20 && r <= 0x2f:
			v.state = stEscInter
		case r == 'E': // NEL
			v.state = stGround
			v.endLine(emit)
		default:
			v.state = stGround
		}
	case stEscInter:
		if r < 0x20 || r > 0x2f {
			v.state = stGround
		}
	case stCSI:
		v.csi(r, emit)
	case stString:
		switch r {
		case 0x07, 0x9c:
			v.state = stGround
		case 0x1b:
			v.state = stStringEsc
		}
	case stStringEsc:
		if r == '\\' {
			v.state = stGround
		} else {
			v.state = stEscape
			v.rune(r, at, emit)
		}
	}
}

func (v *vtLine) ground(r rune, at time.Time, emit emitFunc) {
	switch {
	case r == 0x1b:
		v.state = stEscape
	case r == '\n' || r == 0x0b || r == 0x0c:
		v.endLine(emit)
	case r == '\r':
		v.col = 0
	case r == '\b':
		v.col = max(v.col-1, 0)
	case r == '\t':
		v.col = (v.col/8 + 1) * 8
	case r == 0x9b:
		v.state, v.nparams, v.params[0] = stCSI, 0, 0
	case r == 0x90 || r == 0x98 || r == 0x9d || r == 0x9e || r == 0x9f:
		v.state = stString
	case r == 0x85: // NEL
		v.endLine(emit)
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0):
	default:
		v.put(r, at, emit)
	}
}

func (v *vtLine) put(r rune, at time.Time, emit emitFunc) {
	if v.col >= maxLineCols {
		v.endLine(emit)
	}
	if !v.has {
		v.has, v.start = true, at
	}
	for len(v.cells) < v.col {
		v.cells = append(v.cells, ' ')
	}
	if v.col < len(v.cells) {
		v.cells[v.col] = r
	} else {
		v.cells = append(v.cells, r)
	}
	v.col++
}

// param returns parameter i, or def when it is absent or zero.
func (v *vtLine) param(i, def int) int {
	if i >= v.nparams || v.params[i] == 0 {
		return def
	}
	return v.params[i]
}

func (v *vtLine) csi(r rune, emit emitFunc) {
	switch {
	case r >= '0' && r <= '9':
		if v.nparams == 0 {
			v.nparams = 1
		}
		if p := &v.params[v.nparams-1]; *p < 1<<20 {
			*p = *p*10 + int(r-'0')
		}
		return
	case r == ';' || r == ':':
		if v.nparams == 0 {
			v.nparams = 1
		}
		if v.nparams < maxParams {
			v.params[v.nparams] = 0
			v.nparams++
		}
		return
	case r >= 0x20 && r <= 0x3f: // intermediates and private markers
		return
	case r == 0x1b:
		v.state = stEscape
		return
	case r < 0x20:
		return
	}
	v.state = stGround
	n := v.param(0, 1)
	switch r {
	case 'K': // erase in line
		switch v.param(0, 0) {
		case 0:
			v.cells = v.cells[:min(v.col, len(v.cells))]
		case 1:
			for i := 0; i <= v.col && i < len(v.cells); i++ {
				v.cells[i] = ' '
			}
		case 2:
			v.cells = v.cells[:0]
		}
	case 'C', 'a': // cursor forward
		v.col = min(v.col+n, maxLineCols)
	case 'D': // cursor back
		v.col = max(v.col-n, 0)
	case 'G', '`': // cursor to column
		v.col = min(n-1, maxLineCols)
	case 'P': // delete characters
		if v.col < len(v.cells) {
			v.cells = append(v.cells[:v.col], v.cells[min(v.col+n, len(v.cells)):]...)
		}
	case '@': // insert blanks
		if v.col < len(v.cells) {
			n = min(n, maxLineCols)
			v.cells = append(v.cells[:v.col], append(make([]rune, n), v.cells[v.col:]...)...)
			for i := v.col; i < v.col+n; i++ {
				v.cells[i] = ' '
			}
		}
	case 'X': // erase characters
		for i := v.col; i < v.col+n && i < len(v.cells); i++ {
			v.cells[i] = ' '
		}
	case 'H', 'f': // cursor position: another line
		v.endLine(emit)
		v.col = min(v.param(1, 1)-1, maxLineCols)
	case 'A', 'B', 'E', 'F', 'd', 'e', 'S', 'T', 'L', 'M': // vertical moves, scrolls, line inserts
		v.endLine(emit)
	case 'J': // erase in display
		if v.param(0, 0) >= 2 {
			v.endLine(emit)
		}
	}
}

// endLine emits the current line and starts a new one at column 0.
func (v *vtLine) endLine(emit emitFunc) {
	if v.has {
		emit(v.start, string(v.cells))
	}
	v.cells, v.col, v.has = v.cells[:0], 0, false
}
