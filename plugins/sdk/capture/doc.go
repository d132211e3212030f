// Package capture owns Vigil's session capture format (".vsl", the
// "session log"): the signed, append-only, segmented file the core writes
// while it relays a session and that recorder plugins and `vigilctl
// session-logs` read. It is protocol-neutral: SSH channel data, VNC byte
// streams and session facts are all records.
//
// # Files
//
// A session's segments are named after its UTC start, team and user (see
// SessionBase and SegmentFileName):
//
//	20200903T153818.5108-acme-alice.vsl       segment 0
//	20200903T153818.5108-acme-alice.0001.vsl  segment 1, and so on
//
// They are written in the active directory (0640, directories 0750) and
// moved into the sealed directory once signed and fsynced.
//
// # Layout
//
// A segment is the 8-byte Magic followed by records. A record is
//
//	kind    1 byte
//	length  uvarint, the body's length (minimal encoding, at most MaxPayload+20)
//	body
//
// Data records (Output, Input, Resize, Meta, ... see Kind) have the body
//
//	time     uvarint, microseconds since the segment's start
//	channel  uvarint (an SSH channel id, 0 for session-wide records)
//	payload  the rest, raw: never escaped, so bulk output costs a few bytes
//	         per record whatever it holds
//
// Record 0 is the header (KindHeader): format version, segment number,
// session start and segment start (Unix nanoseconds, big-endian), the key
// id (SHA-256 of the signing public key), the previous segment's final
// hash (zero for segment 0) and the session id.
//
// # Hash chain and signatures
//
// Every record, header and checkpoints included, extends a SHA-256 chain:
// h(-1) is 32 zero bytes and h(n) = SHA-256(h(n-1) || the record's bytes).
// The header hash is h(0). Per-record hashes are not stored; readers
// compute them.
//
// A checkpoint record (KindCheckpoint) follows at least every
// CheckpointInterval (1 s) or CheckpointBytes (1 MiB) of records, whichever
// comes first, and right after the header. Its body is
//
//	header hash   32 bytes
//	count         uvarint: records before this one in the segment
//	chain         32 bytes: h(count-1)
//	time          uvarint microseconds
//	tags          uvarint n, then the first 4 bytes of h(i) for each of the
//	              n records since the previous checkpoint
//	signature     64 bytes, Ed25519
//
// The signature covers a fixed domain string, the kind, the header hash,
// count, chain, time, the trailer flags and SHA-256 of the tags. The tags
// let a verifier name the first altered record, not just the interval.
// The trailer (KindTrailer) ends a segment: a checkpoint with a flags
// uvarint after the time: FlagContinued when the segment was full and the
// session goes on in the next one, FlagRecovered when Recover sealed it
// after a crash. The segment's final hash is the chain after the trailer,
// and the next segment's header carries it: a segment cannot be removed
// from the middle of a session, nor (thanks to FlagContinued) from its
// end, without verification noticing.
//
// A checkpoint is written to the file (write(2)) as soon as it is signed,
// so a killed process loses at most the records after the last one;
// Recover cuts a left-over segment back to it and seals it.
//
// # Verifying
//
// Verify, VerifyFile and a verifying Reader tell apart: Intact; Altered,
// naming the first bad record (by the tags of a signed checkpoint) and its
// offset; Truncated after the last good checkpoint (bytes that end early
// are "altered" instead when a good checkpoint of the segment can be found
// past the break), or, for a whole session, when its last segment is
// missing; WrongKey, when the signature fails and the header names another
// key. The verification key is exported as a PEM block of type "VIGIL
// ED25519 PUBLIC KEY" (MarshalPublicKey, ParsePublicKey).
package capture
