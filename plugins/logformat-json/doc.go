// Command vigil-plugin-logformat-json is the logformat plugin that writes
// each event as one JSON object per line, Kasm-style: the event schema's
// JSON keys at the top level, extra fields flattened beside them, time in
// RFC 3339 UTC with milliseconds, and escaping that no value can break out
// of. README.md documents the output.
package main
