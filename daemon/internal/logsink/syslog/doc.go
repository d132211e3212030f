// Package syslog sends events to a syslog server: RFC 5424 messages (with
// Vigil's structured data) or RFC 3164 ones, over UDP (RFC 5426, datagrams
// bounded in size, longer messages truncated with a marker or split into
// numbered parts), TCP (RFC 6587 octet counting, or LF framing with line
// feeds escaped) and TLS (RFC 5425: CA file, client certificate, server name
// verification). The formatted log line (JSON, CEF, ...) is the MSG part.
//
// The writer does not retry by itself: the log sink calls Write again after
// a failure, with backoff, while the events wait in the journal.
package syslog
