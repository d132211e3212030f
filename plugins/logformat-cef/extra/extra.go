package extra

import (
	"math"
	"strconv"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Time reads ev.Extra[key] as RFC 3339 or as seconds since the epoch.
func Time(ev *event.Event, key string) (time.Time, bool) {
	s, ok := ev.Extra[key]
	if !ok || s == "" {
		return time.Time{}, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < -1<<40 || n > 1<<40 { // out of any sensible range
			return time.Time{}, false
		}
		return time.Unix(n, 0), true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// Seconds reads ev.Extra[key] as a duration and returns it in whole seconds
// (rounded down, never negative).
func Seconds(ev *event.Event, key string) (int64, bool) {
	s, ok := ev.Extra[key]
	if !ok || s == "" {
		return 0, false
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || f >= math.MaxInt64 || math.IsNaN(f) {
			return 0, false
		}
		return int64(f), true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, false
	}
	return int64(d / time.Second), true
}

// Int reads ev.Extra[key] as a decimal integer.
func Int(ev *event.Event, key string) (int64, bool) {
	s, ok := ev.Extra[key]
	if !ok || s == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
