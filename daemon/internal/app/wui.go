package app

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/vigilgw/vigil/daemon/internal/version"
	"github.com/vigilgw/vigil/wui"
)

// startWUI serves the web UI over HTTPS on [wui] listen, with the
// configured certificate or one made self-signed on first start.
func (d *Daemon) startWUI(ctx context.Context) error {
	cfg := d.Config()
	if !cfg.WUI.Enabled {
		return nil
	}
	cert, key, self := cfg.WUI.TLSCert, cfg.WUI.TLSKey, false
	if cert == "" || key == "" {
		cert, key, self = filepath.Join(d.layout.Keys(), "wui.crt"), filepath.Join(d.layout.Keys(), "wui.key"), true
	}
	access, err := os.OpenFile(filepath.Join(cfg.LogDir, "wui_access_json.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("wui: access log: %w", err)
	}
	d.onStop("wui access log", func(context.Context) error { return access.Close() })
	host, _ := os.Hostname()
	srv, err := wui.New(wui.Config{
		CertFile: cert, KeyFile: key, SelfSigned: self, CertHosts: []string{host},
		Version: version.Version, Hostname: host, AccessLog: access,
		Logger:      d.slogger("wui"),
		IdleTimeout: min(cfg.WUI.SessionTimeout, wui.DefaultIdleTimeout), AbsoluteTimeout: cfg.WUI.SessionTimeout,
		// Logins outlive a restart of vigild.
		LoginsFile: filepath.Join(cfg.StateDir, "wui_logins.json"),
	}, d.wuiBackend())
	if err != nil {
		return err
	}
	ln, err := listen("wui", cfg.WUI.Listen)
	if err != nil {
		return err
	}
	d.serve("wui", "wui https://", ln, srv.Serve, net.ErrClosed)
	d.onStop("wui", srv.Shutdown)
	return nil
}

func (d *Daemon) wuiBackend() wui.Backend {
	b := &wuiBackend{d: d}
	return wui.Backend{
		Auth: b, Users: b, Groups: b, Targets: b, Sessions: b, Recordings: b,
		Live: b, Events: b, Reports: b, Settings: b, Status: b,
	}
}

// wuiBackend adapts the store, the live registry, the event bus, the
// configuration and the plugins to the interfaces the WUI declares.
type wuiBackend struct{ d *Daemon }
