package vncproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	proxygw "github.com/vigilgw/vigil/daemon/internal/proxy/gateway"
)

// ErrServerClosed is returned by Serve after Close or Shutdown.
var ErrServerClosed = errors.New("vncproxy: server closed")

// Server is the VNC gateway.
type Server struct {
	cfg Config
	tls *tls.Config

	// gw accepts, tracks and drains the connections.
	gw *proxygw.Server[*gwConn]
}

// New checks cfg, fills its defaults and loads (or on first start creates)
// the TLS certificate.
func New(cfg Config) (*Server, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	var cert tls.Certificate
	if cfg.Certificate != nil {
		cert = *cfg.Certificate
	} else {
		hosts := cfg.TLSHosts
		if len(hosts) == 0 {
			hosts = defaultHosts(cfg.ListenAddr)
		}
		var created bool
		var err error
		if cert, created, err = LoadOrCreateCertificate(cfg.TLSCertFile, cfg.TLSKeyFile, hosts); err != nil {
			return nil, err
		}
		if created {
			cfg.Logger.Info("vncproxy: generated a self-signed TLS certificate", "cert", cfg.TLSCertFile, "hosts", hosts)
		}
	}
	if cert.Leaf == nil && len(cert.Certificate) > 0 {
		leaf, err := x509.ParseCertificate(cert.Certificate[0])
		if err != nil {
			return nil, fmt.Errorf("vncproxy: tls certificate: %w", err)
		}
		cert.Leaf = leaf
	}
	s := &Server{
		cfg: cfg,
		tls: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}
	s.newGateway()
	return s, nil
}

// Certificate is the certificate the gateway presents in VeNCrypt.
func (s *Server) Certificate() *x509.Certificate { return s.tls.Certificates[0].Leaf }

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
	s.gw = proxygw.NewServer("vncproxy", ErrServerClosed, s.cfg.Logger, proxygw.Hooks[*gwConn]{
		NewConn:   func(nc net.Conn) *gwConn { return newConn(s, nc) },
		Serve:     func(c *gwConn) { c.serve() },
		Terminate: func(c *gwConn) { c.terminate(reasonShutdown) },
	})
}
