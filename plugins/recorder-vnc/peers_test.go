package main

import (
	"bufio"
	"crypto/des"
	"encoding/binary"
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

	"github.com/vigilgw/vigil/plugins/recorder-vnc/rfb"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// Real peers for the render benchmark: Xvfb, x11vnc, xterm and xsetroot
// make a real screen session, which a small RFB client records into a
// capture the way the gateway does (ServerInit, then the server stream).

// proc is a child process: started, waited on, stopped by its PID.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

func start(t testing.TB, cmd *exec.Cmd) *proc {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// startXvfb starts Xvfb on a display it picks (-displayfd) and returns
// the environment of its X clients.
func startXvfb(t testing.TB, w, h int) []string {
	t.Helper()
	bin := sdktest.RequirePeer(t, "Xvfb")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	cmd := exec.Command(bin, "-displayfd", "3", "-screen", "0", fmt.Sprintf("%dx%dx24", w, h), "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{pw}
	start(t, cmd)
	pw.Close()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatalf("Xvfb did not report its display: %v", err)
	}
	return append(os.Environ(), "DISPLAY=:"+strings.TrimSpace(line))
}

// startX11vnc serves the display of env on a free port with a VncAuth
// password and returns its address once it listens.
func startX11vnc(t testing.TB, env []string, password string) string {
	t.Helper()
	bin := sdktest.RequirePeer(t, "x11vnc")
	pwFile := filepath.Join(t.TempDir(), "passwd")
	if out, err := exec.Command(bin, "-storepasswd", password, pwFile).CombinedOutput(); err != nil {
		t.Fatalf("x11vnc -storepasswd: %v: %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "-rfbport", strconv.Itoa(port), "-localhost", "-noipv6", "-rfbauth", pwFile,
		"-forever", "-shared", "-noxrecord", "-nowf", "-nowcr", "-nonap", "-defer", "10", "-wait", "10")
	cmd.Env = env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	start(t, cmd)
	sc := bufio.NewScanner(stdout) // x11vnc prints PORT=<port> once it listens
	for sc.Scan() {
		if sc.Text() == "PORT="+strconv.Itoa(port) {
			go io.Copy(io.Discard, stdout)
			return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		}
	}
	t.Fatalf("x11vnc did not listen on %d", port)
	return ""
}

// vncAuth is the VncAuth answer: the challenge DES-encrypted under the
// password's bytes, bit-reversed.
func vncAuth(password string, challenge []byte) []byte {
	var key [8]byte
	copy(key[:], password)
	for i, b := range key {
		var r byte
		for j := 0; j < 8; j++ {
			r = r<<1 | b>>j&1
		}
		key[i] = r
	}
	c, _ := des.NewCipher(key[:])
	out := make([]byte, 16)
	c.Encrypt(out[:8], challenge[:8])
	c.Encrypt(out[8:], challenge[8:])
	return out
}

// recordX11vnc logs in to x11vnc at addr and records the session into s
// until stop is closed: ServerInit and every byte the server sends, while
// an incremental update request goes out every 40 ms.
func recordX11vnc(t testing.TB, s *session, addr, password string, stop <-chan struct{}) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	r := bufio.NewReader(nc)
	read := func(n int) []byte {
		b := make([]byte, n)
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatalf("x11vnc handshake: %v", err)
		}
		return b
	}
	read(12)
	nc.Write([]byte("RFB 003.008\n"))
	types := read(int(read(1)[0]))
	if !strings.ContainsRune(string(types), 2) {
		t.Fatalf("x11vnc offers %v", types)
	}
	nc.Write([]byte{2})
	nc.Write(vncAuth(password, read(16)))
	if res := read(4); binary.BigEndian.Uint32(res) != 0 {
		t.Fatal("x11vnc refused the password")
	}
	nc.Write([]byte{1})
	si := read(24)
	si = append(si, read(int(binary.BigEndian.Uint32(si[20:])))...)
	w, h := int(binary.BigEndian.Uint16(si)), int(binary.BigEndian.Uint16(si[2:]))
	pf, err := rfb.ParsePixelFormat(si[4:20])
	if err != nil {
		t.Fatal(err)
	}
	s.meta(capture.SessionMeta{Protocol: "vnc", PixelFormat: pf.String()})
	s.server(si)
	enc := []byte{2, 0, 0, 4}
	for _, e := range []int32{rfb.EncZRLE, rfb.EncCopyRect, rfb.EncRaw, rfb.EncCursor} {
		enc = binary.BigEndian.AppendUint32(enc, uint32(e))
	}
	nc.Write(enc)
	req := func(incremental byte) {
		b := []byte{3, incremental, 0, 0, 0, 0}
		b = binary.BigEndian.AppendUint16(b, uint16(w))
		nc.Write(binary.BigEndian.AppendUint16(b, uint16(h)))
	}
	req(0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := r.Read(buf)
			if n > 0 {
				if werr := s.w.Write(capture.ScreenServer, 0, buf[:n]); werr != nil {
					t.Error(werr)
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	tick := time.NewTicker(40 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			nc.Close()
			<-done
			return
		case <-tick.C:
			req(1)
		}
	}
}
