package config

import (
	"strconv"
	"strings"
)

// keyLines maps every key of a TOML document to the line it is written on,
// because toml.MetaData does not expose key positions. Keys are dotted, with
// array-of-tables elements indexed the way the decoder names them:
// "recording.queue_length", "log.sink[1].address", "log.sink[1]" (the
// [[log.sink]] header). Tables get the line of their header; dotted keys
// and inline tables are followed too.
//
// It is only run on documents toml already parsed, but must still end and
// never panic on any input: every loop consumes input or stops.
func keyLines(src string) map[string]int {
	s := &lineScanner{src: src, line: 1, lines: map[string]int{}, arrays: map[string]int{}}
	s.document()
	return s.lines
}

// maxDepth bounds nesting of arrays and inline tables; deeper values are
// skipped (their keys fall back to the enclosing key's line).
const maxDepth = 64

type lineScanner struct {
	src    string
	pos    int
	line   int
	lines  map[string]int
	arrays map[string]int // [[array]] path -> elements seen so far
	table  string         // current [table] path
}

func (s *lineScanner) peek() byte {
	if s.pos < len(s.src) {
		return s.src[s.pos]
	}
	return 0
}

func (s *lineScanner) at(prefix string) bool { return strings.HasPrefix(s.src[s.pos:], prefix) }

func (s *lineScanner) adv() {
	if s.pos < len(s.src) {
		if s.src[s.pos] == '\n' {
			s.line++
		}
		s.pos++
	}
}

func (s *lineScanner) record(key string, line int) {
	if _, ok := s.lines[key]; !ok {
		s.lines[key] = line
	}
}

// skipSpace skips blanks on the current line.
func (s *lineScanner) skipSpace() {
	for c := s.peek(); c == ' ' || c == '\t'; c = s.peek() {
		s.adv()
	}
}

// skipBlank skips blanks, newlines and comments.
func (s *lineScanner) skipBlank() {
	for s.pos < len(s.src) {
		switch s.peek() {
		case ' ', '\t', '\r', '\n':
			s.adv()
		case '#':
			s.skipLine()
		default:
			return
		}
	}
}

// skipLine skips to the end of the line, leaving the newline.
func (s *lineScanner) skipLine() {
	for s.pos < len(s.src) && s.peek() != '\n' {
		s.adv()
	}
}

func (s *lineScanner) document() {
	for {
		s.skipBlank()
		if s.pos >= len(s.src) {
			return
		}
		start := s.pos
		if s.peek() == '[' {
			s.header()
		} else {
			s.keyValue(s.table, 0)
		}
		if s.pos == start {
			s.adv()
		}
		s.skipLine()
	}
}

// header reads [table] or [[array]] and makes it the current table.
func (s *lineScanner) header() {
	line := s.line
	s.adv()
	array := s.peek() == '['
	if array {
		s.adv()
	}
	segs := s.key()
	path := ""
	for i, seg := range segs {
		path = joinKey(path, quoteKey(seg))
		if array && i == len(segs)-1 {
			n := s.arrays[path]
			s.arrays[path] = n + 1
			path += "[" + strconv.Itoa(n) + "]"
		} else if n, ok := s.arrays[path]; ok {
			path += "[" + strconv.Itoa(n-1) + "]"
		}
		s.record(path, line)
	}
	s.table = path
}

// key reads a dotted key: bare, "basic" or 'literal' segments.
func (s *lineScanner) key() []string {
	var segs []string
	for {
		s.skipSpace()
		switch c := s.peek(); {
		case c == '"':
			segs = append(segs, s.basicString())
		case c == '\'':
			segs = append(segs, s.literalString())
		case bareKeyByte(c):
			start := s.pos
			for bareKeyByte(s.peek()) {
				s.adv()
			}
			segs = append(segs, s.src[start:s.pos])
		default:
			return segs
		}
		s.skipSpace()
		if s.peek() != '.' {
			return segs
		}
		s.adv()
	}
}

func bareKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-'
}

// keyValue reads key = value under prefix.
func (s *lineScanner) keyValue(prefix string, depth int) {
	line := s.line
	segs := s.key()
	if len(segs) == 0 {
		return
	}
	s.skipSpace()
	if s.peek() != '=' {
		return
	}
	s.adv()
	path := prefix
	for _, seg := range segs {
		path = joinKey(path, quoteKey(seg))
		s.record(path, line)
	}
	s.value(path, depth)
}

// value skips one value, recording the keys of inline tables and the
// elements of arrays.
func (s *lineScanner) value(path string, depth int) {
	s.skipSpace()
	switch c := s.peek(); {
	case s.at(`"""`):
		s.multiline(`"""`, true)
	case s.at(`'''`):
		s.multiline(`'''`, false)
	case c == '"':
		s.basicString()
	case c == '\'':
		s.literalString()
	case c == '[' && depth < maxDepth:
		s.adv()
		for i := 0; ; i++ {
			s.skipBlank()
			if s.peek() == ']' {
				s.adv()
				return
			}
			if s.pos >= len(s.src) {
				return
			}
			el := path + "[" + strconv.Itoa(i) + "]"
			s.record(el, s.line)
			start := s.pos
			s.value(el, depth+1)
			s.skipBlank()
			switch s.peek() {
			case ',':
				s.adv()
			case ']':
				s.adv()
				return
			default:
				if s.pos == start {
					return
				}
			}
		}
	case c == '{' && depth < maxDepth:
		s.adv()
		for {
			s.skipBlank()
			if s.peek() == '}' {
				s.adv()
				return
			}
			start := s.pos
			s.keyValue(path, depth+1)
			s.skipBlank()
			switch s.peek() {
			case ',':
				s.adv()
			case '}':
				s.adv()
				return
			default:
				if s.pos == start {
					return
				}
			}
		}
	default:
		// A number, boolean, date or a value nested deeper than maxDepth:
		// skip to the next delimiter.
		for s.pos < len(s.src) && !strings.ContainsRune(",]}#\r\n", rune(s.peek())) {
			s.adv()
		}
	}
}

// basicString reads "..." and returns its content, escapes decoded when Go
// agrees with TOML on them.
func (s *lineScanner) basicString() string {
	s.adv()
	start := s.pos
	for s.pos < len(s.src) {
		switch s.peek() {
		case '\\':
			s.adv()
		case '"':
			raw := s.src[start:s.pos]
			s.adv()
			if v, err := strconv.Unquote(`"` + raw + `"`); err == nil {
				return v
			}
			return raw
		case '\n':
			return s.src[start:s.pos]
		}
		s.adv()
	}
	return s.src[start:]
}

// literalString reads '...'.
func (s *lineScanner) literalString() string {
	s.adv()
	start := s.pos
	for s.pos < len(s.src) && s.peek() != '\'' && s.peek() != '\n' {
		s.adv()
	}
	v := s.src[start:s.pos]
	if s.peek() == '\'' {
		s.adv()
	}
	return v
}

// multiline skips a multi-line string, basic or literal; only the basic
// kind has escapes.
func (s *lineScanner) multiline(delim string, escapes bool) {
	for range 3 {
		s.adv()
	}
	for s.pos < len(s.src) {
		if escapes && s.peek() == '\\' {
			s.adv()
			s.adv()
			continue
		}
		if s.at(delim) {
			for range 3 {
				s.adv()
			}
			// Up to two more quotes may close the string ("""a"""").
			for i := 0; i < 2 && s.peek() == delim[0]; i++ {
				s.adv()
			}
			return
		}
		s.adv()
	}
}
