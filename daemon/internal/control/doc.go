// Package control is vigild's local control channel: JSON over HTTP on a
// unix socket (mode 0600, so only the service user and root can use it).
// vigilctl uses it for what needs the running daemon: live sessions, kills,
// plugin health, reload. The daemon registers its handlers; this package
// only owns the socket, the framing and the client.
package control
