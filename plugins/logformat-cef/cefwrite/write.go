package cefwrite

import (
	"strconv"
	"unicode/utf8"

	"github.com/vigilgw/vigil/plugins/logformat-cef/cefspec"
)

// Header is the fixed part of a CEF line. The CEF version is always
// cefspec.Version.
type Header struct {
	Vendor   string
	Product  string
	Version  string
	ClassID  string // Device Event Class ID (Signature ID)
	Name     string
	Severity int // 0-10; values outside are clamped
}

// AppendHeader appends "CEF:0|vendor|product|version|class id|name|severity|"
// to dst, each field cleaned, cut to its limit and escaped.
func AppendHeader(dst []byte, h Header) []byte {
	dst = append(dst, "CEF:"...)
	dst = strconv.AppendInt(dst, cefspec.Version, 10)
	dst = append(dst, '|')
	dst = appendClean(dst, h.Vendor, cefspec.MaxDeviceVendor, modeHeader)
	dst = append(dst, '|')
	dst = appendClean(dst, h.Product, cefspec.MaxDeviceProduct, modeHeader)
	dst = append(dst, '|')
	dst = appendClean(dst, h.Version, cefspec.MaxDeviceVersion, modeHeader)
	dst = append(dst, '|')
	dst = appendClean(dst, h.ClassID, cefspec.MaxClassID, modeHeader)
	dst = append(dst, '|')
	dst = appendClean(dst, h.Name, cefspec.MaxName, modeHeader)
	dst = append(dst, '|')
	dst = strconv.AppendInt(dst, int64(min(max(h.Severity, 0), cefspec.MaxSeverity)), 10)
	return append(dst, '|')
}

// Ext appends extension fields, key=value separated by single spaces, to a
// buffer. Start one with StartExt after AppendHeader, or on its own for
// formats that reuse CEF's extension syntax (ESP AAA lines).
type Ext struct {
	buf []byte
	n   int
}

// StartExt starts an extension at the end of dst.
func StartExt(dst []byte) Ext { return Ext{buf: dst} }

// Add appends key=value, the value cut to cefspec.MaxLen(key). An empty value
// is left out: CEF has no null, and an absent key reads as empty. Add panics
// if key is not a valid CEF key name, which only a programming error can
// cause.
func (e *Ext) Add(key, value string) {
	// Cleaning at most triples a value (a bad byte becomes U+FFFD), so a
	// short value fits every limit and needs no dictionary lookup.
	if 3*len(value) <= cefspec.MinMaxLen {
		e.AddMax(key, value, cefspec.MinMaxLen)
		return
	}
	e.AddMax(key, value, cefspec.MaxLen(key))
}

// AddMax is Add with an explicit limit, in bytes before escaping. A value of
// which nothing fits under the limit is left out like an empty one.
func (e *Ext) AddMax(key, value string, limit int) {
	if value == "" {
		return
	}
	if !cefspec.ValidKeyName(key) {
		panic("cefwrite: invalid extension key name " + strconv.Quote(key))
	}
	mark := len(e.buf)
	if e.n > 0 {
		e.buf = append(e.buf, ' ')
	}
	e.buf = append(e.buf, key...)
	e.buf = append(e.buf, '=')
	valueStart := len(e.buf)
	e.buf = appendClean(e.buf, value, limit, modeExtension)
	if len(e.buf) == valueStart { // nothing fits under limit
		e.buf = e.buf[:mark]
		return
	}
	e.n++
}

// AddInt appends key=n.
func (e *Ext) AddInt(key string, n int64) {
	e.startKey(key)
	e.buf = strconv.AppendInt(e.buf, n, 10)
}

// AddUint appends key=n.
func (e *Ext) AddUint(key string, n uint64) {
	e.startKey(key)
	e.buf = strconv.AppendUint(e.buf, n, 10)
}

func (e *Ext) startKey(key string) {
	if !cefspec.ValidKeyName(key) {
		panic("cefwrite: invalid extension key name " + strconv.Quote(key))
	}
	if e.n > 0 {
		e.buf = append(e.buf, ' ')
	}
	e.n++
	e.buf = append(e.buf, key...)
	e.buf = append(e.buf, '=')
}

// Len is the number of fields added so far.
func (e *Ext) Len() int { return e.n }

// Bytes returns the buffer given to StartExt with the fields appended.
func (e *Ext) Bytes() []byte { return e.buf }

// FitValue returns what a parser reads back from an extension value written
// from s with the given limit: s cleaned and cut, unescaped. Tests compare
// parsed values against it.
func FitValue(s string, limit int) string {
	return string(appendClean(nil, s, limit, modeFitValue))
}

// FitHeader returns what a parser reads back from a header field written
// from s with the given limit.
func FitHeader(s string, limit int) string {
	return string(appendClean(nil, s, limit, modeFitHeader))
}

type mode int

const (
	modeHeader    mode = iota // escape \ and |; LF and CR are replaced
	modeExtension             // escape \ = LF CR
	modeFitValue              // clean and cut only, keep LF and CR
	modeFitHeader             // clean and cut only, replace LF and CR
)

const replacement = "\uFFFD"

// appendClean appends s to dst cleaned (see the package comment), cut to at
// most limit bytes of cleaned, unescaped text on a rune boundary, and escaped
// for m.
func appendClean(dst []byte, s string, limit int, m mode) []byte {
	n := 0 // bytes of cleaned text written, before escaping
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != 0x7f && c != '\\' && c != '|' && c != '=' {
				if n == limit {
					break
				}
				dst = append(dst, c)
				n++
				i++
				continue
			}
			if !isControl(rune(c)) || c == '\t' ||
				(c == '\n' || c == '\r') && (m == modeExtension || m == modeFitValue) {
				if n == limit {
					break
				}
				n++
				i++
				dst = appendASCII(dst, c, m)
				continue
			}
			// A control character CEF cannot carry.
			if n+len(replacement) > limit {
				break
			}
			n += len(replacement)
			i++
			dst = append(dst, replacement...)
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		bad := r == utf8.RuneError && size == 1 || isControl(r)
		w := size
		if bad {
			w = len(replacement)
		}
		if n+w > limit {
			break
		}
		n += w
		if bad {
			dst = append(dst, replacement...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// appendASCII appends one printable-or-allowed ASCII byte, escaped for m.
func appendASCII(dst []byte, c byte, m mode) []byte {
	switch m {
	case modeHeader:
		if c == '\\' || c == '|' {
			return append(dst, '\\', c)
		}
	case modeExtension:
		switch c {
		case '\\', '=':
			return append(dst, '\\', c)
		case '\n':
			return append(dst, '\\', 'n')
		case '\r':
			return append(dst, '\\', 'r')
		}
	}
	return append(dst, c)
}

// isControl reports whether r is a character no CEF receiver should see raw:
// C0 controls, DEL, C1 controls and the Unicode line and paragraph
// separators. Tab, LF and CR are handled by the callers.
func isControl(r rune) bool {
	return r < 0x20 || r == 0x7f || 0x80 <= r && r <= 0x9f || r == 0x2028 || r == 0x2029
}
