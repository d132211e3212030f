package vncproxy

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
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// A real VNC server for the tests: Xvfb with x11vnc on it, started once
// per test binary and stopped by TestMain. Tests that change its screen
// do not run in parallel.

// child is a process the tests started: they wait on it and stop it by
// its PID.
type child struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	out  *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 1<<20 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startChild starts cmd, collecting its output, and waits on it in the
// background.
func startChild(name string, cmd *exec.Cmd) (*child, error) {
	c := &child{name: name, cmd: cmd, done: make(chan struct{}), out: &lockedBuffer{}}
	if cmd.Stdout == nil {
		cmd.Stdout = c.out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = c.out
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// stop ends the child with SIGTERM (SIGKILL after 5 s) and waits for it.
func (c *child) stop() {
	if c == nil {
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// display is an Xvfb server.
type display struct {
	num  int
	xvfb *child
}

func (d *display) env() []string {
	return append(os.Environ(), "DISPLAY=:"+strconv.Itoa(d.num))
}

// startXvfb starts Xvfb on a display number it picks itself (-displayfd),
// so that tests running beside others never collide on one.
func startXvfb(w, h int) (*display, error) {
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
	c, err := startChild("Xvfb", cmd)
	pw.Close()
	if err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(pr).ReadString('\n')
	n, convErr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || convErr != nil {
		c.stop()
		return nil, fmt.Errorf("Xvfb did not report its display (%q, %v): %s", line, err, c.out)
	}
	return &display{num: n, xvfb: c}, nil
}

// x11vnc is an x11vnc server on a display, with a VncAuth password.
type x11vnc struct {
	d        *display
	port     int
	password string
	proc     *child
	dir      string
}

func (x *x11vnc) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(x.port)) }

func (x *x11vnc) target(name string) Target {
	return Target{ID: "id-" + name, Name: name, FriendlyName: "X11 " + name, Host: "127.0.0.1", Port: x.port, Password: x.password}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// startX11vnc runs x11vnc on d with a password file made by
// `x11vnc -storepasswd`, on a free 127.0.0.1 port, and waits until it
// listens.
func startX11vnc(d *display, password string) (*x11vnc, error) {
	bin, err := exec.LookPath("x11vnc")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "vigil-vncproxy-x11vnc-")
	if err != nil {
		return nil, err
	}
	pwFile := filepath.Join(dir, "passwd")
	if out, err := exec.Command(bin, "-storepasswd", password, pwFile).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("x11vnc -storepasswd: %v: %s", err, out)
	}
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "-display", ":"+strconv.Itoa(d.num), "-rfbport", strconv.Itoa(port),
			"-localhost", "-noipv6", "-rfbauth", pwFile, "-forever", "-shared",
			"-noxrecord", "-nowf", "-nowcr", "-nonap", "-defer", "10", "-wait", "10")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		c, err := startChild("x11vnc", cmd)
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
			return &x11vnc{d: d, port: port, password: password, proc: c, dir: dir}, nil
		}
		c.stop()
		if !strings.Contains(c.out.String(), "Address already in use") && !strings.Contains(c.out.String(), "failed to find open port") {
			return nil, fmt.Errorf("x11vnc did not start on port %d: %s", port, c.out)
		}
	}
	return nil, fmt.Errorf("x11vnc found no free port")
}

func (x *x11vnc) stop() {
	x.proc.stop()
	os.RemoveAll(x.dir)
}

var (
	peersOnce sync.Once
	peersErr  error
	sharedVNC *x11vnc
)

// requireX11vnc starts (once) Xvfb 1280x720 and x11vnc on it.
func requireX11vnc(t testing.TB) *x11vnc {
	t.Helper()
	sdktest.RequirePeer(t, "Xvfb")
	sdktest.RequirePeer(t, "x11vnc")
	sdktest.RequirePeer(t, "xsetroot")
	peersOnce.Do(func() {
		d, err := startXvfb(1280, 720)
		if err != nil {
			peersErr = err
			return
		}
		sharedVNC, peersErr = startX11vnc(d, "vnc-pass")
		if peersErr != nil {
			d.xvfb.stop()
		}
	})
	if peersErr != nil {
		t.Fatalf("starting Xvfb and x11vnc: %v", peersErr)
	}
	return sharedVNC
}

func stopPeers() {
	if sharedVNC != nil {
		sharedVNC.stop()
		sharedVNC.d.xvfb.stop()
	}
}

// xrun runs an X client on d to completion.
func xrun(t testing.TB, d *display, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = d.env()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v: %s", name, args, err, out)
	}
}

// xstart starts a long-running X client on d; it is stopped when the test
// ends.
func xstart(t testing.TB, d *display, name string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = d.env()
	c, err := startChild(name, cmd)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.stop)
	return c
}
