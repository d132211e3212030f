package vncproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// ErrServerClosed is returned by Serve after Close or Shutdown.
var ErrServerClosed = errors.New("vncproxy: server closed")

// Server is the VNC gateway.
type Server struct {
	cfg Config
	tls *tls.Config

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*gwConn]struct{}
	closed    bool
	wg        sync.WaitGroup
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
	return &Server{
		cfg:       cfg,
		tls:       &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		listeners: map[net.Listener]struct{}{},
		conns:     map[*gwConn]struct{}{},
	}, nil
}

// Certificate is the certificate the gateway presents in VeNCrypt.
func (s *Server) Certificate() *x509.Certificate { return s.tls.Certificates[0].Leaf }

// ListenAndServe listens on Config.ListenAddr and serves until Close.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("vncproxy: %w", err)
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Close or Shutdown, and then
// returns ErrServerClosed. It closes ln.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return ErrServerClosed
			}
			// Out of file descriptors and the like: wait and retry.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.cfg.Logger.Warn("vncproxy: accept failed; retrying", "err", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := newConn(s, nc)
		if !s.track(c) {
			nc.Close()
			return ErrServerClosed
		}
		go func() {
			defer s.untrack(c)
			c.serve()
		}()
	}
}

func (s *Server) track(c *gwConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *gwConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

func (s *Server) stopAccepting() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for ln := range s.listeners {
		ln.Close()
	}
}

// Shutdown stops accepting connections and waits for the live ones to end
// by themselves; when ctx ends first, it closes them as Close does and
// returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopAccepting()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.Close()
		return fmt.Errorf("vncproxy: shutdown: %w", ctx.Err())
	}
}

// Close stops accepting, ends every live connection (each session ends
// with reason server_shutdown) and waits until they are torn down.
func (s *Server) Close() error {
	s.stopAccepting()
	s.mu.Lock()
	conns := make([]*gwConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.terminate(reasonShutdown)
	}
	s.wg.Wait()
	return nil
}
