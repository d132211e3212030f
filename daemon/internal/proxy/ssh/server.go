package sshproxy

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	proxygw "github.com/vigilgw/vigil/daemon/internal/proxy/gateway"
)

// ErrServerClosed is returned by Serve after Close or Shutdown.
var ErrServerClosed = errors.New("sshproxy: server closed")

// serverVersion is the identification string clients see.
const serverVersion = "SSH-2.0-Vigil"

// Server is the SSH gateway: it accepts users, authenticates them, admits
// their session, logs into the target with the stored credential and relays
// and records the session.
type Server struct {
	cfg    Config
	signer ssh.Signer
	// live is the configuration new connections take: cfg with what
	// Reload changed. A connection keeps the one it was accepted with.
	live atomic.Pointer[Config]

	// gw accepts, tracks and drains the connections.
	gw *proxygw.Server[*gwConn]
}

// New checks cfg, fills its defaults and loads (or on first start creates)
// the host key.
func New(cfg Config) (*Server, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	signer, created, err := LoadOrCreateHostKey(cfg.HostKeyPath)
	if err != nil {
		return nil, err
	}
	if created {
		cfg.Logger.Info("sshproxy: generated host key", "path", cfg.HostKeyPath,
			"fingerprint", ssh.FingerprintSHA256(signer.PublicKey()))
	}
	s := &Server{
		cfg:    cfg,
		signer: signer,
	}
	s.newGateway()
	live := cfg
	s.live.Store(&live)
	return s, nil
}

// Reloadable is what a running gateway can change (on SIGHUP): the Config
// fields of the same names. Zero values take the defaults, as in Config.
type Reloadable struct {
	Banner       string
	EnvAllowlist []string
	LoginGrace   time.Duration
	MaxAuthTries int
	IdleTimeout  time.Duration
	RecordInput  bool
}

// Reload applies r to the connections accepted from now on; sessions
// already open keep the settings they began with (a session is recorded
// with input or without it from start to end). A bad r changes nothing.
func (s *Server) Reload(r Reloadable) error {
	next := *s.live.Load()
	next.Banner, next.EnvAllowlist = r.Banner, r.EnvAllowlist
	next.LoginGrace, next.MaxAuthTries, next.IdleTimeout = r.LoginGrace, r.MaxAuthTries, r.IdleTimeout
	next.RecordInput = r.RecordInput
	if err := next.CheckAndSetDefaults(); err != nil {
		return err
	}
	s.live.Store(&next)
	return nil
}

// HostKey is the gateway's public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.signer.PublicKey() }

// ListenAndServe listens on Config.ListenAddr and serves until Close.
func (s *Server) ListenAndServe() error { return s.gw.ListenAndServe(s.cfg.ListenAddr) }

// Serve accepts connections on ln until Close or Shutdown, and then returns
// ErrServerClosed. It closes ln.
func (s *Server) Serve(ln net.Listener) error { return s.gw.Serve(ln) }

// Shutdown stops accepting connections and waits for the live ones to end
// by themselves; when ctx ends first, it closes them as Close does and
// returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error { return s.gw.Shutdown(ctx) }

// Close stops accepting, ends every live connection (each session ends with
// reason server_shutdown) and waits until they are torn down.
func (s *Server) Close() error { return s.gw.Close() }

// newGateway makes s.gw; s.cfg must be set.
func (s *Server) newGateway() {
	s.gw = proxygw.NewServer("sshproxy", ErrServerClosed, s.cfg.Logger, proxygw.Hooks[*gwConn]{
		NewConn:   func(nc net.Conn) *gwConn { return newConn(s, nc) },
		Serve:     func(c *gwConn) { c.serve() },
		Terminate: func(c *gwConn) { c.terminate(reasonShutdown, "vigil: the gateway is shutting down") },
	})
}

// serverConfig is the ssh.ServerConfig of one connection: its callbacks
// keep that connection's authentication state.
func (s *Server) serverConfig(c *gwConn) *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		MaxAuthTries:  c.cfg.MaxAuthTries,
		ServerVersion: serverVersion,
		BannerCallback: func(ssh.ConnMetadata) string {
			return c.cfg.Banner
		},
		PasswordCallback: func(meta ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
			return c.authPassword(meta.User(), "password", password)
		},
		KeyboardInteractiveCallback: func(meta ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			answers, err := client("", "", []string{"Password: "}, []bool{false})
			if err != nil {
				return nil, err
			}
			if len(answers) != 1 {
				return nil, errors.New("sshproxy: keyboard-interactive: want one answer")
			}
			return c.authPassword(meta.User(), "keyboard-interactive", []byte(answers[0]))
		},
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			return c.authPublicKey(meta.User(), key)
		},
	}
	cfg.AddHostKey(s.signer)
	return cfg
}
