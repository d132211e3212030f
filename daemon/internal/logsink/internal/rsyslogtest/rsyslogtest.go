package rsyslogtest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
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

// Server is a running (or stopped) rsyslogd.
type Server struct {
	t       testing.TB
	bin     string
	dir     string
	conf    string
	pidFile string
	out     string

	TCPAddr, UDPAddr, TLSAddr string
	// CAFile signs both the server's certificate (for "localhost" and
	// 127.0.0.1) and the client's (ClientCert, ClientKey).
	CAFile, ClientCert, ClientKey string

	mu  sync.Mutex
	cmd *exec.Cmd
	log sdktest.SyncBuffer

	countMu   sync.Mutex
	countOff  int64
	countSeen int
}

// Start writes the configuration and starts rsyslogd. It skips the test
// where rsyslogd is missing (fails in CI). The server stops at cleanup.
func Start(t testing.TB) *Server {
	t.Helper()
	bin := sdktest.RequirePeer(t, "rsyslogd", "/usr/sbin", "/sbin")
	dir := t.TempDir()
	s := &Server{
		t: t, bin: bin, dir: dir,
		conf:    filepath.Join(dir, "rsyslog.conf"),
		pidFile: filepath.Join(dir, "rsyslogd.pid"),
		out:     filepath.Join(dir, "out.log"),
		TCPAddr: freeAddr(t, "tcp"), UDPAddr: freeAddr(t, "udp"), TLSAddr: freeAddr(t, "tcp"),
	}
	s.writeCerts()
	if err := os.MkdirAll(filepath.Join(dir, "work"), 0o700); err != nil {
		t.Fatal(err)
	}
	port := func(a string) string { _, p, _ := net.SplitHostPort(a); return p }
	conf := fmt.Sprintf(`global(
  workDirectory="%[1]s/work"
  maxMessageSize="256k"
  defaultNetstreamDriverCAFile="%[1]s/ca.pem"
  defaultNetstreamDriverCertFile="%[1]s/server.pem"
  defaultNetstreamDriverKeyFile="%[1]s/server-key.pem"
)
main_queue(queue.size="200000" queue.timeoutShutdown="20000" queue.timeoutEnqueue="60000")
module(load="imtcp" maxSessions="200")
module(load="imudp")
input(type="imtcp" address="127.0.0.1" port="%[2]s")
input(type="imtcp" address="127.0.0.1" port="%[3]s" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
input(type="imudp" address="127.0.0.1" port="%[4]s" rcvbufSize="8m")
template(name="raw" type="string" string="%%rawmsg%%\n")
action(type="omfile" file="%[5]s" template="raw" flushOnTXEnd="on")
`, dir, port(s.TCPAddr), port(s.TLSAddr), port(s.UDPAddr), s.out)
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-N1", "-f", s.conf).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd -N1: %v\n%s", err, out)
	}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Start (re)starts a stopped server on the same ports and waits until its
// TCP and TLS listeners accept connections.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		return
	}
	cmd := exec.Command(s.bin, "-n", "-f", s.conf, "-i", s.pidFile)
	s.log.Reset()
	cmd.Stdout, cmd.Stderr = &s.log, &s.log
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		s.t.Fatalf("start rsyslogd: %v", err)
	}
	s.cmd = cmd
	s.mu.Unlock()
	// On a machine busy with other builds and tests rsyslogd can take
	// seconds to start; if it never listens, its own output says why.
	deadline := time.Now().Add(listenTimeout)
	for _, a := range []string{s.TCPAddr, s.TLSAddr} {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				s.t.Fatalf("rsyslogd not listening on %s after %s: %v; its output:\n%s", a, listenTimeout, err, s.Log())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// listenTimeout bounds how long Start waits for rsyslogd's listeners.
const listenTimeout = 30 * time.Second

// PID is the running rsyslogd's process id, 0 when it is stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Stop stops the server with SIGTERM (it writes out what it queued) and
// waits for it.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Kill stops the server with SIGKILL.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

func (s *Server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(sig)
	s.cmd.Wait()
	s.cmd = nil
}

// Log returns what rsyslogd printed.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// Lines returns the messages written so far, one per line, without the
// newline. A last line still being written is left out.
func (s *Server) Lines() []string {
	s.t.Helper()
	f, err := os.Open(s.out)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		s.t.Fatal(err)
	}
	defer f.Close()
	var out []string
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return out
		}
		out = append(out, strings.TrimSuffix(line, "\n"))
	}
}

// CountLines counts the complete lines written so far, reading only what
// was added since the last call.
func (s *Server) CountLines() int {
	s.countMu.Lock()
	defer s.countMu.Unlock()
	f, err := os.Open(s.out)
	if err != nil {
		return s.countSeen
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	for {
		n, err := f.ReadAt(buf, s.countOff)
		s.countSeen += bytes.Count(buf[:n], []byte{'\n'})
		s.countOff += int64(n)
		if err != nil || n == 0 {
			return s.countSeen
		}
	}
}

// WaitLines waits until at least n lines were written and returns them.
func (s *Server) WaitLines(n int, timeout time.Duration) []string {
	s.t.Helper()
	sdktest.WaitFor(s.t, timeout, fmt.Sprintf("%d lines from rsyslogd", n), func() bool {
		return s.CountLines() >= n
	})
	return s.Lines()
}

func freeAddr(t testing.TB, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// writeCerts makes a CA, a server certificate for localhost/127.0.0.1 and a
// client certificate, all signed by the CA.
func (s *Server) writeCerts() {
	t := s.t
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "vigil test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	s.CAFile = filepath.Join(s.dir, "ca.pem")
	writePEM(t, s.CAFile, "CERTIFICATE", caDER)
	leaf := func(name string, serial int64, usage x509.ExtKeyUsage) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, _ := x509.MarshalECPrivateKey(key)
		writePEM(t, filepath.Join(s.dir, name+".pem"), "CERTIFICATE", der)
		writePEM(t, filepath.Join(s.dir, name+"-key.pem"), "EC PRIVATE KEY", keyDER)
	}
	leaf("server", 2, x509.ExtKeyUsageServerAuth)
	leaf("client", 3, x509.ExtKeyUsageClientAuth)
	s.ClientCert = filepath.Join(s.dir, "client.pem")
	s.ClientKey = filepath.Join(s.dir, "client-key.pem")
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}
