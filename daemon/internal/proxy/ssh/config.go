package sshproxy

import (
	"errors"
	"fmt"
	"log/slog"
	"path"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/sessions"
)

// Defaults for Config.
const (
	DefaultBanner         = "This session is recorded.\n"
	DefaultLoginGrace     = 60 * time.Second
	DefaultMaxAuthTries   = 6
	DefaultConnectTimeout = 15 * time.Second
)

// DefaultEnvAllowlist is the environment a client may pass to the target
// when none is configured: locale and time zone only.
var DefaultEnvAllowlist = []string{"LANG", "LANGUAGE", "LC_*", "TZ"}

// Config configures a Server. Dependencies are interfaces so that vigild can
// plug in the store, the capture writer and the event bus through adapters.
type Config struct {
	// ListenAddr is where ListenAndServe listens (ip:port).
	ListenAddr string
	// HostKeyPath is the gateway's host key, generated (Ed25519, 0600) on
	// first start when missing.
	HostKeyPath string
	// Banner is shown to clients before authentication.
	Banner string
	// EnvAllowlist lists the environment variable names (path.Match globs,
	// e.g. "LC_*") a client may set on the target; others are refused.
	EnvAllowlist []string
	// LoginGrace bounds the time from TCP accept to authenticated.
	LoginGrace time.Duration
	// MaxAuthTries bounds failed authentication attempts per connection.
	MaxAuthTries int
	// IdleTimeout ends a session without traffic either way for this long;
	// zero disables it.
	IdleTimeout time.Duration
	// ConnectTimeout bounds connecting and logging in to the target.
	ConnectTimeout time.Duration
	// RecordInput records what the client types (KindInput). Off by
	// default: input holds passwords typed at prompts.
	RecordInput bool

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
	for _, dep := range []struct {
		name  string
		isNil bool
	}{
		{"Authenticator", c.Authenticator == nil},
		{"Targets", c.Targets == nil},
		{"Recorder", c.Recorder == nil},
		{"Admission", c.Admission == nil},
		{"Events", c.Events == nil},
		{"Sessions", c.Sessions == nil},
	} {
		if dep.isNil {
			missing = append(missing, dep.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("sshproxy: config: missing dependencies %v", missing)
	}
	if c.HostKeyPath == "" {
		return errors.New("sshproxy: config: HostKeyPath is not set")
	}
	if c.Banner == "" {
		c.Banner = DefaultBanner
	}
	if c.EnvAllowlist == nil {
		c.EnvAllowlist = DefaultEnvAllowlist
	}
	for _, p := range c.EnvAllowlist {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("sshproxy: config: env allowlist pattern %q: %w", p, err)
		}
	}
	if c.LoginGrace <= 0 {
		c.LoginGrace = DefaultLoginGrace
	}
	if c.MaxAuthTries <= 0 {
		c.MaxAuthTries = DefaultMaxAuthTries
	}
	if c.IdleTimeout < 0 {
		return fmt.Errorf("sshproxy: config: IdleTimeout %s is negative", c.IdleTimeout)
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// envAllowed reports whether the client may set name on the target.
func (c *Config) envAllowed(name string) bool {
	for _, p := range c.EnvAllowlist {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}
