package syslog

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// SDID is the structured-data element every RFC 5424 message carries.
// 32473 is the private enterprise number IANA reserves for documentation
// (RFC 5612); an appliance with a number of its own would use that.
const SDID = "vigil@32473"

// Limits of the RFC 5424 header fields, and of the values Vigil puts in
// its structured data, so a header always fits in a datagram.
const (
	maxHostname = 255
	maxAppName  = 48
	maxProcID   = 128
	maxMsgID    = 32
	maxSDValue  = 128
)

// Severity maps an event level to a syslog severity (RFC 5424 table 2).
// Unknown levels count as informational, as they do in the store.
func Severity(level string) int {
	switch strings.ToUpper(level) {
	case event.LevelDebug:
		return 7
	case event.LevelWarning, "WARN":
		return 4
	case event.LevelError:
		return 3
	case event.LevelCritical:
		return 2
	default:
		return 6
	}
}

// Facilities by name (RFC 5424 table 1, names as syslog.conf spells them).
var Facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
	"news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12,
	"security": 13, "console": 14, "clock": 15,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// Header is what a message says besides the formatted line.
type Header struct {
	RFC      int // 5424 or 3164
	Facility int
	AppName  string
	// Hostname is used for events that carry no Host.
	Hostname string
}

// part says which piece of a split message this is (0 of 0: not split).
type part struct{ n, of int }

// appendHeader appends everything before the MSG part. For RFC 3164 there
// is no structured data: the part of a split message becomes a "[part n/m] "
// prefix of MSG.
func (h *Header) appendHeader(dst []byte, e *event.Event, p part) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(h.Facility*8+Severity(e.Level)), 10)
	dst = append(dst, '>')
	host := e.Host
	if host == "" {
		host = h.Hostname
	}
	if h.RFC == 3164 {
		// RFC 3164's "Mmm dd hh:mm:ss" has no year, zone or fraction.
		// Vigil writes an RFC 3339 timestamp in UTC instead, as rsyslog's
		// own forwarding format does; rsyslog and syslog-ng parse it in a
		// 3164 message, and the time stays unambiguous.
		dst = e.Time.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z07:00")
		dst = append(dst, ' ')
		dst = appendPrintable(dst, host, maxHostname)
		dst = append(dst, ' ')
		dst = appendTag(dst, h.AppName)
		if e.Process != "" {
			dst = append(dst, '[')
			dst = appendTag(dst, e.Process)
			dst = append(dst, ']')
		}
		dst = append(dst, ": "...)
		if p.of > 0 {
			dst = append(dst, "[part "...)
			dst = strconv.AppendInt(dst, int64(p.n), 10)
			dst = append(dst, '/')
			dst = strconv.AppendInt(dst, int64(p.of), 10)
			dst = append(dst, "] "...)
		}
		return dst
	}
	dst = append(dst, "1 "...)
	dst = e.Time.UTC().AppendFormat(dst, "2006-01-02T15:04:05.000000Z07:00")
	dst = append(dst, ' ')
	dst = appendPrintable(dst, host, maxHostname)
	dst = append(dst, ' ')
	dst = appendPrintable(dst, h.AppName, maxAppName)
	dst = append(dst, ' ')
	dst = appendPrintable(dst, e.Process, maxProcID)
	dst = append(dst, ' ')
	dst = appendPrintable(dst, e.MetricName, maxMsgID)
	dst = append(dst, " ["+SDID...)
	dst = appendParam(dst, "seq", strconv.FormatUint(e.Seq, 10))
	dst = appendParam(dst, "metric", e.MetricName)
	dst = appendParam(dst, "component", e.Component)
	if e.SessionID != "" {
		dst = appendParam(dst, "session", e.SessionID)
	}
	if p.of > 0 {
		dst = appendParam(dst, "part", strconv.Itoa(p.n)+"/"+strconv.Itoa(p.of))
	}
	return append(dst, "] "...)
}

// appendPrintable appends s as an RFC 5424 header field: PRINTUSASCII
// (33-126) only, others replaced by '_', cut to max, "-" when empty.
func appendPrintable(dst []byte, s string, max int) []byte {
	if s == "" {
		return append(dst, '-')
	}
	for i := 0; i < len(s) && i < max; i++ {
		c := s[i]
		if c < 33 || c > 126 {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendTag appends s as an RFC 3164 TAG: alphanumerics and ". _ -" only
// (a ':' '[' or space would end the tag early), at most 32 characters.
func appendTag(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '-')
	}
	for i := 0; i < len(s) && i < 32; i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-', c == '/':
		default:
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

// appendParam appends ` name="value"` with the value escaped as RFC 5424
// section 6.3.3 requires ('"', '\' and ']' get a backslash), made valid
// UTF-8, with control characters written as an escaped backslash and xNN
// (so they read \xNN and stay visible instead of breaking a line-oriented
// log), and cut to maxSDValue bytes.
func appendParam(dst []byte, name, value string) []byte {
	dst = append(dst, ' ')
	dst = append(dst, name...)
	dst = append(dst, '=', '"')
	n := 0
	for i, r := range value {
		if n >= maxSDValue {
			break
		}
		switch {
		case r == '"' || r == '\\' || r == ']':
			dst = append(dst, '\\', byte(r))
			n += 2
		case r == utf8.RuneError && isInvalidAt(value, i):
			dst = append(dst, "\uFFFD"...)
			n += 3
		case r < 0x20 || r == 0x7f:
			dst = append(dst, '\\', '\\', 'x', hex[r>>4], hex[r&15])
			n += 5
		default:
			dst = utf8.AppendRune(dst, r)
			n += utf8.RuneLen(r)
		}
	}
	return append(dst, '"')
}

const hex = "0123456789abcdef"

func isInvalidAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size <= 1
}

// escapeLF replaces line feeds in msg for LF framing, where a raw one would
// end the message early.
func escapeLF(msg []byte) []byte {
	if !containsByte(msg, '\n') {
		return msg
	}
	out := make([]byte, 0, len(msg)+8)
	for _, c := range msg {
		if c == '\n' {
			out = append(out, '\\', 'n')
			continue
		}
		out = append(out, c)
	}
	return out
}

func containsByte(b []byte, c byte) bool {
	for _, x := range b {
		if x == c {
			return true
		}
	}
	return false
}

// AppendMessage appends the complete syslog message for e with msg (the
// formatted line) as its MSG part.
func (h *Header) AppendMessage(dst []byte, e *event.Event, msg []byte) []byte {
	dst = h.appendHeader(dst, e, part{})
	return append(dst, msg...)
}

// truncMarker ends a message cut to fit a datagram.
func truncMarker(total int) string {
	return " [vigil: truncated, message was " + strconv.Itoa(total) + " bytes]"
}

// datagrams returns the message for e as datagrams of at most maxSize
// bytes: one when it fits, else cut with a visible marker (split false) or
// split into numbered parts (split true). ok is false when maxSize cannot
// hold even the header.
func (h *Header) datagrams(e *event.Event, msg []byte, maxSize int, split bool) (out [][]byte, ok bool) {
	whole := h.AppendMessage(nil, e, msg)
	if len(whole) <= maxSize {
		return [][]byte{whole}, true
	}
	if !split {
		hdr := h.appendHeader(nil, e, part{})
		marker := truncMarker(len(msg))
		keep := maxSize - len(hdr) - len(marker)
		if keep < 0 {
			return nil, false
		}
		keep = runeStart(msg, keep)
		d := append(hdr, msg[:keep]...)
		return [][]byte{append(d, marker...)}, true
	}
	// The header grows with the part numbers; size the pieces for the
	// widest header and recount until the count is stable.
	of := 2
	for {
		room := maxSize - len(h.appendHeader(nil, e, part{of, of}))
		if room < 16 {
			return nil, false
		}
		pieces := splitRunes(msg, room)
		if len(pieces) <= of {
			of = len(pieces)
			out = make([][]byte, of)
			for i, p := range pieces {
				d := h.appendHeader(nil, e, part{i + 1, of})
				out[i] = append(d, p...)
			}
			return out, true
		}
		of = len(pieces)
	}
}

// runeStart returns the largest n <= limit that does not cut a UTF-8
// sequence of b in two.
func runeStart(b []byte, limit int) int {
	if limit >= len(b) {
		return len(b)
	}
	n := limit
	for n > 0 && n > limit-utf8.UTFMax && !utf8.RuneStart(b[n]) {
		n--
	}
	if !utf8.RuneStart(b[n]) {
		return limit
	}
	return n
}

// splitRunes cuts b into pieces of at most size bytes, not inside a rune.
func splitRunes(b []byte, size int) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		n := runeStart(b, size)
		if n == 0 {
			n = min(size, len(b))
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}
