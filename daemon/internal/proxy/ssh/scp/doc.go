// Package scp recognises the server side of the legacy scp protocol in an
// exec command ("scp -t DEST" receives files, "scp -f SRC" sends them) and
// follows the source's side of the stream passively to report each file
// transferred: its path, declared size and whether all of its bytes passed.
//
// The parser never alters or delays the stream it watches and does no work
// per data byte: it reads the C/D/E/T control lines and skips file contents
// by counting. Malformed input stops the parser; it never fails the relay.
// OpenSSH 9+ scp speaks SFTP by default; see package sftp for that.
package scp
