package sshproxy

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestParseLoginName(t *testing.T) {
	tests := []struct {
		in   string
		want LoginName
		err  error
	}{
		{in: "alice", want: LoginName{User: "alice"}},
		{in: "alice:web01", want: LoginName{User: "alice", Target: "web01"}},
		{in: "alice:", want: LoginName{User: "alice"}},
		{in: "dom:alice:web01", want: LoginName{User: "dom:alice", Target: "web01"}},
		{in: "alice::web01", want: LoginName{User: "alice:", Target: "web01"}},
		{in: "alice@corp.example:db-01.prod", want: LoginName{User: "alice@corp.example", Target: "db-01.prod"}},
		{in: "al|ice=1:web|01", want: LoginName{User: "al|ice=1", Target: "web|01"}},
		{in: "../../etc/passwd:../x", want: LoginName{User: "../../etc/passwd", Target: "../x"}},
		{in: "josé:café", want: LoginName{User: "josé", Target: "café"}},
		{in: "a b:c d", want: LoginName{User: "a b", Target: "c d"}},
		{in: "", err: ErrInvalidLoginName},
		{in: ":web01", err: ErrInvalidLoginName},
		{in: ":", err: ErrInvalidLoginName},
		{in: "alice\n:web01", err: ErrInvalidLoginName},
		{in: "alice:web01\r\nfake log line", err: ErrInvalidLoginName},
		{in: "ali\x00ce", err: ErrInvalidLoginName},
		{in: "alice\x1b[31m", err: ErrInvalidLoginName},
		{in: "alice\u2028:web01", err: ErrInvalidLoginName},
		{in: "alice\u0085", err: ErrInvalidLoginName},
		{in: "alice\xff:web01", err: ErrInvalidLoginName},
		{in: strings.Repeat("a", maxLoginName+1), err: ErrInvalidLoginName},
		{in: strings.Repeat("a", maxLoginName-3) + ":w1", want: LoginName{User: strings.Repeat("a", maxLoginName-3), Target: "w1"}},
	}
	for _, tt := range tests {
		got, err := ParseLoginName(tt.in)
		if !errors.Is(err, tt.err) || got != tt.want {
			t.Errorf("ParseLoginName(%q) = %+v, %v; want %+v, %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func FuzzParseLoginName(f *testing.F) {
	for _, s := range []string{"alice", "alice:web01", "a:b:c", ":", "x\n:y", "é:ü", "a:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ln, err := ParseLoginName(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidLoginName) {
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
		if !utf8.ValidString(s) || len(s) > maxLoginName {
			t.Fatalf("%q accepted", s)
		}
		for _, r := range s {
			if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("%q: control character %U accepted", s, r)
			}
		}
	})
}
