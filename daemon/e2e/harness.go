package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// Timeouts are safety nets against hangs, never assertions about speed:
// the machines that run the suite are small and busy.
const (
	// StartTimeout bounds a vigild start (plugins launch, keys are made).
	StartTimeout = 90 * time.Second
	// StopTimeout bounds a drain after SIGTERM.
	StopTimeout = 60 * time.Second
	// EventTimeout bounds the wait for an event to reach its log file.
	EventTimeout = 30 * time.Second
	// CommandTimeout bounds one vigilctl or client command.
	CommandTimeout = 2 * time.Minute
)

var (
	binDir string
	// buildDir is the temporary directory Main built the binaries into,
	// removed when the tests end.
	buildDir string
)

// Main builds the binaries (unless $VIGIL_BIN_DIR has them), runs the
// tests and stops the shared sshd. A test package's TestMain returns
// os.Exit(e2e.Main(m)).
func Main(m *testing.M) int {
	if err := prepareBinaries(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	code := m.Run()
	stopSharedSSHD()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	return code
}

// BinDir is the directory holding vigild, vigilctl and every
// vigil-plugin-<kind>-<name>; vigild's plugin_dir points at it.
func BinDir() string { return binDir }

// Bin is the path of one of the binaries.
func Bin(name string) string { return filepath.Join(binDir, name) }

func prepareBinaries() error {
	if dir := os.Getenv(sdktest.BinDirEnv); dir != "" {
		for _, name := range []string{"vigild", "vigilctl", "vigil-plugin-recorder-ssh", "vigil-plugin-logformat-json", "vigil-plugin-storage-local"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("$%s=%s lacks %s (run `make build`): %w", sdktest.BinDirEnv, dir, name, err)
			}
		}
		binDir = dir
		return nil
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "vigil-e2e-bin-")
	if err != nil {
		return err
	}
	buildDir, binDir = dir, dir
	mains, err := filepath.Glob(filepath.Join(root, "plugins", "*", "main.go"))
	if err != nil {
		return err
	}
	// One `go build` for every main package compiles them in parallel;
	// plugins land under their directory's name and are renamed after.
	pkgs := []string{"./daemon/cmd/vigild", "./daemon/cmd/vigilctl"}
	var plugins []string
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		plugins = append(plugins, name)
		pkgs = append(pkgs, "./plugins/"+name)
	}
	cmd := exec.Command(goTool(), append([]string{"build", "-o", dir + "/"}, pkgs...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	for _, p := range plugins {
		if err := os.Rename(filepath.Join(dir, p), filepath.Join(dir, "vigil-plugin-"+p)); err != nil {
			return err
		}
	}
	return nil
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(os.Getenv("GOROOT"), "bin", "go")
}

// moduleRoot is the directory of the module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command(goTool(), "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the vigil module")
	}
	return filepath.Dir(mod), nil
}

// FreePort returns a 127.0.0.1 TCP port that was free a moment ago.
//
// The kernel may hand a just-closed port out again, so FreePort never
// returns a port it returned before in this test process: two listeners of
// one vigild asked for in a row would otherwise collide now and then.
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !portsGiven[port] {
			portsGiven[port] = true
			return port
		}
	}
	t.Fatal("e2e: no port that was not handed out before after 100 tries")
	return 0
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// Proc is a child process the test waits on. It is killed (by its own PID)
// and waited for when the test ends, if it has not exited by then.
type Proc struct {
	Cmd            *exec.Cmd
	Stdout, Stderr *SyncBuffer
	done           chan struct{}
	err            error
}

// StartProc starts cmd with its output in buffers (unless the caller set
// Stdout or Stderr).
func StartProc(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	p := &Proc{Cmd: cmd, Stdout: &SyncBuffer{}, Stderr: &SyncBuffer{}, done: make(chan struct{})}
	if cmd.Stdout == nil {
		cmd.Stdout = p.Stdout
	}
	if cmd.Stderr == nil {
		cmd.Stderr = p.Stderr
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// Done is closed when the process has exited and been waited for.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the process to exit and returns its exit
// code (-1 when killed by a signal).
func (p *Proc) Wait(t testing.TB, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("%s did not exit within %s; stdout:\n%s\nstderr:\n%s", strings.Join(p.Cmd.Args, " "), timeout, p.Stdout, p.Stderr)
	}
	return p.ExitCode()
}

// ExitCode is the exit code of an exited process.
func (p *Proc) ExitCode() int {
	<-p.done
	return p.Cmd.ProcessState.ExitCode()
}

// Err is what Wait returned.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Run runs cmd to its end (at most CommandTimeout) and returns its output
// and exit code.
func Run(t testing.TB, cmd *exec.Cmd) (stdout, stderr string, code int) {
	t.Helper()
	p := StartProc(t, cmd)
	code = p.Wait(t, CommandTimeout)
	return p.Stdout.String(), p.Stderr.String(), code
}

// stopProcess sends sig to cmd's process and waits up to timeout for done,
// then kills it.
func stopProcess(cmd *exec.Cmd, done <-chan struct{}, sig syscall.Signal, timeout time.Duration) bool {
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
		return true
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return false
	}
}

// Poll polls cond every few milliseconds until it holds, and fails the
// test after timeout with what(), built then, so that it can say what was
// seen (sdktest.WaitFor, with a message made late). The timeout is a
// safety net against hangs, never an assertion about speed.
func Poll(t testing.TB, timeout time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// SyncBuffer is sdktest.SyncBuffer, under the name e2e tests know.
type SyncBuffer = sdktest.SyncBuffer
