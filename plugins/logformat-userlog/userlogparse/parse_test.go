package userlogparse

import (
	"errors"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Line
	}{
		{"request with user agent",
			`"10.35.46.157:443" ("10.35.2.9:80") User "alice@kempqaesp.net" requested "GET" "https://10.35.46.157/" "Mozilla/5.0"`,
			Line{Shape: Request, VS: "10.35.46.157:443", RS: "10.35.2.9:80", User: "alice@kempqaesp.net",
				Verb: "requested", Method: "GET", URI: "https://10.35.46.157/", UserAgent: "Mozilla/5.0"}},
		{"attempt with empty values",
			`"" ("") User "" attempted "" "" ""`,
			Line{Shape: Request, Verb: "attempted"}},
		{"logged off", `"10.0.0.1:22": User "bob" logged off`,
			Line{Shape: LoggedOff, VS: "10.0.0.1:22", User: "bob"}},
		{"message", `"10.0.0.1:22": User "bob" "requires password reset" from "192.0.2.1"`,
			Line{Shape: Message, VS: "10.0.0.1:22", User: "bob", Message: "requires password reset", From: "192.0.2.1"}},
		{"escapes", `"a\"b": User "c\\d\n" "e\rf	g" from "日本"`,
			Line{Shape: Message, VS: `a"b`, User: "c\\d\n", Message: "e\rf\tg", From: "日本"}},
		{"detail after a request",
			`"v" ("r") User "u" requested "GET" "/" "" detail="m \"x\""`,
			Line{Shape: Request, VS: "v", RS: "r", User: "u", Verb: "requested", Method: "GET", URI: "/", Detail: `m "x"`}},
		{"detail after logged off", `"v": User "u" logged off detail="bye"`,
			Line{Shape: LoggedOff, VS: "v", User: "u", Detail: "bye"}},
		{"detail after a message", `"v": User "u" "logged on" from "h" detail="hi"`,
			Line{Shape: Message, VS: "v", User: "u", Message: "logged on", From: "h", Detail: "hi"}},
		{"user named logged off is a message line",
			`"v": User "bob" "logged off" from "h"`,
			Line{Shape: Message, VS: "v", User: "bob", Message: "logged off", From: "h"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.line)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got != tt.want {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct{ name, line, want string }{
		{"empty", ``, `want "\""`},
		{"unquoted vs", `10.0.0.1:22: User "bob" logged off`, `want "\""`},
		{"unterminated", `"10.0.0.1:22: User "bob" logged off`, "want ' (\"' or"},
		{"unterminated at end", `"abc`, "unterminated"},
		{"forged quote", `"v": User "bob" logged off" from "x"`, "trailing text"},
		{"trailing space", `"v": User "bob" logged off `, "trailing text"},
		{"double space", `"v": User  "bob" logged off`, "want ' (\"' or"},
		{"unknown verb", `"v" ("r") User "u" fetched "GET" "/" ""`, "requested or attempted"},
		{"missing user agent", `"v" ("r") User "u" requested "GET" "/"`, `want " "`},
		{"missing from", `"v": User "u" "logged on"`, `want " from "`},
		{"from not quoted", `"v": User "u" "logged on" from h`, `want "\""`},
		{"unknown escape", `"v": User "u\t" logged off`, `unknown escape \t`},
		{"empty detail", `"v": User "u" logged off detail=""`, "empty detail"},
		{"unquoted detail", `"v": User "u" logged off detail=x`, `want "\""`},
		{"two details", `"v": User "u" logged off detail="a" detail="b"`, "trailing text"},
		{"other key", `"v": User "u" logged off msg="a"`, "trailing text"},
		{"lone backslash", `"v\`, "lone backslash"},
		{"raw newline", "\"v\": User \"u\nx\" logged off", "raw line break"},
		{"raw CR", "\"v\r\": User \"u\" logged off", "raw line break"},
		{"NUL", "\"v\": User \"u\x00\" logged off", "control character"},
		{"NEL", "\"v\": User \"u\u0085\" logged off", "control character"},
		{"invalid UTF-8", "\"v\": User \"u\xff\" logged off", "invalid UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Parse(tt.line)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.line, l)
			}
			if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "userlogparse: ") {
				t.Errorf("error %v: want a userlogparse error wrapping ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`"v" ("r") User "u" requested "GET" "/" "ua"`,
		`"v": User "u" logged off`,
		`"v": User "u" "m" from "h"`,
		`"v\"": User "u\\" logged off`,
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		l, err := Parse(line)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("accepted a raw line break: %q", line)
		}
		if l.Shape < Request || l.Shape > Message {
			t.Fatalf("shape %d", l.Shape)
		}
	})
}
