package sdk

import (
	"errors"
	"testing"
)

func TestValidateKey(t *testing.T) {
	for _, c := range []struct {
		key string
		ok  bool
	}{
		{"a", true},
		{"sessions/2024/05/17/s-1.vsl", true},
		{".hidden/x", true},
		{"a..b/c...", true},
		{"Zoë/ünïcode", true},
		{"", false},
		{".", false},
		{"..", false},
		{"a/..", false},
		{"../a", false},
		{"a/../../b", false},
		{"a/./b", false},
		{"a//b", false},
		{"a/", false},
		{"/etc/passwd", false},
		{"a\x00b", false},
		{`a\b`, false},
		{"\xff", false},
	} {
		err := ValidateKey(c.key)
		if c.ok != (err == nil) {
			t.Errorf("ValidateKey(%q) = %v, want ok=%v", c.key, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, not wrapping ErrInvalidKey", c.key, err)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, c := range []struct {
		prefix string
		ok     bool
	}{
		{"", true},
		{"a", true},
		{"a/", true},
		{"a/b", true},
		{"a/b/", true},
		{"/", false},
		{"a//", false},
		{"../", false},
		{"a/../", false},
		{"/a", false},
		{"a\x00", false},
	} {
		if err := ValidatePrefix(c.prefix); c.ok != (err == nil) {
			t.Errorf("ValidatePrefix(%q) = %v, want ok=%v", c.prefix, err, c.ok)
		}
	}
}
