package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ByteSize is a number of bytes. In the file it is an integer of bytes or a
// string with a unit: "500MB" (10^6) or "150MiB" (2^20).
type ByteSize int64

// Size units: decimal (KB = 1000) and binary (KiB = 1024).
const (
	KB  ByteSize = 1000
	MB           = 1000 * KB
	GB           = 1000 * MB
	TB           = 1000 * GB
	KiB ByteSize = 1024
	MiB          = 1024 * KiB
	GiB          = 1024 * MiB
	TiB          = 1024 * GiB
)

var sizeUnits = []struct {
	name string
	size ByteSize
}{
	{"TiB", TiB}, {"TB", TB}, {"GiB", GiB}, {"GB", GB}, {"MiB", MiB}, {"MB", MB}, {"KiB", KiB}, {"KB", KB}, {"B", 1},
}

// ParseSize reads "500MB", "150 MiB", "1.5GB" or "1024" (bytes). Units are
// case-insensitive; single letters ("M") are refused because they mean 10^6
// to some tools and 2^20 to others.
func ParseSize(s string) (ByteSize, error) {
	n, err := parseSize(s)
	if err != nil {
		return 0, fmt.Errorf("config: %w", err)
	}
	return n, nil
}

func parseSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("must be >= 0, got %s", t)
	}
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if i < 0 {
		i = len(t)
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	if num == "" {
		return 0, fmt.Errorf("bad size %q: want a number of bytes or a number with a unit like \"500MB\" or \"150MiB\"", s)
	}
	mult := ByteSize(0)
	for _, u := range sizeUnits {
		if strings.EqualFold(unit, u.name) {
			mult = u.size
		}
	}
	if unit == "" {
		mult = 1
	}
	if mult == 0 {
		return 0, fmt.Errorf("bad size %q: unknown unit %q (want B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)", s, unit)
	}
	if !strings.Contains(num, ".") {
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil || v > math.MaxInt64/int64(mult) {
			return 0, fmt.Errorf("bad size %q: too large", s)
		}
		return ByteSize(v) * mult, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q: bad number %q", s, num)
	}
	v := math.Round(f * float64(mult))
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("bad size %q: too large", s)
	}
	return ByteSize(v), nil
}

// String writes the size with the unit that gives the smallest whole
// number: 500MB, 150MiB, 1MiB; sizes no unit divides are written in bytes.
func (b ByteSize) String() string {
	if b == 0 {
		return "0"
	}
	best, bestN := strconv.FormatInt(int64(b), 10)+"B", int64(b)
	if b < 0 {
		return best
	}
	for _, u := range sizeUnits {
		if b%u.size == 0 && int64(b/u.size) < bestN {
			best, bestN = strconv.FormatInt(int64(b/u.size), 10)+u.name, int64(b/u.size)
		}
	}
	return best
}

// ParseDuration reads Go durations ("30s", "1h30m", "0") plus a leading
// count of days: "7d", "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	d, err := parseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("config: %w", err)
	}
	return d, nil
}

var errDuration = errors.New(`want a duration like "30s", "15m", "8h" or "7d"`)

func parseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	neg := strings.HasPrefix(t, "-")
	if neg {
		t = t[1:]
	} else {
		t = strings.TrimPrefix(t, "+")
	}
	days, rest, hasDays := strings.Cut(t, "d")
	if !hasDays {
		days, rest = "", t
	}
	var d time.Duration
	if hasDays {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad duration %q: days must be a whole number: %w", s, errDuration)
		}
		if n > int64(math.MaxInt64/(24*time.Hour)) {
			return 0, fmt.Errorf("bad duration %q: too long", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	}
	if rest != "" || !hasDays {
		r, err := time.ParseDuration(rest)
		if err != nil || r < 0 || strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
			return 0, fmt.Errorf("bad duration %q: %w", s, errDuration)
		}
		if d > math.MaxInt64-r {
			return 0, fmt.Errorf("bad duration %q: too long", s)
		}
		d += r
	}
	if neg {
		d = -d
	}
	return d, nil
}

// FormatDuration writes d the way the file does: "7d", "24h", "8h", "15m",
// "1h30m", "1.5s", "0". Whole days from two on are written in days.
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d == 0 {
		return "0"
	}
	if d >= 2*day && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
