package loginname

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Name
		err  error
	}{
		{in: "alice", want: Name{User: "alice"}},
		{in: "alice:web01", want: Name{User: "alice", Target: "web01"}},
		{in: "alice:", want: Name{User: "alice"}},
		{in: "dom:alice:web01", want: Name{User: "dom:alice", Target: "web01"}},
		{in: "alice::web01", want: Name{User: "alice:", Target: "web01"}},
		{in: "alice@corp.example:db-01.prod", want: Name{User: "alice@corp.example", Target: "db-01.prod"}},
		{in: "al|ice=1:web|01", want: Name{User: "al|ice=1", Target: "web|01"}},
		{in: "../../etc/passwd:../x", want: Name{User: "../../etc/passwd", Target: "../x"}},
		{in: "josé:café", want: Name{User: "josé", Target: "café"}},
		{in: "a b:c d", want: Name{User: "a b", Target: "c d"}},
		{in: "", err: ErrInvalid},
		{in: ":web01", err: ErrInvalid},
		{in: ":", err: ErrInvalid},
		{in: "alice\n:web01", err: ErrInvalid},
		{in: "alice:web01\r\nfake log line", err: ErrInvalid},
		{in: "ali\x00ce", err: ErrInvalid},
		{in: "alice\x1b[31m", err: ErrInvalid},
		{in: "alice\u2028:web01", err: ErrInvalid},
		{in: "alice\u0085", err: ErrInvalid},
		{in: "alice\xff:web01", err: ErrInvalid},
		{in: strings.Repeat("a", MaxLen+1), err: ErrInvalid},
		{in: strings.Repeat("a", MaxLen-3) + ":w1", want: Name{User: strings.Repeat("a", MaxLen-3), Target: "w1"}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestParseVNCNames: the names the VNC gateway's tests gave it.
func TestParseVNCNames(t *testing.T) {
	for _, c := range []struct {
		in         string
		user, tgt  string
		wantErrStr bool
	}{
		{"alice", "alice", "", false}, {"alice:desk", "alice", "desk", false}, {"a:b:desk", "a:b", "desk", false},
		{"alice:", "alice", "", false}, {":desk", "", "", true}, {"", "", "", true},
		{"al\x00ice", "", "", true}, {"alice\u2028", "", "", true}, {strings.Repeat("a", 513), "", "", true}, {"\xff", "", "", true},
	} {
		ln, err := Parse(c.in)
		if (err != nil) != c.wantErrStr || ln.User != c.user || ln.Target != c.tgt {
			t.Errorf("Parse(%q) = %+v, %v", c.in, ln, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"alice", "alice:web01", "a:b:c", ":", "x\n:y", "é:ü", "a:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ln, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if ln.User == "" {
			t.Fatalf("%q: empty user accepted", s)
		}
		if strings.Contains(ln.Target, ":") {
			t.Fatalf("%q: target %q contains ':'", s, ln.Target)
		}
		rebuilt := ln.User
		if strings.Contains(s, ":") {
			rebuilt += ":" + ln.Target
		}
		if rebuilt != s {
			t.Fatalf("%q: parts %+v do not rebuild the name", s, ln)
		}
		if !utf8.ValidString(s) || len(s) > MaxLen {
			t.Fatalf("%q accepted", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("%q: control character %U accepted", s, r)
			}
		}
	})
}
