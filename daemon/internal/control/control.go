package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// ErrNotRunning is returned by the client when no daemon listens on the socket.
var ErrNotRunning = errors.New("vigild is not running")

// HandlerFunc answers one control call: it decodes its input from in (nil
// for calls without a body) and returns what is sent back as JSON.
type HandlerFunc func(ctx context.Context, in json.RawMessage) (any, error)

// Error is the body of a failed call.
type Error struct {
	Error string `json:"error"`
}

// Server serves control calls on a unix socket.
type Server struct {
	path string
	ln   net.Listener
	mux  *http.ServeMux
	srv  *http.Server
}

// Listen creates the socket at path (removing a stale one left by a crash)
// with mode 0600.
func Listen(path string) (*Server, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control: %s: another vigild is already running", path)
	}
	_ = os.Remove(path)
	// The umask makes the socket 0600 from the moment it exists: a chmod
	// after bind would leave a window where others could connect.
	ln, err := listenPrivate(path)
	if err != nil {
		return nil, fmt.Errorf("control: %w", err)
	}
	s := &Server{path: path, ln: ln, mux: http.NewServeMux()}
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

// Handle registers fn for POST /v1/<name>.
func (s *Server) Handle(name string, fn HandlerFunc) {
	s.mux.HandleFunc("POST /v1/"+name, func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			writeJSON(w, http.StatusBadRequest, Error{Error: err.Error()})
			return
		}
		var in json.RawMessage
		if len(bytes.TrimSpace(body)) > 0 {
			in = body
		}
		out, err := fn(r.Context(), in)
		if err != nil {
			writeJSON(w, http.StatusUnprocessableEntity, Error{Error: err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, out)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// Serve answers calls until Shutdown.
func (s *Server) Serve() error {
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("control: %w", err)
	}
	return nil
}

// Shutdown stops serving and removes the socket.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	_ = os.Remove(s.path)
	if err != nil {
		return fmt.Errorf("control: %w", err)
	}
	return nil
}

// Client calls a running vigild.
type Client struct {
	path string
	http *http.Client
}

// NewClient returns a client for the socket at path.
func NewClient(path string) *Client {
	return &Client{path: path, http: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}}
}

// Call invokes name with in (may be nil) and decodes the answer into out
// (may be nil).
func (c *Client) Call(ctx context.Context, name string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("control: %s: %w", name, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://vigild/v1/"+name, body)
	if err != nil {
		return fmt.Errorf("control: %s: %w", name, err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) || errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("control: %s: %w (socket %s)", name, ErrNotRunning, c.path)
		}
		return fmt.Errorf("control: %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e Error
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil || e.Error == "" {
			return fmt.Errorf("control: %s: %s", name, resp.Status)
		}
		return fmt.Errorf("control: %s: %s", name, e.Error)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("control: %s: decoding answer: %w", name, err)
	}
	return nil
}
