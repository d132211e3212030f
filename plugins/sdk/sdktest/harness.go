package sdktest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/hashicorp/go-plugin/runner"

	"github.com/vigilgw/vigil/plugins/sdk"
)

// startTimeout bounds a plugin's start in tests: a safety net against
// hangs, not an assertion about speed.
const startTimeout = time.Minute

// ServeReattach serves impl in this process over real gRPC, with the
// ServeConfig plugin binaries use (go-plugin's test mode: no process, no
// handshake cookie, no TLS), and returns what sdk.LaunchConfig.Reattach
// needs to connect to it. The server stops when the test ends.
func ServeReattach(t testing.TB, kind sdk.Kind, impl sdk.Plugin) *plugin.ReattachConfig {
	t.Helper()
	cfg, err := sdk.NewServeConfig(kind, impl)
	if err != nil {
		t.Fatalf("sdktest: %v", err)
	}
	cfg.Logger = TestLogger(t, "plugin-server")
	ctx, cancel := context.WithCancel(context.Background())
	reattach := make(chan *plugin.ReattachConfig, 1)
	closed := make(chan struct{})
	cfg.Test = &plugin.ServeTestConfig{Context: ctx, ReattachConfigCh: reattach, CloseCh: closed}
	go plugin.Serve(cfg)
	t.Cleanup(func() {
		cancel()
		<-closed
	})

	var rc *plugin.ReattachConfig
	select {
	case rc = <-reattach:
	case <-closed:
		t.Fatalf("sdktest: the in-process %s server stopped before it listened", kind)
	case <-time.After(startTimeout):
		t.Fatalf("sdktest: the in-process %s server did not listen within %s", kind, startTimeout)
	}
	rc.ReattachFunc = func() (runner.AttachedRunner, error) { return inProcess{closed: closed}, nil }
	return rc
}

// Serve serves impl in process over real gRPC (see ServeReattach) and
// returns the host's client after Info was checked and Configure called
// with configJSON, as for a launched binary. Everything stops when the test
// ends.
func Serve(t testing.TB, kind sdk.Kind, impl sdk.Plugin, configJSON []byte) *sdk.Client {
	t.Helper()
	rc := ServeReattach(t, kind, impl)
	c, err := sdk.Launch(context.Background(), sdk.LaunchConfig{
		Kind: kind, Reattach: rc, Config: configJSON, Logger: TestLogger(t, "plugin"), StartTimeout: startTimeout,
	})
	if err != nil {
		t.Fatalf("sdktest: attach to the in-process %s server: %v", kind, err)
	}
	t.Cleanup(c.Kill)
	return c
}

// inProcess is go-plugin's view of a server running in this process: it
// "exits" when the server stops.
type inProcess struct{ closed <-chan struct{} }

func (p inProcess) Wait(context.Context) error { <-p.closed; return nil }
func (inProcess) Kill(context.Context) error   { return nil }
func (inProcess) ID() string                   { return "in-process" }
func (inProcess) PluginToHost(n, a string) (string, string, error) {
	return n, a, nil
}
func (inProcess) HostToPlugin(n, a string) (string, string, error) {
	return n, a, nil
}

// ServeStorage serves impl in process over real gRPC; see Serve.
func ServeStorage(t testing.TB, impl sdk.Storage, configJSON []byte) sdk.Storage {
	t.Helper()
	s, err := Serve(t, sdk.KindStorage, impl, configJSON).Storage()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ServeLogFormatter serves impl in process over real gRPC; see Serve.
func ServeLogFormatter(t testing.TB, impl sdk.LogFormatter, configJSON []byte) sdk.LogFormatter {
	t.Helper()
	f, err := Serve(t, sdk.KindLogFormat, impl, configJSON).LogFormatter()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// ServeRecorder serves impl in process over real gRPC; see Serve.
func ServeRecorder(t testing.TB, impl sdk.Recorder, configJSON []byte) sdk.Recorder {
	t.Helper()
	r, err := Serve(t, sdk.KindRecorder, impl, configJSON).Recorder()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// BuildPlugin compiles the main package pkg (as `go build` takes it: an
// import path, or a directory relative to the test's package such as ".")
// into t.TempDir() under the file name name, and returns the executable's
// path.
func BuildPlugin(t testing.TB, pkg, name string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(t.TempDir(), name)
	if output, err := exec.Command(goBin, "build", "-o", out, pkg).CombinedOutput(); err != nil {
		t.Fatalf("sdktest: go build %s: %v\n%s", pkg, err, output)
	}
	return out
}

// BinDirEnv names the directory `make test` and `make bench` build every
// plugin into (VIGIL_BIN_DIR).
const BinDirEnv = "VIGIL_BIN_DIR"

// PluginBinary returns the executable name from $VIGIL_BIN_DIR when the
// Makefile built it there, and otherwise builds pkg with BuildPlugin.
func PluginBinary(t testing.TB, pkg, name string) string {
	t.Helper()
	if dir := os.Getenv(BinDirEnv); dir != "" {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return BuildPlugin(t, pkg, name)
}

// Launch starts the plugin executable at path as a real process (AutoMTLS,
// the handshake, version negotiation, Info, Configure with configJSON),
// logging its output to the test log, and kills it when the test ends.
func Launch(t testing.TB, kind sdk.Kind, path string, configJSON []byte) *sdk.Client {
	t.Helper()
	c, err := sdk.Launch(context.Background(), sdk.LaunchConfig{
		Kind: kind, Path: path, Config: configJSON, Logger: TestLogger(t, filepath.Base(path)), StartTimeout: startTimeout,
	})
	if err != nil {
		t.Fatalf("sdktest: launch %s: %v", path, err)
	}
	t.Cleanup(c.Kill)
	return c
}

// LaunchStorage launches a storage plugin executable; see Launch.
func LaunchStorage(t testing.TB, path string, configJSON []byte) sdk.Storage {
	t.Helper()
	s, err := Launch(t, sdk.KindStorage, path, configJSON).Storage()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// LaunchLogFormatter launches a logformat plugin executable; see Launch.
func LaunchLogFormatter(t testing.TB, path string, configJSON []byte) sdk.LogFormatter {
	t.Helper()
	f, err := Launch(t, sdk.KindLogFormat, path, configJSON).LogFormatter()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// LaunchRecorder launches a recorder plugin executable; see Launch.
func LaunchRecorder(t testing.TB, path string, configJSON []byte) sdk.Recorder {
	t.Helper()
	r, err := Launch(t, sdk.KindRecorder, path, configJSON).Recorder()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestLogger returns an hclog logger named name that writes to the test
// log, and goes quiet once the test and its cleanups are over (plugin
// goroutines may still be draining a pipe then). Tests get debug lines
// (shown only on failure or with -v); benchmarks, whose log always prints,
// only warnings and errors.
func TestLogger(t testing.TB, name string) hclog.Logger {
	w := &testWriter{t: t}
	t.Cleanup(w.close)
	level := hclog.Debug
	if _, ok := t.(*testing.B); ok {
		level = hclog.Warn
	}
	return hclog.New(&hclog.LoggerOptions{Name: name, Output: w, Level: level})
}

type testWriter struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
}
