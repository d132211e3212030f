package sdnotify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier sends state changes to the service manager.
type Notifier struct {
	// send is daemon.SdNotify; a field so the error path is testable.
	send func(unsetEnv bool, state string) (bool, error)
}

// New returns a Notifier for the socket named by $NOTIFY_SOCKET.
func New() *Notifier { return &Notifier{send: daemon.SdNotify} }

func (n *Notifier) notify(state string) error {
	if _, err := n.send(false, state); err != nil {
		return fmt.Errorf("sdnotify: %s: %w", strings.SplitN(state, "=", 2)[0], err)
	}
	return nil
}

// Ready reports that start-up is complete: the listeners accept.
func (n *Notifier) Ready() error { return n.notify(daemon.SdNotifyReady) }

// Reloading reports that a configuration reload began; Ready ends it.
// MONOTONIC_USEC is required by Type=notify-reload and harmless otherwise.
func (n *Notifier) Reloading() error {
	var ts unixTime
	return n.notify(daemon.SdNotifyReloading + "\nMONOTONIC_USEC=" + ts.monotonicUsec())
}

// Stopping reports that vigild began to drain and will exit.
func (n *Notifier) Stopping() error { return n.notify(daemon.SdNotifyStopping) }

// Status sets the one-line status `systemctl status` shows. Newlines are
// replaced: the protocol is line based, so one would end the status early
// and inject a variable of the caller's choice.
func (n *Notifier) Status(format string, args ...any) error {
	s := fmt.Sprintf(format, args...)
	s = strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
	return n.notify("STATUS=" + s)
}

// Watchdog sends WATCHDOG=1 at half the interval systemd asked for, until
// ctx ends, as long as healthy() says the daemon is working. It returns at
// once when the watchdog is not enabled for this process.
func (n *Notifier) Watchdog(ctx context.Context, healthy func() bool) error {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return fmt.Errorf("sdnotify: watchdog: %w", err)
	}
	if interval <= 0 {
		return nil
	}
	t := time.NewTicker(interval / 2)
	defer t.Stop()
	for {
		if healthy == nil || healthy() {
			if err := n.notify(daemon.SdNotifyWatchdog); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
