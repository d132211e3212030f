// Package s3test runs a real S3 server for tests: versitygw over a POSIX
// directory, bound to 127.0.0.1, started and stopped by its own PID and
// always waited for. Tests of the storage-s3 plugin and of the recording
// pipeline share it.
package s3test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// Credentials of the single account versitygw runs with.
const (
	AccessKey = "vigil-test-access"
	SecretKey = "vigil-test-secret-0123456789"
)

// startTimeout bounds versitygw's start: a safety net, not a speed check.
const startTimeout = time.Minute

// Server is one versitygw process (or, after Stop, the directory and
// port it used, ready for Start again).
type Server struct {
	t      testing.TB
	bin    string
	dir    string
	addr   string
	log    string
	caFile string // with TLS: the CA that signed the server's certificate
	tlsCfg *tls.Config
	args   []string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs versitygw on a free port of 127.0.0.1 over a new directory,
// speaking plain HTTP, waits until it answers, and stops it when the test
// ends. The test is skipped (failed in CI) when versitygw is not installed.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t, false)
}

// StartTLS is Start with HTTPS, under a certificate for 127.0.0.1 signed
// by a CA made for the test (CAFile).
func StartTLS(t testing.TB) *Server {
	t.Helper()
	return start(t, true)
}

func start(t testing.TB, withTLS bool) *Server {
	t.Helper()
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		home, _ := os.UserHomeDir()
		gopath = filepath.Join(home, "go")
	}
	bin := sdktest.RequirePeer(t, "versitygw", filepath.Join(gopath, "bin"))
	dir := t.TempDir()
	s := &Server{t: t, bin: bin, dir: filepath.Join(dir, "data"), log: filepath.Join(dir, "versitygw.log"), addr: freeAddr(t)}
	if err := os.Mkdir(s.dir, 0o750); err != nil {
		t.Fatal(err)
	}
	s.args = []string{"--port", s.addr, "--access", AccessKey, "--secret", SecretKey}
	if withTLS {
		certFile, keyFile := s.makeCertificates(dir)
		s.args = append(s.args, "--cert", certFile, "--key", keyFile)
	}
	t.Cleanup(s.Stop)
	s.Start()
	return s
}

func freeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("s3test: %v", err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Start starts versitygw again (after Stop) on the same port and data.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatal("s3test: versitygw is already running")
	}
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(s.bin, append(s.args, "posix", s.dir)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.t.Fatalf("s3test: start versitygw: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	s.cmd, s.done = cmd, done

	deadline := time.Now().Add(startTimeout)
	probe := &http.Client{Transport: &http.Transport{TLSClientConfig: s.tlsCfg}}
	for {
		resp, err := probe.Get(s.Endpoint() + "/")
		if err == nil {
			resp.Body.Close()
			return
		}
		select {
		case <-done:
			s.cmd = nil
			s.t.Fatalf("s3test: versitygw exited at start:\n%s", s.logTail())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("s3test: versitygw did not answer on %s within %s:\n%s", s.addr, startTimeout, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop ends versitygw (SIGTERM, then SIGKILL after 10 s) and waits for
// it. Calling it on a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
	s.cmd, s.done = nil, nil
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.log)
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}

// Addr is host:port.
func (s *Server) Addr() string { return s.addr }

// Endpoint is the server's URL, http(s)://127.0.0.1:port.
func (s *Server) Endpoint() string {
	if s.tlsCfg != nil {
		return "https://" + s.addr
	}
	return "http://" + s.addr
}

// CAFile is the PEM file of the CA that signed a TLS server's certificate
// ("" without TLS).
func (s *Server) CAFile() string { return s.caFile }

// Dir is the directory versitygw keeps buckets in.
func (s *Server) Dir() string { return s.dir }

// Client is a minio-go client of the server.
func (s *Server) Client() *minio.Client {
	s.t.Helper()
	opts := &minio.Options{Creds: credentials.NewStaticV4(AccessKey, SecretKey, ""), Region: "us-east-1"}
	if s.tlsCfg != nil {
		opts.Secure = true
		opts.Transport = &http.Transport{TLSClientConfig: s.tlsCfg}
	}
	c, err := minio.New(s.addr, opts)
	if err != nil {
		s.t.Fatalf("s3test: %v", err)
	}
	return c
}

// CreateBucket creates a bucket through the S3 API.
func (s *Server) CreateBucket(name string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Client().MakeBucket(ctx, name, minio.MakeBucketOptions{}); err != nil {
		s.t.Fatalf("s3test: create bucket %s: %v", name, err)
	}
}

// PluginConfig is the storage-s3 plugin's JSON configuration for bucket on
// this server, with extra settings merged over it.
func (s *Server) PluginConfig(bucket string, extra map[string]any) []byte {
	s.t.Helper()
	cfg := map[string]any{
		"endpoint": s.Endpoint(), "bucket": bucket, "region": "us-east-1",
		"access_key": AccessKey, "secret_key": SecretKey, "max_retries": 1,
	}
	if s.tlsCfg == nil {
		cfg["allow_http"] = true
	} else {
		cfg["ca_file"] = s.caFile
	}
	for k, v := range extra {
		cfg[k] = v
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	return b
}

// Objects lists every object of bucket with its size, straight from the
// server (not through the plugin).
func (s *Server) Objects(bucket string) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out := map[string]int64{}
	for o := range s.Client().ListObjectsIter(ctx, bucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("s3test: list %s: %w", bucket, o.Err)
		}
		out[o.Key] = o.Size
	}
	return out, nil
}
