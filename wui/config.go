package wui

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

// Config is how the daemon sets up the WUI. CheckAndSetDefaults is the one
// place that fills defaults and validates it.
type Config struct {
	// TLS, in order of precedence: TLSConfig as given; else the
	// certificate in CertFile/KeyFile, which is first generated there
	// self-signed (EnsureSelfSignedCert) when SelfSigned is set and
	// neither file exists. InsecureHTTP serves plain HTTP instead: for
	// tests, or behind a TLS-terminating proxy on loopback. Cookies stay
	// Secure either way.
	TLSConfig    *tls.Config
	CertFile     string
	KeyFile      string
	SelfSigned   bool
	CertHosts    []string // extra SANs for a self-signed certificate
	InsecureHTTP bool

	// Version is shown in every page's footer.
	Version string
	// Hostname is the Host field of the WUI's events; default os.Hostname.
	Hostname string

	// AccessLog receives one JSON line per request (the daemon passes
	// <log_dir>/wui_access_json.log); nil discards.
	AccessLog io.Writer
	// Logger receives the WUI's own errors (a backend call that failed);
	// nil discards.
	Logger *slog.Logger

	// Login sessions end after IdleTimeout without a request (default 30
	// minutes) and AbsoluteTimeout after login (default 12 hours).
	IdleTimeout     time.Duration
	AbsoluteTimeout time.Duration
	// MaxLoginSessions bounds the server-side session table (default
	// 10000); the oldest session is dropped when it is full.
	MaxLoginSessions int

	// LoginsFile, when set, keeps login sessions across restarts: the
	// table is written there (mode 0600, atomically) when a session starts
	// or ends and at Shutdown, and New reads it back. It holds each
	// session token's SHA-256, never a token. Unset: sessions live in
	// memory only.
	LoginsFile string

	// Now is the clock; default time.Now. Tests move it.
	Now func() time.Time
}

// Defaults of Config.
const (
	DefaultIdleTimeout      = 30 * time.Minute
	DefaultAbsoluteTimeout  = 12 * time.Hour
	DefaultMaxLoginSessions = 10000
)

// CheckAndSetDefaults fills unset fields and reports a config the WUI
// cannot serve with.
func (c *Config) CheckAndSetDefaults() error {
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.AbsoluteTimeout == 0 {
		c.AbsoluteTimeout = DefaultAbsoluteTimeout
	}
	if c.IdleTimeout < 0 || c.AbsoluteTimeout < 0 {
		return errors.New("wui: config: session timeouts must be positive")
	}
	if c.IdleTimeout > c.AbsoluteTimeout {
		return fmt.Errorf("wui: config: idle timeout %s exceeds absolute timeout %s", c.IdleTimeout, c.AbsoluteTimeout)
	}
	if c.MaxLoginSessions == 0 {
		c.MaxLoginSessions = DefaultMaxLoginSessions
	}
	if c.MaxLoginSessions < 0 {
		return errors.New("wui: config: max login sessions must be positive")
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
	}
	if c.AccessLog == nil {
		c.AccessLog = io.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TLSConfig == nil && !c.InsecureHTTP && (c.CertFile == "" || c.KeyFile == "") {
		return errors.New("wui: config: no TLS: set TLSConfig, CertFile and KeyFile, or InsecureHTTP")
	}
	return nil
}

// serverTLS returns the TLS configuration to serve with, generating a
// self-signed certificate first when asked to; nil for InsecureHTTP.
func (c *Config) serverTLS() (*tls.Config, error) {
	if c.InsecureHTTP {
		return nil, nil
	}
	if c.TLSConfig != nil {
		return c.TLSConfig, nil
	}
	if c.SelfSigned {
		if _, err := EnsureSelfSignedCert(c.CertFile, c.KeyFile, c.CertHosts); err != nil {
			return nil, err
		}
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("wui: load certificate: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	}, nil
}
