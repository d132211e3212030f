package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors: every Issue wraps one, so callers can branch with
// errors.Is on the error Load, Check or CheckAndSetDefaults return.
var (
	ErrSyntax      = errors.New("syntax error")
	ErrUnknownKey  = errors.New("unknown key")
	ErrInvalid     = errors.New("invalid value")
	ErrNotSettable = errors.New("not settable from the web UI")
)

// Issue is one thing wrong with the configuration, placed at the file and
// line that set the key.
type Issue struct {
	File string // the file that set Key; empty for a Config built in code
	Line int    // 1-based; 0 when the key has no line (a default)
	Col  int    // syntax errors only
	Key  string // dotted, with array indices: log.sink[1].address
	Msg  string
	Err  error // ErrSyntax, ErrUnknownKey, ErrInvalid or ErrNotSettable
	// cause is the underlying error (toml's ParseError, pathtmpl's), kept
	// for errors.Is/As.
	cause error
	rank  int // order of File among the layers, for sorting
}

// Error reads "config: FILE:LINE: KEY: MSG", "config: FILE:LINE: unknown
// key KEY" or, for syntax errors, "config: FILE:LINE:COL: syntax error: MSG".
func (i *Issue) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if i.File != "" {
		b.WriteString(i.File)
		if i.Line > 0 {
			fmt.Fprintf(&b, ":%d", i.Line)
			if i.Col > 0 {
				fmt.Fprintf(&b, ":%d", i.Col)
			}
		}
		b.WriteString(": ")
	}
	switch i.Err {
	case ErrSyntax:
		fmt.Fprintf(&b, "syntax error: %s", i.Msg)
	case ErrUnknownKey:
		fmt.Fprintf(&b, "unknown key %s", i.Key)
		if i.Msg != "" {
			fmt.Fprintf(&b, " (%s)", i.Msg)
		}
	default:
		fmt.Fprintf(&b, "%s: %s", i.Key, i.Msg)
	}
	return b.String()
}

// Unwrap returns the sentinel and the underlying cause.
func (i *Issue) Unwrap() []error {
	if i.cause != nil {
		return []error{i.Err, i.cause}
	}
	return []error{i.Err}
}

// Errors is every Issue found, in file and line order.
type Errors []*Issue

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, is := range e {
		lines[i] = is.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is and errors.As look at every Issue.
func (e Errors) Unwrap() []error {
	out := make([]error, len(e))
	for i, is := range e {
		out[i] = is
	}
	return out
}

// issues collects Issues, at most one per key: a key whose value could not
// be read keeps its default, and complaining about that default as well
// would only add noise.
type issues struct {
	list Errors
	keys map[string]bool
}

func (is *issues) add(i *Issue) {
	if i.Key != "" {
		if is.keys[i.Key] {
			return
		}
		if is.keys == nil {
			is.keys = map[string]bool{}
		}
		is.keys[i.Key] = true
	}
	is.list = append(is.list, i)
}

func (is *issues) err() error {
	if len(is.list) == 0 {
		return nil
	}
	out := append(Errors(nil), is.list...)
	sort.SliceStable(out, func(a, b int) bool {
		x, y := out[a], out[b]
		if x.rank != y.rank {
			return x.rank < y.rank
		}
		if (x.Line == 0) != (y.Line == 0) {
			return y.Line == 0
		}
		if x.Line != y.Line {
			return x.Line < y.Line
		}
		return x.Key < y.Key
	})
	return out
}

// FieldErrors maps a dotted key to what is wrong with the value given for
// it, for the web UI to show next to each field. SaveSettings returns it.
type FieldErrors map[string]string

func (fe FieldErrors) Error() string {
	keys := make([]string, 0, len(fe))
	for k := range fe {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + fe[k]
	}
	return "config: settings: " + strings.Join(parts, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalid) true for field errors.
func (fe FieldErrors) Unwrap() error { return ErrInvalid }
