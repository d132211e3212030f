package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Masked stands in for a secret value that is set.
const Masked = "********"

// Entry is one effective value, as `vigilctl config show` prints it.
type Entry struct {
	Key    string // dotted: recording.queue_length, log.sink[0].name, plugins.storage-s3.bucket
	Value  string // a TOML literal: "500MB", 6, true, ["LANG", "TERM"]; Masked for set secrets
	Origin Origin
}

// Show lists every effective value of cfg in schema order, with where it
// came from. Secrets (storage_key, storage_secret, and in plugin tables any
// key, secret, token or password value) are Masked when set; paths such as
// tls_key are not secrets and are shown.
func Show(cfg *Config) []Entry {
	var out []Entry
	walk(cfg, func(key string, f fieldInfo, v any) {
		value := literal(v)
		if f.secret && !isEmpty(v) {
			value = Masked
		}
		origin, ok := cfg.origins[key]
		if !ok {
			origin = OriginDefault
		}
		out = append(out, Entry{Key: key, Value: value, Origin: origin})
	})
	return out
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case string:
		return x == ""
	case nil:
		return true
	}
	return false
}

// literal writes a value the way it could be written in the file.
func literal(v any) string {
	switch x := v.(type) {
	case string:
		return quote(x)
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		switch {
		case math.IsNaN(x):
			return "nan"
		case math.IsInf(x, 1):
			return "inf"
		case math.IsInf(x, -1):
			return "-inf"
		}
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eEn") {
			s += ".0"
		}
		return s
	case time.Duration:
		return quote(FormatDuration(x))
	case ByteSize:
		return quote(x.String())
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case []string:
		items := make([]string, len(x))
		for i, s := range x {
			items[i] = quote(s)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case []any:
		items := make([]string, len(x))
		for i, e := range x {
			items[i] = literal(e)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case []map[string]any:
		items := make([]string, len(x))
		for i, e := range x {
			items[i] = literal(e)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case map[string]any:
		items := make([]string, 0, len(x))
		for _, k := range sortedKeys(x) {
			items = append(items, quoteKey(k)+" = "+literal(x[k]))
		}
		return "{" + strings.Join(items, ", ") + "}"
	}
	return quote(fmt.Sprint(v))
}

// quote writes a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func quoteKey(k string) string {
	if k != "" && strings.IndexFunc(k, func(r rune) bool { return r > 0x7f || !bareKeyByte(byte(r)) }) < 0 {
		return k
	}
	return quote(k)
}
