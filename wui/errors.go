package wui

import (
	"errors"
	"sort"
	"strings"
)

// Errors the backend returns (wrapped) and the WUI branches on.
var (
	ErrNotFound        = errors.New("wui: not found")
	ErrInvalid         = errors.New("wui: invalid input")
	ErrAccountDisabled = errors.New("wui: account disabled or locked")
)

// FieldErrors reports invalid form input: field (or setting key) to a
// message shown next to it. It matches ErrInvalid with errors.Is.
type FieldErrors map[string]string

func (e FieldErrors) Error() string {
	keys := make([]string, 0, len(e))
	for k := range e {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e[k]
	}
	return "wui: invalid input: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, ErrInvalid) true for a FieldErrors.
func (e FieldErrors) Is(target error) bool { return target == ErrInvalid }
