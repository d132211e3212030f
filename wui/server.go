package wui

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// Server is the WUI. Make it with New, then Serve a listener; Shutdown
// stops it.
type Server struct {
	cfg    Config
	b      Backend
	tls    *tls.Config
	logins *loginStore
	tmpl   *templates
	static *staticFiles
	access *accessLog
	router *router
	srv    *fasthttp.Server
}

// The embedded assets never change, so every Server shares one parse.
var (
	loadTemplatesOnce = sync.OnceValues(loadTemplates)
	loadStaticOnce    = sync.OnceValues(loadStatic)
)

// New checks the config and backend, loads the embedded templates and
// assets, and prepares TLS (generating a self-signed certificate when the
// config asks for one).
func New(cfg Config, b Backend) (*Server, error) {
	if err := cfg.CheckAndSetDefaults(); err != nil {
		return nil, err
	}
	if err := b.check(); err != nil {
		return nil, err
	}
	tlsConf, err := cfg.serverTLS()
	if err != nil {
		return nil, err
	}
	tmpl, err := loadTemplatesOnce()
	if err != nil {
		return nil, err
	}
	static, err := loadStaticOnce()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, b: b, tls: tlsConf, tmpl: tmpl, static: static,
		logins: newLoginStore(cfg),
		access: &accessLog{w: cfg.AccessLog},
	}
	s.router = newRouter(s.routes())
	s.srv = &fasthttp.Server{
		Handler:               s.handle,
		NoDefaultServerHeader: true,
		NoDefaultDate:         false,
		ReadTimeout:           30 * time.Second,
		IdleTimeout:           2 * time.Minute,
		MaxRequestBodySize:    1 << 20,
		ReadBufferSize:        8 << 10,
		DisableKeepalive:      false,
		CloseOnShutdown:       true,
	}
	return s, nil
}

func (b Backend) check() error {
	missing := map[string]bool{
		"Auth": b.Auth == nil, "Users": b.Users == nil, "Groups": b.Groups == nil, "Targets": b.Targets == nil,
		"Sessions": b.Sessions == nil, "Recordings": b.Recordings == nil, "Live": b.Live == nil,
		"Events": b.Events == nil, "Reports": b.Reports == nil, "Settings": b.Settings == nil, "Status": b.Status == nil,
	}
	for _, name := range []string{"Auth", "Users", "Groups", "Targets", "Sessions", "Recordings", "Live", "Events", "Reports", "Settings", "Status"} {
		if missing[name] {
			return fmt.Errorf("wui: backend: %s is nil", name)
		}
	}
	return nil
}

// Handler is the WUI as a plain fasthttp handler, without TLS: for tests
// over fasthttputil's in-memory listener and for benchmarks.
func (s *Server) Handler() fasthttp.RequestHandler { return s.handle }

// TLSConfig is the TLS configuration Serve uses; nil with InsecureHTTP.
func (s *Server) TLSConfig() *tls.Config { return s.tls }

// Serve answers connections from ln until Shutdown, over TLS unless the
// config says InsecureHTTP. It returns nil after Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	err := s.srv.Serve(ln)
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("wui: serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting, waits for the requests in flight until ctx
// ends, closes the listener and saves the login sessions (LoginsFile).
func (s *Server) Shutdown(ctx context.Context) error {
	// Last, keep when each login session was last used.
	defer s.logins.save()
	if err := s.srv.ShutdownWithContext(ctx); err != nil {
		return fmt.Errorf("wui: shutdown: %w", err)
	}
	return nil
}
