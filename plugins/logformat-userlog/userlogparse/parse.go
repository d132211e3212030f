package userlogparse

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid user-log line")

// Shape is which of the user-log shapes a line has.
type Shape int

const (
	// Request is `"VS" ("RS") User "U" requested|attempted "M" "URI" "UA"`.
	Request Shape = iota + 1
	// LoggedOff is `"VS": User "U" logged off`.
	LoggedOff
	// Message is `"VS": User "U" "MESSAGE" from "HOST"`.
	Message
)

// Line is one parsed line, every value unescaped.
type Line struct {
	Shape Shape
	VS    string
	User  string
	// Request shape.
	RS        string
	Verb      string // requested or attempted
	Method    string
	URI       string
	UserAgent string
	// Message shape.
	Message string
	From    string
	// Detail is the event's own message, after any shape; "" when the line
	// has none.
	Detail string
}

// parser reads one line left to right.
type parser struct {
	s   string
	pos int
}

func (p *parser) fail(format string, args ...any) error {
	return fmt.Errorf("userlogparse: byte %d: %s: %w", p.pos, fmt.Sprintf(format, args...), ErrInvalid)
}

// literal consumes lit or fails.
func (p *parser) literal(lit string) error {
	if !strings.HasPrefix(p.s[p.pos:], lit) {
		return p.fail("want %q", lit)
	}
	p.pos += len(lit)
	return nil
}

// quoted consumes one quoted value and returns it unescaped.
func (p *parser) quoted() (string, error) {
	if err := p.literal(`"`); err != nil {
		return "", err
	}
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c == '\\':
			if p.pos+1 >= len(p.s) {
				return "", p.fail("lone backslash")
			}
			switch p.s[p.pos+1] {
			case '\\', '"':
				b.WriteByte(p.s[p.pos+1])
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			default:
				return "", p.fail("unknown escape \\%c", p.s[p.pos+1])
			}
			p.pos += 2
		default:
			r, size := utf8.DecodeRuneInString(p.s[p.pos:])
			switch {
			case r == utf8.RuneError && size == 1:
				return "", p.fail("invalid UTF-8")
			case r == '\n' || r == '\r':
				return "", p.fail("raw line break")
			case r != '\t' && (r < 0x20 || r == 0x7f || 0x80 <= r && r <= 0x9f || r == 0x2028 || r == 0x2029):
				return "", p.fail("control character %U", r)
			}
			b.WriteString(p.s[p.pos : p.pos+size])
			p.pos += size
		}
	}
	return "", p.fail("unterminated quoted value")
}

// Parse parses one line (no trailing newline).
func Parse(line string) (Line, error) {
	var l Line
	p := &parser{s: line}
	var err error
	if l.VS, err = p.quoted(); err != nil {
		return l, err
	}
	rest := line[p.pos:]
	switch {
	case strings.HasPrefix(rest, ` ("`):
		l.Shape = Request
		err = p.request(&l)
	case strings.HasPrefix(rest, `: User "`):
		p.pos += len(`: User `)
		if l.User, err = p.quoted(); err != nil {
			return l, err
		}
		if strings.HasPrefix(line[p.pos:], " logged off") {
			l.Shape = LoggedOff
			err = p.literal(" logged off")
		} else {
			l.Shape = Message
			err = p.message(&l)
		}
	default:
		return l, p.fail(`want ' ("' or ': User "' after the virtual service`)
	}
	if err != nil {
		return l, err
	}
	if strings.HasPrefix(line[p.pos:], " detail=") {
		p.pos += len(" detail=")
		if l.Detail, err = p.quoted(); err != nil {
			return l, err
		}
		if l.Detail == "" {
			return l, p.fail("empty detail")
		}
	}
	if p.pos != len(line) {
		return l, p.fail("trailing text after the line")
	}
	return l, nil
}

func (p *parser) request(l *Line) error {
	var err error
	if err = p.literal(" ("); err != nil {
		return err
	}
	if l.RS, err = p.quoted(); err != nil {
		return err
	}
	if err = p.literal(") User "); err != nil {
		return err
	}
	if l.User, err = p.quoted(); err != nil {
		return err
	}
	switch {
	case strings.HasPrefix(p.s[p.pos:], " requested "):
		l.Verb = "requested"
	case strings.HasPrefix(p.s[p.pos:], " attempted "):
		l.Verb = "attempted"
	default:
		return p.fail("want requested or attempted")
	}
	p.pos += len(" requested ")
	if l.Method, err = p.quoted(); err != nil {
		return err
	}
	if err = p.literal(" "); err != nil {
		return err
	}
	if l.URI, err = p.quoted(); err != nil {
		return err
	}
	if err = p.literal(" "); err != nil {
		return err
	}
	l.UserAgent, err = p.quoted()
	return err
}

func (p *parser) message(l *Line) error {
	var err error
	if err = p.literal(" "); err != nil {
		return err
	}
	if l.Message, err = p.quoted(); err != nil {
		return err
	}
	if err = p.literal(" from "); err != nil {
		return err
	}
	l.From, err = p.quoted()
	return err
}
