// Package sdnotify tells systemd about vigild's state through
// coreos/go-systemd's sd_notify: READY=1 once the listeners are up, STATUS=
// lines, RELOADING=1 around a reload, WATCHDOG=1 keep-alives while
// WATCHDOG_USEC is set, and STOPPING=1 when a drain begins. Without
// NOTIFY_SOCKET (a development run) every call is a no-op.
package sdnotify
