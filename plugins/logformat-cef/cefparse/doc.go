// Package cefparse is a strict parser of single ArcSight CEF lines, written
// from the specification rather than from Vigil's writer, so that tests (of
// the CEF and ESP AAA formats, and of the SIEM path end to end) can check
// what a receiver reads back.
//
// Strict means it refuses what a lenient SIEM would guess at:
//   - anything but "CEF:0|" or "CEF:1|" at the start (strip a syslog prefix
//     first), fewer than seven header fields, or an empty header field;
//   - in the header, an escape other than `\\` and `\|`;
//   - in the extension, an escape other than `\\`, `\=`, `\n` and `\r`, an
//     unescaped `=` inside a value, a key that is not letters and digits,
//     a key given twice;
//   - raw LF or CR anywhere, any other control character but tab, and
//     invalid UTF-8;
//   - a severity outside 0-10 and the spec's names, a header field or a
//     dictionary value longer than its limit (cefspec), a dictionary value
//     of the wrong type (port, address, number, timestamp).
//
// The extension comes back in order, as written.
package cefparse
