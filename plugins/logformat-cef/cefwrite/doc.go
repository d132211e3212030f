// Package cefwrite writes ArcSight CEF lines: the header with its `\` and `|`
// escaping, and extension key=value pairs with their `\`, `=`, newline and
// carriage-return escaping. It owns the one place where user-controlled
// values are cleaned, cut to the specification's length limits and escaped,
// so that every format built on CEF (logformat-cef, logformat-espaaa) gets the
// same guarantees:
//
//   - a line never holds a raw LF or CR;
//   - a value can never end its field early or forge a key: `|` is escaped in
//     the header, `=` in the extension, `\` in both;
//   - output is valid UTF-8: each byte of invalid UTF-8 becomes U+FFFD, and
//     so do control characters that CEF has no escape for (C0 other than tab,
//     LF and CR; DEL; C1, which includes NEL; U+2028 and U+2029), since a
//     receiver could take them for a line end or a string end;
//   - a value longer than its limit (cefspec.MaxLen) is cut on a rune
//     boundary, before escaping, so a cut never splits an escape sequence.
//
// Keys are never user-controlled: they come from Vigil's own tables, and a
// key that is not a valid CEF key name is a programming error (panic).
package cefwrite
