// Package rsyslogtest runs a real rsyslogd for tests: its own configuration
// with a plain TCP listener, a UDP listener and a TLS listener (GnuTLS
// stream driver, client certificates required) on 127.0.0.1, writing every
// message it receives, as received (%rawmsg%), one per line, to a file.
// The UDP listener has an 8 MiB receive buffer, so that a burst sent while
// the machine is busy is not lost before rsyslogd reads it (UDP loses what
// overflows it, by design; tests that count UDP lines need it not to).
package rsyslogtest
