package vncproxy

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/sessions"
)

// Defaults for Config.
const (
	DefaultBanner         = "session recorded"
	DefaultLoginGrace     = 60 * time.Second
	DefaultConnectTimeout = 15 * time.Second
)

// Config configures a Server. Dependencies are interfaces so that vigild
// can plug in the store, the capture writer and the event bus through
// adapters.
type Config struct {
	// ListenAddr is where ListenAndServe listens (ip:port).
	ListenAddr string
	// TLSCertFile and TLSKeyFile are the gateway's certificate and key
	// (PEM) for VeNCrypt. When both files are missing, New creates a
	// self-signed pair there (ECDSA P-256, 0600) naming TLSHosts.
	TLSCertFile string
	TLSKeyFile  string
	// TLSHosts are the DNS names and IP addresses a generated certificate
	// is valid for; empty: the listen address's host, localhost,
	// 127.0.0.1 and the machine's host name. Viewers check the name they
	// connect to against it.
	TLSHosts []string
	// Certificate, when set, is used instead of the files.
	Certificate *tls.Certificate
	// Banner is appended to the desktop name of recorded sessions, which
	// viewers show in their title bar: "<desktop name> [<banner>]".
	Banner string
	// LoginGrace bounds the time from TCP accept to the start of the
	// relay, target connection included.
	LoginGrace time.Duration
	// IdleTimeout ends a session when the user sent no key, pointer or
	// clipboard event for this long; zero disables it. Update requests do
	// not count: viewers send them all the time.
	IdleTimeout time.Duration
	// ConnectTimeout bounds connecting and logging in to the target.
	ConnectTimeout time.Duration
	// RecordInput records key events and client cut text. Off by default:
	// keystrokes hold passwords typed into the target.
	RecordInput bool
	// Exclusive asks targets for an exclusive connection (ClientInit
	// shared-flag 0), which makes them drop their other viewers, other
	// gateway sessions included. Off by default: the gateway always asks
	// to share, whatever the viewer asked.
	Exclusive bool

	Authenticator Authenticator
	Targets       Targets
	Recorder      Recorder
	Admission     Admitter
	Events        Publisher
	Sessions      *sessions.Registry
	Logger        *slog.Logger
}

// CheckAndSetDefaults fills unset fields with defaults and reports the
// first invalid one.
func (c *Config) CheckAndSetDefaults() error {
	var missing []string
	for _, d := range []struct {
		name  string
		isNil bool
	}{
		{"Authenticator", c.Authenticator == nil}, {"Targets", c.Targets == nil}, {"Recorder", c.Recorder == nil},
		{"Admission", c.Admission == nil}, {"Events", c.Events == nil}, {"Sessions", c.Sessions == nil},
	} {
		if d.isNil {
			missing = append(missing, d.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("vncproxy: config: missing dependencies %v", missing)
	}
	if c.Certificate == nil && (c.TLSCertFile == "" || c.TLSKeyFile == "") {
		return errors.New("vncproxy: config: TLSCertFile and TLSKeyFile (or Certificate) are required")
	}
	if c.Banner == "" {
		c.Banner = DefaultBanner
	}
	if c.LoginGrace <= 0 {
		c.LoginGrace = DefaultLoginGrace
	}
	if c.IdleTimeout < 0 {
		return fmt.Errorf("vncproxy: config: IdleTimeout %s is negative", c.IdleTimeout)
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}
