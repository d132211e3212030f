package app

import (
	"errors"
	"fmt"
	"strings"

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
		for i, apply := range d.reloaders {
			if err = apply(cfg); err != nil {
				// The subsystems that took the new configuration go
				// back to the running one: it is kept whole.
				for _, undo := range d.reloaders[:i] {
					if uerr := undo(old); uerr != nil {
						d.log.Error("reload: restoring the running configuration", "error", uerr)
					}
				}
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
	if keys := restartPending(old, cfg); len(keys) > 0 {
		// Accepted (refusing would make every later reload fail until a
		// restart), but said: these values are not in force yet.
		list := strings.Join(keys, ", ")
		d.log.Warn("reloaded values that take effect only at the next restart", "keys", list)
		d.publish(event.Event{MetricName: "config.restart_required", Level: event.LevelWarning, Component: "core",
			Message: "configuration reloaded; " + list + " take effect at the next restart",
			Extra:   map[string]string{"keys": list}})
	}
	return nil
}

// restartPending lists the changed keys that the running subsystems read
// only when they start (listen addresses are refused by fixedUnchanged).
func restartPending(old, cfg *config.Config) []string {
	var keys []string
	check := func(key string, changed bool) {
		if changed {
			keys = append(keys, key)
		}
	}
	check("ssh.enabled", old.SSH.Enabled != cfg.SSH.Enabled)
	check("vnc.enabled", old.VNC.Enabled != cfg.VNC.Enabled)
	check("wui.enabled", old.WUI.Enabled != cfg.WUI.Enabled)
	check("recording.queue_length", old.Recording.QueueLength != cfg.Recording.QueueLength)
	check("recording.upload_location (another storage backend)", storagePlugin(old) != storagePlugin(cfg))
	check("ssh.host_key", old.SSH.HostKey != cfg.SSH.HostKey)
	check("plugin_health_interval", old.PluginHealthInterval != cfg.PluginHealthInterval)
	check("plugin_health_timeout", old.PluginHealthTimeout != cfg.PluginHealthTimeout)
	if old.VNC.Enabled {
		check("recording.record_input (VNC gateway)", old.Recording.RecordInput != cfg.Recording.RecordInput)
		check("vnc.tls_cert", old.VNC.TLSCert != cfg.VNC.TLSCert)
		check("vnc.tls_key", old.VNC.TLSKey != cfg.VNC.TLSKey)
		check("vnc.login_grace", old.VNC.LoginGrace != cfg.VNC.LoginGrace)
		check("vnc.idle_timeout", old.VNC.IdleTimeout != cfg.VNC.IdleTimeout)
	}
	return keys
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
