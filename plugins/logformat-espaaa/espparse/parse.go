package espparse

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigilgw/vigil/plugins/logformat-cef/cefparse"
)

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid ESP AAA line")

// TimeLayout is the timestamp at the start of every line.
const TimeLayout = "2006-01-02T15:04:05-07:00"

// Tag is the program tag after the host, as LoadMaster writes it.
const Tag = "ssomgr:"

// Keys are the body's keys, in the only order they may appear.
var Keys = []string{"vs", "event", "srcip", "user", "domain", "server", "protocol", "result", "msg", "detail"}

// Line is one parsed line.
type Line struct {
	Time time.Time
	Host string // decoded; "" when the line has "-"
	// CEF is the CEF record when the body is CEF, nil otherwise.
	CEF *cefparse.Record
	// Fields are the body's key=value pairs (in the CEF form, the
	// extension), unescaped, in order.
	Fields []cefparse.Field
}

// Get returns the value of a body key.
func (l *Line) Get(key string) (string, bool) {
	for _, f := range l.Fields {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("espparse: %s: %w", fmt.Sprintf(format, args...), ErrInvalid)
}

// Parse parses one line (no trailing newline).
func Parse(line string) (Line, error) {
	var l Line
	ts, rest, ok := strings.Cut(line, " ")
	if !ok {
		return l, invalid("no space after the time")
	}
	t, err := time.Parse(TimeLayout, ts)
	if err != nil || t.Format(TimeLayout) != ts {
		return l, invalid("time %q is not RFC 3339 to the second with a numeric offset", ts)
	}
	l.Time = t
	host, rest, ok := strings.Cut(rest, " ")
	if !ok {
		return l, invalid("no space after the host")
	}
	if l.Host, err = DecodeHost(host); err != nil {
		return l, err
	}
	body, ok := strings.CutPrefix(rest, Tag+" ")
	if !ok {
		return l, invalid("no %q tag after the host", Tag)
	}
	cefForm := strings.HasPrefix(body, "CEF:")
	if cefForm {
		rec, err := cefparse.Parse(body)
		if err != nil {
			return l, fmt.Errorf("espparse: %w: %w", err, ErrInvalid)
		}
		l.CEF = &rec
		l.Fields = rec.Extension
	} else {
		l.Fields, err = cefparse.ParseExtension(body)
		if err != nil {
			return l, fmt.Errorf("espparse: %w: %w", err, ErrInvalid)
		}
	}
	if err := checkKeys(&l, cefForm); err != nil {
		return l, err
	}
	return l, nil
}

func checkKeys(l *Line, cefForm bool) error {
	next := 0
	for _, f := range l.Fields {
		i := next
		for i < len(Keys) && Keys[i] != f.Key {
			i++
		}
		if i == len(Keys) {
			return invalid("key %q is unknown or out of order", f.Key)
		}
		next = i + 1
	}
	event, hasEvent := l.Get("event")
	switch {
	case cefForm && !hasEvent:
		return invalid("CEF form without event=")
	case cefForm && event != l.CEF.Name:
		return invalid("event=%q differs from the header name %q", event, l.CEF.Name)
	case !cefForm && hasEvent:
		return invalid("event= outside the CEF form")
	}
	result, hasResult := l.Get("result")
	if _, hasMsg := l.Get("msg"); !hasResult && !hasMsg {
		return invalid("neither result= nor msg=")
	}
	if hasResult {
		code, text, ok := strings.Cut(result, ":")
		if !ok || code == "" || text == "" || strings.Trim(code, "0123456789") != "" {
			return invalid("result %q is not <code>:<text>", result)
		}
	}
	return nil
}

// EncodeHost writes a host as the one-token field of the line prefix.
func EncodeHost(host string) string {
	if host == "" {
		return "-"
	}
	if host == "-" {
		return "%2D"
	}
	var b strings.Builder
	for i := 0; i < len(host); i++ {
		c := host[i]
		if c > ' ' && c < 0x7f && c != '%' {
			b.WriteByte(c)
			continue
		}
		const hex = "0123456789ABCDEF"
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// DecodeHost reverses EncodeHost, refusing anything EncodeHost does not
// write.
func DecodeHost(s string) (string, error) {
	if s == "-" {
		return "", nil
	}
	if s == "" {
		return "", invalid("empty host")
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return "", invalid("truncated %%-escape in host %q", s)
			}
			hi, lo := unhex(s[i+1]), unhex(s[i+2])
			if hi < 0 || lo < 0 {
				return "", invalid("bad %%-escape in host %q", s)
			}
			d := byte(hi<<4 | lo)
			if d > ' ' && d < 0x7f && d != '%' && !(d == '-' && s == "%2D") {
				return "", invalid("needless %%-escape in host %q", s)
			}
			b.WriteByte(d)
			i += 2
		case c > ' ' && c < 0x7f:
			b.WriteByte(c)
		default:
			return "", invalid("raw byte %#x in host", c)
		}
	}
	return b.String(), nil
}

// unhex reads an upper-case hex digit, -1 if c is none.
func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
