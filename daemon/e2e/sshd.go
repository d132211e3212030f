package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// SSHD is the real OpenSSH server the gateway relays to. One serves every
// test of the package: it lets root in with KeyPath, the credential the
// gateway's targets are given.
type SSHD struct {
	Port int
	// KeyPath is root's private key on this server (the target credential
	// handed to `vigilctl targets add --key-file`).
	KeyPath string
	// HostKeyPath is the server's private host key; its public half,
	// HostKeyPath+".pub", is what a target's --host-key pins.
	HostKeyPath string
	dir         string
	cmd         *exec.Cmd
	done        chan struct{}
}

// Log is what the server has logged so far (LogLevel VERBOSE), for the
// whole package's sessions.
func (s *SSHD) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.dir, "sshd.log"))
	return string(b)
}

// Addr is host:port of the server.
func (s *SSHD) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }

var (
	sshdMu  sync.Mutex
	shared  *SSHD
	sshdErr error
)

// RequireSSHD returns the package's sshd, starting it on first use. Without
// sshd or the OpenSSH client the test is skipped (a failure with CI=true).
func RequireSSHD(t testing.TB) *SSHD {
	t.Helper()
	bin := sdktest.RequirePeer(t, "sshd", "/usr/sbin")
	sdktest.RequirePeer(t, "ssh")
	sdktest.RequirePeer(t, "ssh-keygen")
	sshdMu.Lock()
	defer sshdMu.Unlock()
	if shared == nil && sshdErr == nil {
		shared, sshdErr = startSSHD(bin)
	}
	if sshdErr != nil {
		t.Fatalf("e2e: starting sshd: %v", sshdErr)
	}
	return shared
}

// Keygen writes a new passphrase-less Ed25519 key pair at path and
// path.pub with ssh-keygen.
func Keygen(path string) error {
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vigil-e2e", "-f", path).CombinedOutput(); err != nil {
		return fmt.Errorf("ssh-keygen: %v: %s", err, out)
	}
	return nil
}

func startSSHD(bin string) (*SSHD, error) {
	dir, err := os.MkdirTemp("", "vigil-e2e-sshd-")
	if err != nil {
		return nil, err
	}
	s := &SSHD{dir: dir, KeyPath: filepath.Join(dir, "root_key"), HostKeyPath: filepath.Join(dir, "host_key"), done: make(chan struct{})}
	if err := Keygen(s.HostKeyPath); err != nil {
		return nil, err
	}
	if err := Keygen(s.KeyPath); err != nil {
		return nil, err
	}
	pub, err := os.ReadFile(s.KeyPath + ".pub")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.Port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %[2]s/host_key
PidFile %[2]s/sshd.pid
AuthorizedKeysFile %[2]s/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
Subsystem sftp internal-sftp
AcceptEnv LANG LC_* TZ VIGIL_*
MaxStartups 200
MaxSessions 100
PrintMotd no
PrintLastLog no
LogLevel VERBOSE
`, s.Port, dir)
	confPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		return nil, err
	}
	if out, err := exec.Command(bin, "-t", "-f", confPath).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sshd -t: %v: %s", err, out)
	}
	logf, err := os.Create(filepath.Join(dir, "sshd.log"))
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "-D", "-e", "-f", confPath)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() {
		_ = s.cmd.Wait()
		logf.Close()
		close(s.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", s.Addr())
		if err == nil {
			c.Close()
			return s, nil
		}
		select {
		case <-s.done:
			log, _ := os.ReadFile(filepath.Join(dir, "sshd.log"))
			return nil, fmt.Errorf("sshd exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			stopProcess(s.cmd, s.done, syscall.SIGTERM, 10*time.Second)
			return nil, fmt.Errorf("sshd did not listen on %s", s.Addr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func stopSharedSSHD() {
	sshdMu.Lock()
	defer sshdMu.Unlock()
	if shared == nil {
		return
	}
	stopProcess(shared.cmd, shared.done, syscall.SIGTERM, 10*time.Second)
	os.RemoveAll(shared.dir)
	shared = nil
}
