// Package app assembles vigild: it loads the configuration, prepares the
// state directory and keys, opens the store and the event bus, launches and
// supervises the plugins, starts the listeners and the control socket, tells
// systemd where it stands, reloads on SIGHUP and drains on SIGTERM. Each
// subsystem lives in its own package; this one only wires them together and
// owns their order of start and stop.
package app
