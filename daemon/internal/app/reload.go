package app

import (
	"errors"
	"fmt"

	"github.com/vigilgw/vigil/daemon/internal/config"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// errFixedKey names a key that only takes effect on restart.
var errFixedKey = errors.New("changes only on restart")

// reload re-reads the configuration (file and settings overlay). A bad one
// keeps the running configuration and says why, in the log and as an event.
func (d *Daemon) reload() error {
	_ = d.notify.Reloading()
	defer func() {
		_ = d.notify.Ready()
		_ = d.notify.Status("%s", d.statusLine())
	}()
	old := d.Config()
	cfg, _, err := config.Load(old.Path())
	if err == nil {
		err = fixedUnchanged(old, cfg)
	}
	if err == nil {
		for _, apply := range d.reloaders {
			if err = apply(cfg); err != nil {
				break
			}
		}
	}
	if err != nil {
		d.log.Error("reload refused; keeping the running configuration", "error", err)
		d.publish(event.Event{MetricName: "config.reload.failed", Level: event.LevelError, Component: "core",
			Message: "configuration reload refused; the running configuration is kept", Reason: err.Error(), Result: "failure"})
		return err
	}
	d.mu.Lock()
	d.cfg = cfg
	d.mu.Unlock()
	d.log.Info("configuration reloaded", "path", cfg.Path())
	d.publish(event.Event{MetricName: "config.reload", Component: "core", Message: "configuration reloaded", Result: "success"})
	return nil
}

// fixedUnchanged refuses a reload that changes what only a restart can
// change: where the state lives and which addresses are bound.
func fixedUnchanged(old, cfg *config.Config) error {
	var errs []error
	check := func(key, a, b string) {
		if a != b {
			errs = append(errs, fmt.Errorf("%s: %q -> %q: %w", key, a, b, errFixedKey))
		}
	}
	check("state_dir", old.StateDir, cfg.StateDir)
	check("plugin_dir", old.PluginDir, cfg.PluginDir)
	check("control.socket", old.Control.Socket, cfg.Control.Socket)
	check("ssh.listen", old.SSH.Listen, cfg.SSH.Listen)
	check("vnc.listen", old.VNC.Listen, cfg.VNC.Listen)
	check("wui.listen", old.WUI.Listen, cfg.WUI.Listen)
	return errors.Join(errs...)
}
