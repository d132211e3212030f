package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		err  string
	}{
		{"0", 0, ""},
		{"1024", 1024, ""},
		{"500MB", 500_000_000, ""},
		{"500 mb", 500_000_000, ""},
		{"150MiB", 150 << 20, ""},
		{"1MiB", 1 << 20, ""},
		{"1.5GB", 1_500_000_000, ""},
		{"2TiB", 2 << 40, ""},
		{"10B", 10, ""},
		{"5M", 0, `unknown unit "M"`},
		{"5XB", 0, `unknown unit "XB"`},
		{"MB", 0, "want a number"},
		{"", 0, "want a number"},
		{"-3MB", 0, "must be >= 0, got -3MB"},
		{"9999999TiB", 0, "too large"},
		{"99999999999999999999", 0, "too large"},
		{"1.2.3MB", 0, "bad number"},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "config: ")):
			t.Errorf("ParseSize(%q) error = %v; want it to contain %q", tt.in, err, tt.err)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	tests := []struct {
		in   ByteSize
		want string
	}{
		{0, "0"},
		{500 * MB, "500MB"},
		{150 * MB, "150MB"},
		{150 * MiB, "150MiB"},
		{MiB, "1MiB"},
		{256 * MB, "256MB"},
		{1000, "1KB"},
		{1024, "1KiB"},
		{1500, "1500B"},
		{2 * TB, "2TB"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", tt.in, got, tt.want)
		}
		back, err := ParseSize(tt.in.String())
		if err != nil || back != tt.in {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in.String(), back, err, tt.in)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"0", 0, false},
		{"30s", 30 * time.Second, false},
		{"1h30m", 90 * time.Minute, false},
		{"7d", 7 * 24 * time.Hour, false},
		{"1d12h", 36 * time.Hour, false},
		{"-5s", -5 * time.Second, false},
		{"-1d", -24 * time.Hour, false},
		{"1.5d", 0, true},
		{"d", 0, true},
		{"7days", 0, true},
		{"1d-5h", 0, true},
		{"", 0, true},
		{"10", 0, true},
		{"99999999999d", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0"},
		{30 * time.Second, "30s"},
		{15 * time.Minute, "15m"},
		{8 * time.Hour, "8h"},
		{90 * time.Minute, "1h30m"},
		{7 * 24 * time.Hour, "7d"},
		{36 * time.Hour, "36h"},
		{24 * time.Hour, "24h"},
		{48 * time.Hour, "2d"},
		{1500 * time.Millisecond, "1.5s"},
	}
	for _, tt := range tests {
		got := FormatDuration(tt.in)
		if got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
		if back, err := ParseDuration(got); err != nil || back != tt.in {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", got, back, err, tt.in)
		}
	}
}
