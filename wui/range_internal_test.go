package wui

import "testing"

func TestParseRange(t *testing.T) {
	tests := []struct {
		h                    string
		size                 int64
		start, length        int64
		partial, satisfiable bool
	}{
		{"", 100, 0, 100, false, true},
		{"bytes=0-0", 100, 0, 1, true, true},
		{"bytes=10-19", 100, 10, 10, true, true},
		{"bytes=90-", 100, 90, 10, true, true},
		{"bytes=-10", 100, 90, 10, true, true},
		{"bytes=-1000", 100, 0, 100, true, true},
		{"bytes=99-200", 100, 99, 1, true, true},
		{"bytes=100-", 100, 0, 0, false, false},
		{"bytes=0-", 0, 0, 0, false, false},
		{"bytes=-0", 100, 0, 0, false, false},
		{"bytes=20-10", 100, 0, 100, false, true},
		{"bytes=a-b", 100, 0, 100, false, true},
		{"bytes=0-1,5-6", 100, 0, 100, false, true},
		{"lines=0-1", 100, 0, 100, false, true},
		{"bytes=-", 100, 0, 100, false, true},
	}
	for _, tt := range tests {
		start, length, partial, ok := parseRange(tt.h, tt.size)
		if start != tt.start || length != tt.length || partial != tt.partial || ok != tt.satisfiable {
			t.Errorf("parseRange(%q, %d) = %d %d %v %v, want %d %d %v %v", tt.h, tt.size, start, length, partial, ok,
				tt.start, tt.length, tt.partial, tt.satisfiable)
		}
	}
}

func TestNiceStep(t *testing.T) {
	tests := []struct {
		v     float64
		bytes bool
		want  float64
	}{
		{0, false, 1}, {0.3, false, 1}, {1.1, false, 2}, {4.6, false, 5}, {6, false, 10}, {12, false, 20}, {260, false, 500},
		{1 << 30, true, 1 << 30}, {30 << 30, true, 32 << 30}, {100, true, 1 << 20},
	}
	for _, tt := range tests {
		if got := niceStep(tt.v, tt.bytes); got != tt.want {
			t.Errorf("niceStep(%v, %v) = %v, want %v", tt.v, tt.bytes, got, tt.want)
		}
	}
}

func TestSnippetMarks(t *testing.T) {
	tests := []struct{ in, want string }{
		{"run \x02systemctl\x03 now", "run <mark>systemctl</mark> now"},
		{"<b>\x02x\x03</b>", "&lt;b&gt;<mark>x</mark>&lt;/b&gt;"},
		{"half \x02open", "half open"},
	}
	for _, tt := range tests {
		if got := string(snippet(tt.in)); got != tt.want {
			t.Errorf("snippet(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
