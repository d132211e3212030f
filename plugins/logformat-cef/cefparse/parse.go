package cefparse

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilgw/vigil/plugins/logformat-cef/cefspec"
)

// ErrInvalid is wrapped by every error Parse returns.
var ErrInvalid = errors.New("invalid CEF")

// Field is one extension key=value pair, unescaped.
type Field struct {
	Key   string
	Value string
}

// Record is one parsed CEF line, every field unescaped.
type Record struct {
	Version            int
	DeviceVendor       string
	DeviceProduct      string
	DeviceVersion      string
	DeviceEventClassID string
	Name               string
	Severity           string
	Extension          []Field // in the order written
}

// Get returns the value of an extension key.
func (r *Record) Get(key string) (string, bool) {
	for _, f := range r.Extension {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// Map returns the extension as a map.
func (r *Record) Map() map[string]string {
	m := make(map[string]string, len(r.Extension))
	for _, f := range r.Extension {
		m[f.Key] = f.Value
	}
	return m
}

// SyntaxError says where a line breaks the specification. It wraps
// ErrInvalid.
type SyntaxError struct {
	Offset int // byte offset in the line
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("byte %d: %s", e.Offset, e.Msg) }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *SyntaxError) Unwrap() error { return ErrInvalid }

func errorf(pos int, format string, args ...any) error {
	return &SyntaxError{Offset: pos, Msg: fmt.Sprintf(format, args...)}
}

// Parse parses one CEF line (no trailing newline, no syslog prefix).
func Parse(line string) (Record, error) {
	r, err := parse(line)
	if err != nil {
		return Record{}, fmt.Errorf("cefparse: %w", err)
	}
	return r, nil
}

func parse(line string) (Record, error) {
	var r Record
	if err := checkChars(line, 0); err != nil {
		return r, err
	}
	if !strings.HasPrefix(line, "CEF:") {
		return r, errorf(0, `line does not start with "CEF:"`)
	}
	pos := len("CEF:")
	bar := strings.IndexByte(line[pos:], '|')
	if bar < 0 {
		return r, errorf(pos, "no header field after the version")
	}
	switch v := line[pos : pos+bar]; v {
	case "0", "1":
		r.Version = int(v[0] - '0')
	default:
		return r, errorf(pos, "unknown CEF version %q", v)
	}
	pos += bar + 1

	limits := [6]int{cefspec.MaxDeviceVendor, cefspec.MaxDeviceProduct, cefspec.MaxDeviceVersion,
		cefspec.MaxClassID, cefspec.MaxName, len("Very-High")}
	names := [6]string{"device vendor", "device product", "device version",
		"device event class id", "name", "severity"}
	var fields [6]string
	for i := range fields {
		v, next, err := headerField(line, pos)
		if err != nil {
			return r, fmt.Errorf("%s: %w", names[i], err)
		}
		if v == "" {
			return r, errorf(pos, "%s is empty", names[i])
		}
		if len(v) > limits[i] {
			return r, errorf(pos, "%s is %d bytes, longer than %d", names[i], len(v), limits[i])
		}
		fields[i] = v
		pos = next
	}
	r.DeviceVendor, r.DeviceProduct, r.DeviceVersion = fields[0], fields[1], fields[2]
	r.DeviceEventClassID, r.Name, r.Severity = fields[3], fields[4], fields[5]
	if !validSeverity(r.Severity) {
		return r, errorf(pos, "severity %q is neither 0-10 nor one of %v", r.Severity, cefspec.SeverityNames)
	}
	ext, err := parseExtension(line[pos:], pos)
	if err != nil {
		return r, err
	}
	r.Extension = ext
	return r, nil
}

// ParseExtension parses a CEF extension on its own: key=value pairs
// separated by single spaces, with the extension's escaping. Formats that
// borrow the extension syntax (ESP AAA lines) use it.
func ParseExtension(s string) ([]Field, error) {
	err := checkChars(s, 0)
	var fields []Field
	if err == nil {
		fields, err = parseExtension(s, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("cefparse: %w", err)
	}
	return fields, nil
}

// checkChars refuses invalid UTF-8 and control characters other than tab.
func checkChars(s string, base int) error {
	for i, r := range s {
		switch {
		case r == utf8.RuneError:
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return errorf(base+i, "invalid UTF-8")
			}
		case r == '\n' || r == '\r':
			return errorf(base+i, "raw line break")
		case r == '\t':
		case r < 0x20 || r == 0x7f || 0x80 <= r && r <= 0x9f || r == 0x2028 || r == 0x2029:
			return errorf(base+i, "control character %U", r)
		}
	}
	return nil
}

// headerField reads a header field starting at pos up to its unescaped '|'
// and returns it unescaped with the position after the '|'.
func headerField(line string, pos int) (string, int, error) {
	start := pos
	var b strings.Builder
	escaped := false
	for i := pos; i < len(line); i++ {
		switch line[i] {
		case '|':
			if escaped {
				return b.String(), i + 1, nil
			}
			return line[start:i], i + 1, nil
		case '\\':
			if i+1 >= len(line) || line[i+1] != '\\' && line[i+1] != '|' {
				return "", 0, errorf(i, "unknown escape in header (only \\\\ and \\| are allowed)")
			}
			if !escaped {
				escaped = true
				b.WriteString(line[start:i])
			}
			b.WriteByte(line[i+1])
			i++
		default:
			if escaped {
				b.WriteByte(line[i])
			}
		}
	}
	return "", 0, errorf(len(line), "header field not closed by an unescaped '|'")
}

func validSeverity(s string) bool {
	if n, err := strconv.Atoi(s); err == nil {
		return n >= 0 && n <= cefspec.MaxSeverity && strconv.Itoa(n) == s
	}
	for _, name := range cefspec.SeverityNames {
		if s == name {
			return true
		}
	}
	return false
}

// parseExtension parses s, which starts at byte base of the line (for error
// positions).
func parseExtension(s string, base int) ([]Field, error) {
	var out []Field
	seen := map[string]bool{}
	i := 0
	for i < len(s) {
		k := i
		for k < len(s) && cefspec.IsKeyByte(s[k]) {
			k++
		}
		if k == i || k >= len(s) || s[k] != '=' {
			return nil, errorf(base+i, "expected key= (a key of letters and digits)")
		}
		key := s[i:k]
		if seen[key] {
			return nil, errorf(base+i, "key %q given twice", key)
		}
		seen[key] = true
		value, next, err := extensionValue(s, k+1, base)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", key, err)
		}
		if err := checkValue(key, value); err != nil {
			return nil, errorf(base+k+1, "key %s: %v", key, err)
		}
		out = append(out, Field{Key: key, Value: value})
		i = next
	}
	return out, nil
}

// extensionValue reads a value starting at pos: up to the space before the
// next key=, or the end. It returns the value unescaped and where the next
// key starts.
func extensionValue(s string, pos, base int) (string, int, error) {
	var b strings.Builder
	escaped := false
	start := pos
	for i := pos; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			if i+1 >= len(s) {
				return "", 0, errorf(base+i, "lone backslash at the end")
			}
			var u byte
			switch s[i+1] {
			case '\\':
				u = '\\'
			case '=':
				u = '='
			case 'n':
				u = '\n'
			case 'r':
				u = '\r'
			default:
				return "", 0, errorf(base+i, "unknown escape \\%c in extension value", s[i+1])
			}
			if !escaped {
				escaped = true
				b.WriteString(s[start:i])
			}
			b.WriteByte(u)
			i++
		case '=':
			return "", 0, errorf(base+i, "unescaped '=' in extension value")
		case ' ':
			k := i + 1
			for k < len(s) && cefspec.IsKeyByte(s[k]) {
				k++
			}
			if k > i+1 && k < len(s) && s[k] == '=' {
				if escaped {
					return b.String(), i + 1, nil
				}
				return s[start:i], i + 1, nil
			}
			if escaped {
				b.WriteByte(c)
			}
		default:
			if escaped {
				b.WriteByte(c)
			}
		}
	}
	if escaped {
		return b.String(), len(s), nil
	}
	return s[start:], len(s), nil
}

// timestampLayouts are the spec's textual timestamp forms (besides
// milliseconds since the epoch).
var timestampLayouts = []string{
	"Jan 02 2006 15:04:05",
	"Jan 02 2006 15:04:05.000",
	"Jan 02 2006 15:04:05 MST",
	"Jan 02 2006 15:04:05.000 MST",
}

// checkValue checks a dictionary key's value against its type and limit.
// Custom keys are not checked.
func checkValue(key, v string) error {
	k, ok := cefspec.Lookup(key)
	if !ok {
		return nil
	}
	switch k.Type {
	case cefspec.String:
		if len(v) > k.MaxLen {
			return fmt.Errorf("%d bytes, longer than %d", len(v), k.MaxLen)
		}
	case cefspec.Integer:
		if _, err := strconv.ParseInt(v, 10, 32); err != nil {
			return fmt.Errorf("not an integer: %q", v)
		}
		if (key == "spt" || key == "dpt") && !validPort(v) {
			return fmt.Errorf("not a port: %q", v)
		}
	case cefspec.Long:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return fmt.Errorf("not a long: %q", v)
		}
	case cefspec.IPv4:
		if a, err := netip.ParseAddr(v); err != nil || !a.Is4() {
			return fmt.Errorf("not an IPv4 address: %q", v)
		}
	case cefspec.IPv6:
		if a, err := netip.ParseAddr(v); err != nil || !a.Is6() {
			return fmt.Errorf("not an IPv6 address: %q", v)
		}
	case cefspec.Timestamp:
		if _, err := strconv.ParseInt(v, 10, 64); err == nil {
			return nil
		}
		for _, layout := range timestampLayouts {
			if _, err := time.Parse(layout, v); err == nil {
				return nil
			}
		}
		return fmt.Errorf("not a timestamp: %q", v)
	}
	return nil
}

func validPort(v string) bool {
	n, err := strconv.Atoi(v)
	return err == nil && n >= 0 && n <= 65535
}
