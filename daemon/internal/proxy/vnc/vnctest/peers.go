package vnctest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// Child is a process a test started: it is waited on, and stopped by its
// PID.
type Child struct {
	Name string
	Cmd  *exec.Cmd
	done chan struct{}
	err  error
	// Out is what it printed (the first MiB).
	Out *sdktest.SyncBuffer
}

// StartChild starts cmd, collecting its output, and waits on it in the
// background.
func StartChild(name string, cmd *exec.Cmd) (*Child, error) {
	c := &Child{Name: name, Cmd: cmd, done: make(chan struct{}), Out: &sdktest.SyncBuffer{Max: 1 << 20}}
	if cmd.Stdout == nil {
		cmd.Stdout = c.Out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = c.Out
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("vnctest: starting %s: %w", name, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// Done is closed once the process has exited and been waited for.
func (c *Child) Done() <-chan struct{} { return c.done }

// Stop ends the child with SIGTERM (SIGKILL after 5 s) and waits for it.
func (c *Child) Stop() {
	if c == nil {
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	c.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.Cmd.Process.Kill()
		<-c.done
	}
}

// Display is an Xvfb server.
type Display struct {
	Num  int
	Xvfb *Child
}

// Env is the environment of an X client on the display.
func (d *Display) Env() []string {
	return append(os.Environ(), "DISPLAY=:"+strconv.Itoa(d.Num))
}

// StartXvfb starts Xvfb w x h x 24 on a display number it picks itself
// (-displayfd), so that tests running beside others never collide on one.
func StartXvfb(w, h int) (*Display, error) {
	bin, err := exec.LookPath("Xvfb")
	if err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer pr.Close()
	cmd := exec.Command(bin, "-displayfd", "3", "-screen", "0", fmt.Sprintf("%dx%dx24", w, h), "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{pw}
	c, err := StartChild("Xvfb", cmd)
	pw.Close()
	if err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(pr).ReadString('\n')
	n, convErr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || convErr != nil {
		c.Stop()
		return nil, fmt.Errorf("vnctest: Xvfb did not report its display (%q, %v): %s", line, err, c.Out)
	}
	return &Display{Num: n, Xvfb: c}, nil
}

// X11vnc is an x11vnc server on a display, with a VncAuth password.
type X11vnc struct {
	D        *Display
	Port     int
	Password string
	proc     *Child
	dir      string
}

// Addr is the server's 127.0.0.1 address.
func (x *X11vnc) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(x.Port)) }

// FreePort is a 127.0.0.1 TCP port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// StartX11vnc runs x11vnc on d with a password file made by
// `x11vnc -storepasswd`, on a free 127.0.0.1 port, and waits until it
// listens.
func StartX11vnc(d *Display, password string) (*X11vnc, error) {
	bin, err := exec.LookPath("x11vnc")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "vigil-vnctest-x11vnc-")
	if err != nil {
		return nil, err
	}
	pwFile := filepath.Join(dir, "passwd")
	if out, err := exec.Command(bin, "-storepasswd", password, pwFile).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("vnctest: x11vnc -storepasswd: %v: %s", err, out)
	}
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "-display", ":"+strconv.Itoa(d.Num), "-rfbport", strconv.Itoa(port),
			"-localhost", "-noipv6", "-rfbauth", pwFile, "-forever", "-shared",
			"-noxrecord", "-nowf", "-nowcr", "-nonap", "-defer", "10", "-wait", "10")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		c, err := StartChild("x11vnc", cmd)
		if err != nil {
			return nil, err
		}
		// x11vnc prints PORT=<port> on stdout once it listens.
		sc := bufio.NewScanner(stdout)
		ready := false
		for sc.Scan() {
			if sc.Text() == "PORT="+strconv.Itoa(port) {
				ready = true
				break
			}
		}
		if ready {
			go io.Copy(io.Discard, stdout)
			return &X11vnc{D: d, Port: port, Password: password, proc: c, dir: dir}, nil
		}
		c.Stop()
		if !strings.Contains(c.Out.String(), "Address already in use") && !strings.Contains(c.Out.String(), "failed to find open port") {
			return nil, fmt.Errorf("vnctest: x11vnc did not start on port %d: %s", port, c.Out)
		}
	}
	return nil, fmt.Errorf("vnctest: x11vnc found no free port")
}

// Stop stops x11vnc (not its display).
func (x *X11vnc) Stop() {
	x.proc.Stop()
	os.RemoveAll(x.dir)
}

// XRun runs an X client on d to completion.
func XRun(t testing.TB, d *Display, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = d.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}

// XStart starts a long-running X client on d; it is stopped when the test
// ends.
func XStart(t testing.TB, d *Display, name string, args ...string) *Child {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = d.Env()
	c, err := StartChild(name, cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	return c
}
