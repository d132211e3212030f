package sdk

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// ValidateKey checks key against the rule every storage backend enforces: a
// non-empty, valid UTF-8, slash-separated relative path whose segments are
// neither empty, "." nor "..", with no NUL and no backslash. The error wraps
// ErrInvalidKey and says what is wrong; it names no component, so callers
// prefix their own.
func ValidateKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("empty key: %w", ErrInvalidKey)
	case !utf8.ValidString(key):
		return fmt.Errorf("key %q is not valid UTF-8: %w", key, ErrInvalidKey)
	case strings.HasPrefix(key, "/"):
		return fmt.Errorf("key %q is absolute: %w", key, ErrInvalidKey)
	case strings.ContainsRune(key, 0):
		return fmt.Errorf("key %q contains NUL: %w", key, ErrInvalidKey)
	case strings.ContainsRune(key, '\\'):
		return fmt.Errorf("key %q contains a backslash: %w", key, ErrInvalidKey)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "":
			return fmt.Errorf("key %q has an empty segment: %w", key, ErrInvalidKey)
		case ".", "..":
			return fmt.Errorf("key %q has a %q segment: %w", key, seg, ErrInvalidKey)
		}
	}
	return nil
}

// ValidatePrefix checks a List prefix: "" (everything), or a valid key,
// optionally followed by one "/". The last segment may be a partial name
// ("sessions/2024" lists "sessions/20240101/..." and "sessions/2024.txt").
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if err := ValidateKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return fmt.Errorf("prefix: %w", err)
	}
	return nil
}
