package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

var errClosed = errors.New("testproxy: server closed")

// conn is a test connection: Serve echoes until the peer or Terminate
// closes it.
type conn struct {
	nc         net.Conn
	terminated chan struct{}
	once       sync.Once
}

func newTestServer(t *testing.T) (*Server[*conn], chan *conn) {
	t.Helper()
	started := make(chan *conn, 16)
	s := NewServer("testproxy", errClosed, slog.New(slog.NewTextHandler(io.Discard, nil)), Hooks[*conn]{
		NewConn: func(nc net.Conn) *conn { return &conn{nc: nc, terminated: make(chan struct{})} },
		Serve: func(c *conn) {
			started <- c
			io.Copy(c.nc, c.nc)
			c.nc.Close()
		},
		Terminate: func(c *conn) {
			c.once.Do(func() { close(c.terminated) })
			c.nc.Close()
		},
	})
	return s, started
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func serve(s *Server[*conn], ln net.Listener) chan error {
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	return done
}

func dial(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCloseTerminatesLiveConnections(t *testing.T) {
	s, started := newTestServer(t)
	ln := listen(t)
	done := serve(s, ln)
	dial(t, ln)
	dial(t, ln)
	c1, c2 := <-started, <-started

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*conn{c1, c2} {
		select {
		case <-c.terminated:
		default:
			t.Fatal("Close returned without terminating a live connection")
		}
	}
	if err := <-done; err != errClosed {
		t.Fatalf("Serve = %v, want %v", err, errClosed)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Fatal("listener still accepts after Close")
	}
	// Serve after Close refuses at once and closes the listener.
	ln2 := listen(t)
	if err := s.Serve(ln2); err != errClosed {
		t.Fatalf("Serve after Close = %v, want %v", err, errClosed)
	}
	if _, err := ln2.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("listener passed to Serve after Close is open: %v", err)
	}
}

func TestShutdownDrains(t *testing.T) {
	s, started := newTestServer(t)
	ln := listen(t)
	done := serve(s, ln)
	client := dial(t, ln)
	c := <-started

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	if err := <-done; err != errClosed {
		t.Fatalf("Serve = %v, want %v", err, errClosed)
	}
	// The live connection still works and Shutdown waits for it.
	if _, err := client.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2)
	if _, err := io.ReadFull(client, buf); err != nil || string(buf) != "hi" {
		t.Fatalf("echo after Shutdown began: %q, %v", buf, err)
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a connection live", err)
	case <-time.After(50 * time.Millisecond):
	}
	client.Close()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	select {
	case <-c.terminated:
		t.Fatal("Shutdown terminated a connection that ended by itself")
	default:
	}
}

func TestShutdownDeadlineCloses(t *testing.T) {
	s, started := newTestServer(t)
	ln := listen(t)
	serve(s, ln)
	dial(t, ln)
	c := <-started

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := s.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "testproxy: shutdown: ") {
		t.Fatalf("Shutdown = %v, want testproxy: shutdown: deadline exceeded", err)
	}
	select {
	case <-c.terminated:
	default:
		t.Fatal("Shutdown past its deadline left a connection live")
	}
}

func TestListenAndServeErrorPrefix(t *testing.T) {
	s, _ := newTestServer(t)
	err := s.ListenAndServe("256.0.0.1:bad")
	if err == nil || !strings.HasPrefix(err.Error(), "testproxy: ") {
		t.Fatalf("ListenAndServe = %v, want a testproxy: error", err)
	}
}

// failingListener fails Accept n times before it blocks until closed.
type failingListener struct {
	net.Listener
	mu    sync.Mutex
	fails int
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if l.fails > 0 {
		l.fails--
		l.mu.Unlock()
		return nil, errors.New("too many open files")
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

func TestAcceptErrorsAreRetried(t *testing.T) {
	var logs strings.Builder
	var logMu sync.Mutex
	s := NewServer("testproxy", errClosed, slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil)), Hooks[*conn]{
		NewConn:   func(nc net.Conn) *conn { return &conn{nc: nc} },
		Serve:     func(c *conn) { c.nc.Close() },
		Terminate: func(c *conn) { c.nc.Close() },
	})
	fl := &failingListener{Listener: listen(t), fails: 2}
	done := serve(s, fl)
	dial(t, fl) // accepted once the failures are over
	time.Sleep(20 * time.Millisecond)
	s.Close()
	if err := <-done; err != errClosed {
		t.Fatalf("Serve = %v, want %v", err, errClosed)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if n := strings.Count(logs.String(), "testproxy: accept failed; retrying"); n != 2 {
		t.Fatalf("logged %d accept failures, want 2:\n%s", n, logs.String())
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
