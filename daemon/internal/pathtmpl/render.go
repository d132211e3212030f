package pathtmpl

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Bounds on what Render produces.
const (
	// MaxValueBytes bounds one substituted value.
	MaxValueBytes = 128
	// MaxSegmentBytes bounds one path segment (NAME_MAX on Linux).
	MaxSegmentBytes = 255
	// MaxKeyBytes bounds the whole key (the S3 limit).
	MaxKeyBytes = 1024
)

// Render fills in the variables and returns the object key: relative to the
// bucket for s3, to Root for file. Every value is passed through Sanitize, so
// the key never starts with "/", never contains "..", and a value never adds
// a path segment. A variable the template uses but vars lacks is
// ErrMissingVariable; a key or segment over its bound is ErrKeyTooLong.
func (t *Template) Render(vars map[string]string) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.name == "" {
			b.WriteString(p.lit)
			continue
		}
		v, ok := vars[p.name]
		if !ok {
			return "", fmt.Errorf("pathtmpl: %w {%s}", ErrMissingVariable, p.name)
		}
		b.WriteString(Sanitize(v))
	}
	key := b.String()
	if len(key) > MaxKeyBytes {
		return "", fmt.Errorf("pathtmpl: %w: %d bytes, at most %d", ErrKeyTooLong, len(key), MaxKeyBytes)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if len(seg) > MaxSegmentBytes {
			return "", fmt.Errorf("pathtmpl: %w: segment of %d bytes, at most %d", ErrKeyTooLong, len(seg), MaxSegmentBytes)
		}
	}
	return key, nil
}

// Sanitize makes a value safe to place inside one path segment. Letters,
// digits (any script), '-', '_', '.' and '@' are kept; every other rune,
// invalid UTF-8 byte included, becomes '_'. A dot at either end or next to
// another dot becomes '_', so the value neither hides a file nor climbs.
// The value is cut to MaxValueBytes on a rune boundary; an empty value
// becomes "_".
func Sanitize(v string) string {
	out := make([]byte, 0, min(len(v), MaxValueBytes))
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRuneInString(v[i:])
		i += size
		if r == utf8.RuneError && size <= 1 || !safeRune(r) {
			r = '_'
		}
		if len(out)+utf8.RuneLen(r) > MaxValueBytes {
			break
		}
		out = utf8.AppendRune(out, r)
	}
	if len(out) == 0 {
		return "_"
	}
	fixed := make([]byte, len(out))
	copy(fixed, out)
	for i, c := range out {
		if c == '.' && (i == 0 || i == len(out)-1 || out[i-1] == '.' || out[i+1] == '.') {
			fixed[i] = '_'
		}
	}
	return string(fixed)
}

func safeRune(r rune) bool {
	switch r {
	case '-', '_', '.', '@':
		return true
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// Values are the facts about one uploaded object that templates may use.
type Values struct {
	SessionID          string
	UserID             string
	Username           string
	TargetID           string
	TargetFriendlyName string
	Created            time.Time // the session was admitted
	Started            time.Time // the relay to the target started
	Segment            int       // segment number of the capture, from 1
	Ext                string    // file extension without the dot: vsl, mp4, cast, jpg
}

// Map formats the values as Render expects them, in the formats Kasm
// documents: timestamps "2006-01-02 15:04:05.000000" and dates "2006-01-02"
// in UTC, current_epoch in milliseconds of now. Segments are zero-padded to
// four digits so listings sort in recording order. (Render turns the spaces
// and colons of timestamps into '_'.)
func (v Values) Map(now time.Time) map[string]string {
	const stamp, date = "2006-01-02 15:04:05.000000", "2006-01-02"
	return map[string]string{
		"session_id":           v.SessionID,
		"user_id":              v.UserID,
		"username":             v.Username,
		"target_id":            v.TargetID,
		"target_friendly_name": v.TargetFriendlyName,
		"created_timestamp":    v.Created.UTC().Format(stamp),
		"created_date":         v.Created.UTC().Format(date),
		"start_timestamp":      v.Started.UTC().Format(stamp),
		"start_date":           v.Started.UTC().Format(date),
		"current_epoch":        strconv.FormatInt(now.UnixMilli(), 10),
		"segment":              fmt.Sprintf("%04d", v.Segment),
		"ext":                  v.Ext,
	}
}
