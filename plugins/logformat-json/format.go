package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// timeLayout is RFC 3339 with milliseconds, always in UTC ("Z").
const timeLayout = "2006-01-02T15:04:05.000Z07:00"

// schemaKeys are the JSON keys of event.Event. An extra field may not take
// one of them: it is written as "extra_<key>" instead. ("extra" itself is
// never written: extras are flattened.)
var schemaKeys = map[string]bool{
	"seq": true, "time": true, "metric_name": true, "levelname": true, "message": true, "component": true,
	"process": true, "host": true, "server_id": true, "request_ip": true, "request_port": true,
	"user_agent": true, "user_id": true, "user_name": true, "domain": true, "target_id": true,
	"target_name": true, "target_friendly_name": true, "vs": true, "rs": true, "protocol": true,
	"session_id": true, "result": true, "reason": true, "extra": true,
}

// formatter is the plugin. It has no settings and no state, so it formats
// any number of batches concurrently.
type formatter struct{}

var _ sdk.LogFormatter = formatter{}

func newFormatter() formatter { return formatter{} }

func (formatter) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Kind: sdk.KindLogFormat, Name: "json", Version: sdk.BuildVersion, APIVersions: sdk.APIVersions(sdk.KindLogFormat)}, nil
}

// Configure accepts an empty table: the format has no settings.
func (formatter) Configure(_ context.Context, configJSON []byte) error {
	trimmed := bytes.TrimSpace(configJSON)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return nil
	}
	var table map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &table); err != nil {
		return fmt.Errorf("logformat-json: config: %v: %w", err, sdk.ErrInvalidConfig)
	}
	if len(table) > 0 {
		return fmt.Errorf("logformat-json: config: the format has no settings, got %q: %w",
			slices.Sorted(maps.Keys(table)), sdk.ErrInvalidConfig)
	}
	return nil
}

// chunkSize is the size of the buffers lines are written into: many lines
// share one allocation, and a full chunk is left as it is (its lines point
// into it) for a new one rather than grown and copied.
const chunkSize = 64 << 10

// Format writes one line per event.
func (formatter) Format(_ context.Context, events []event.Event) ([][]byte, error) {
	lines := make([][]byte, len(events))
	var buf []byte
	for i := range events {
		if need := sizeHint(&events[i]); cap(buf)-len(buf) < need {
			buf = make([]byte, 0, max(chunkSize, need))
		}
		start := len(buf)
		buf = appendEvent(buf, &events[i])
		// A full slice expression: appending to one line can never
		// overwrite the next.
		lines[i] = buf[start:len(buf):len(buf)]
	}
	return lines, nil
}

// sizeHint is about the length of e's line when little needs escaping.
func sizeHint(e *event.Event) int {
	n := 320 + len(e.MetricName) + len(e.Level) + len(e.Message) + len(e.Component) + len(e.Process) +
		len(e.Host) + len(e.ServerID) + len(e.RequestIP) + len(e.RequestPort) + len(e.UserAgent) +
		len(e.UserID) + len(e.UserName) + len(e.Domain) + len(e.TargetID) + len(e.TargetName) +
		len(e.TargetFriendlyName) + len(e.VS) + len(e.RS) + len(e.Protocol) + len(e.SessionID) +
		len(e.Result) + len(e.Reason)
	for k, v := range e.Extra {
		n += 6 + len(k) + len(v)
	}
	return n
}

// appendEvent appends e as one JSON object: the schema's keys in the
// schema's order (optional ones only when set), then the extras sorted by
// key.
func appendEvent(b []byte, e *event.Event) []byte {
	b = append(b, '{')
	if e.Seq != 0 {
		b = append(b, `"seq":`...)
		b = strconv.AppendUint(b, e.Seq, 10)
		b = append(b, ',')
	}
	b = append(b, `"time":"`...)
	b = e.Time.UTC().AppendFormat(b, timeLayout)
	b = append(b, '"')
	b = appendField(b, "metric_name", e.MetricName, false)
	b = appendField(b, "levelname", e.Level, false)
	b = appendField(b, "message", e.Message, false)
	b = appendField(b, "component", e.Component, false)
	b = appendField(b, "process", e.Process, true)
	b = appendField(b, "host", e.Host, true)
	b = appendField(b, "server_id", e.ServerID, true)
	b = appendField(b, "request_ip", e.RequestIP, true)
	b = appendField(b, "request_port", e.RequestPort, true)
	b = appendField(b, "user_agent", e.UserAgent, true)
	b = appendField(b, "user_id", e.UserID, true)
	b = appendField(b, "user_name", e.UserName, true)
	b = appendField(b, "domain", e.Domain, true)
	b = appendField(b, "target_id", e.TargetID, true)
	b = appendField(b, "target_name", e.TargetName, true)
	b = appendField(b, "target_friendly_name", e.TargetFriendlyName, true)
	b = appendField(b, "vs", e.VS, true)
	b = appendField(b, "rs", e.RS, true)
	b = appendField(b, "protocol", e.Protocol, true)
	b = appendField(b, "session_id", e.SessionID, true)
	b = appendField(b, "result", e.Result, true)
	b = appendField(b, "reason", e.Reason, true)
	if len(e.Extra) > 0 {
		b = appendExtras(b, e.Extra)
	}
	return append(b, '}')
}

func appendField(b []byte, key, value string, omitEmpty bool) []byte {
	if omitEmpty && value == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, value)
}

// appendExtras flattens the extras into the object. An extra whose key the
// schema owns is renamed "extra_<key>", with more "extra_" in front while
// that name is taken too (by another extra, or a renamed one before it);
// extras that collide with nothing keep their names. Sorting makes the
// outcome the same every time.
func appendExtras(b []byte, extra map[string]string) []byte {
	keys := slices.Sorted(maps.Keys(extra))
	var used map[string]bool // names written so far; nil while no key collides
	for _, k := range keys {
		if schemaKeys[k] && used == nil {
			used = make(map[string]bool, len(keys))
		}
	}
	for _, k := range keys {
		name := k
		if used != nil {
			for schemaKeys[name] || used[name] || (name != k && hasKey(extra, name)) {
				name = "extra_" + name
			}
			used[name] = true
		}
		b = append(b, ',')
		b = appendString(b, name)
		b = append(b, ':')
		b = appendString(b, extra[k])
	}
	return b
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
}

const hex = "0123456789abcdef"

// appendString appends s as a JSON string that decodes to s with each byte
// of invalid UTF-8 replaced by U+FFFD (as encoding/json does). Every
// control character is escaped, and so are U+2028 and U+2029, so the string
// can hold no line break of any kind.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
