package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Hooks are what Server does with the connections it accepts.
type Hooks[C comparable] struct {
	// NewConn wraps an accepted connection.
	NewConn func(net.Conn) C
	// Serve handles c until it ends; it runs in its own goroutine.
	Serve func(c C)
	// Terminate ends c at once (on Close); Serve then returns.
	Terminate func(c C)
}

// Server accepts connections on any number of listeners, tracks the live
// ones and drains or ends them on Shutdown or Close. C is the proxy's
// connection type.
type Server[C comparable] struct {
	prefix    string
	errClosed error
	logger    *slog.Logger
	hooks     Hooks[C]

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[C]struct{}
	closed    bool
	wg        sync.WaitGroup
}

// NewServer returns a Server whose errors and log messages begin with
// prefix + ": " and whose Serve returns errClosed once closed.
func NewServer[C comparable](prefix string, errClosed error, logger *slog.Logger, hooks Hooks[C]) *Server[C] {
	return &Server[C]{
		prefix:    prefix,
		errClosed: errClosed,
		logger:    logger,
		hooks:     hooks,
		listeners: map[net.Listener]struct{}{},
		conns:     map[C]struct{}{},
	}
}

// ListenAndServe listens on addr (TCP) and serves until Close.
func (s *Server[C]) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", s.prefix, err)
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Close or Shutdown, and then
// returns the closed error. It closes ln.
func (s *Server[C]) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return s.errClosed
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
				return s.errClosed
			}
			// Out of file descriptors and the like: wait and retry.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger.Warn(s.prefix+": accept failed; retrying", "err", err, "in", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		c := s.hooks.NewConn(nc)
		if !s.track(c) {
			nc.Close()
			return s.errClosed
		}
		go func() {
			defer s.untrack(c)
			s.hooks.Serve(c)
		}()
	}
}

func (s *Server[C]) track(c C) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server[C]) untrack(c C) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// stopAccepting closes the listeners and refuses new connections.
func (s *Server[C]) stopAccepting() {
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
func (s *Server[C]) Shutdown(ctx context.Context) error {
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
		return fmt.Errorf("%s: shutdown: %w", s.prefix, ctx.Err())
	}
}

// Close stops accepting, terminates every live connection and waits until
// they are torn down.
func (s *Server[C]) Close() error {
	s.stopAccepting()
	s.mu.Lock()
	conns := make([]C, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		s.hooks.Terminate(c)
	}
	s.wg.Wait()
	return nil
}
