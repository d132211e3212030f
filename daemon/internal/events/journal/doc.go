// Package journal is the durable, segmented, append-only record log under the
// event bus.
//
// A journal is a directory of segment files named after the sequence number
// of their first record (%020d.seg). Each segment starts with a 32-byte header
// (magic, version, first sequence number, global start position, CRC32C) and
// then holds records:
//
//	len   uint32 LE  bytes after the 8-byte record header (16 + payload)
//	crc   uint32 LE  CRC32C (Castagnoli) of those bytes
//	seq   uint64 LE  sequence number, +1 per record, never reused once durable
//	time  int64  LE  append time, Unix nanoseconds (the commit's clock)
//	payload
//
// Append is a group commit: concurrent callers copy their payloads into one
// pending batch, a single committer writes it and calls fdatasync once, and
// every caller of that batch returns after the sync. A record is visible to
// readers only once durable.
//
// Positions are global byte offsets over all records ever written (segment
// headers excluded), so the distance between two positions is the bytes a
// reader lags. On Open the newest segment is scanned: a partial or corrupt
// tail (a write torn by a crash) is cut off and the sequence continues after
// the last intact record. Older segments were fsynced before the next one was
// created and are not rescanned.
package journal
