// Package logsink runs the configured [[log.sink]]s: each Sink is a
// consumer of the event journal that filters events by component, formats
// them with its logformat plugin (one Format call per batch) and writes them
// to files (package file) or a syslog server (package syslog), acknowledging
// only what was written — and, for syslog streams, confirmed. The journal is
// the sink's bounded on-disk buffer: during an outage events wait there, and
// the sink resumes from its cursor after a reconnect or a restart.
package logsink
