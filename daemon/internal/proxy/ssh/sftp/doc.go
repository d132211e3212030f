// Package sftp follows an SFTP (version 3, draft-ietf-secsh-filexfer-02)
// conversation passively, both directions, and reports each file transfer:
// the path opened, whether it was written (upload) or read (download), and
// how many bytes moved, when the client closes the handle.
//
// It reads only packet headers: the length prefix, the type and the few
// fields it needs (ids, handles, paths, data lengths). File contents are
// skipped by counting, never copied or scanned. Memory is bounded however
// hostile the stream; malformed framing stops the parser, never the relay.
package sftp
