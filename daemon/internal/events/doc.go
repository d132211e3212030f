// Package events owns the appliance's event bus: every event is made durable
// in a journal (see package journal) before Publish returns, and is then read
// by named consumers — the log sinks and the store's indexer — each from its
// own persisted cursor.
//
// Guarantees. An event accepted by Publish survives kill -9 and power loss
// (the journal is fdatasync'ed before Publish returns, many publishers
// sharing one sync) and is delivered to every consumer at least once. It is
// at-least-once, not exactly-once, because a consumer's cursor is persisted
// after the consumer handed the events on (a file write, a syslog send), and
// a crash between the two — or a syslog connection lost before its data is
// known to be read — repeats the events after the cursor. Exactly-once would
// need the destination to take part in a transaction (a SIEM over syslog
// cannot); the events carry their Seq so a destination can deduplicate.
//
// Bounds. A consumer that falls behind by more than its buffer limit (bytes
// and/or age, per consumer) has its oldest events skipped, in whole journal
// segments; the count is kept in its cursor and a log.sink.dropped event
// (level ERROR, with the sink name, the count and the cumulative
// dropped_total) is published, so a loss is never silent: should a drop
// event itself be skipped by a later drop, the later one's dropped_total
// still tells the whole loss. The count is of events skipped before the
// consumer confirmed them: one in flight when the limit struck may still
// arrive, so the count never understates the loss. Segments are deleted once every known consumer has
// persisted a cursor past them.
//
// Lifecycle: Open, then Consumer for every consumer (sinks, indexer) and
// DeleteConsumer for the names no longer configured, then Publish from
// anywhere; at shutdown stop the consumers, then Close.
package events
