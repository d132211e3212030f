package e2e

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// clientOptions make the OpenSSH clients non-interactive and blind to the
// user's own configuration and known hosts.
func clientOptions(keyPath string) []string {
	return []string{
		"-F", "/dev/null",
		"-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null",
		"-o", "BatchMode=yes",
		"-o", "IdentitiesOnly=yes",
		"-o", "ConnectTimeout=30",
		"-o", "LogLevel=ERROR",
		"-i", keyPath,
	}
}

// SSHCommand is `ssh` through the gateway as login ("USER:TARGET") with
// the user's key, running remote (a shell command line) on the target.
func (v *Vigild) SSHCommand(u User, login string, remote ...string) *exec.Cmd {
	return v.SSHCommandWith(u, login, nil, remote...)
}

// SSHCommandWith is SSHCommand with more ssh options (-W, -R ...) before
// the host.
func (v *Vigild) SSHCommandWith(u User, login string, options []string, remote ...string) *exec.Cmd {
	args := append(clientOptions(u.KeyPath), "-p", strconv.Itoa(v.SSHPort), "-l", login)
	args = append(append(args, options...), "127.0.0.1")
	args = append(args, remote...)
	return exec.Command("ssh", args...)
}

// SCPCommand is `scp` through the gateway as login with the user's key;
// legacy selects the original scp protocol (-O) instead of SFTP. Remote
// paths in args are written "127.0.0.1:PATH" (see SCPRemote): scp would
// read the ':' of "USER:TARGET@host" as the end of a host name, so the
// login goes in -o User=.
func (v *Vigild) SCPCommand(u User, login string, legacy bool, args ...string) *exec.Cmd {
	a := append(clientOptions(u.KeyPath), "-P", strconv.Itoa(v.SSHPort), "-q", "-o", "User="+login)
	if legacy {
		a = append(a, "-O")
	}
	return exec.Command("scp", append(a, args...)...)
}

// SCPRemote is scp's "127.0.0.1:PATH".
func SCPRemote(path string) string { return "127.0.0.1:" + path }

// Dial opens an x/crypto/ssh client connection through the gateway as
// login; it does not check the gateway's host key.
func (v *Vigild) Dial(login string, auth ...ssh.AuthMethod) (*ssh.Client, error) {
	return v.DialConfig(login, ssh.ClientConfig{Auth: auth})
}

// DialConfig opens an x/crypto/ssh client connection through the gateway
// with cfg (a BannerCallback, say); User, Timeout and an insecure
// HostKeyCallback are filled in when cfg leaves them empty.
func (v *Vigild) DialConfig(login string, cfg ssh.ClientConfig) (*ssh.Client, error) {
	if cfg.User == "" {
		cfg.User = login
	}
	if cfg.HostKeyCallback == nil {
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey() // the test's own gateway, on 127.0.0.1
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	return ssh.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(v.SSHPort)), &cfg)
}

// KeyAuth is public-key authentication with the user's key.
func KeyAuth(t testing.TB, u User) ssh.AuthMethod {
	t.Helper()
	b, err := os.ReadFile(u.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return ssh.PublicKeys(signer)
}
