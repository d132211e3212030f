package packaging_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// repoRoot is the module's top directory (tests run in packaging/).
func repoRoot(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// requireRoot: the package tests install packages and create users.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if sdktest.InCI() {
		t.Fatal("the packaging tests install packages on this machine and must run as root")
	}
	t.Skip("the packaging tests install packages on this machine: run them as root")
}

// skipShort skips a slow package test under -short, but never in CI: there
// the packaging tests always run.
func skipShort(t testing.TB, why string) {
	t.Helper()
	if testing.Short() && !sdktest.InCI() {
		t.Skip(why)
	}
}

// requireTools finds every tool the package tests use, failing in CI and
// skipping elsewhere when one is missing.
func requireTools(t testing.TB, names ...string) {
	t.Helper()
	gobin := filepath.Join(goEnv(t, "GOPATH"), "bin")
	for _, n := range names {
		sdktest.RequirePeer(t, n, gobin, "/usr/sbin", "/sbin")
	}
}

func goEnv(t testing.TB, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return strings.TrimSpace(string(out))
}

// run runs a command to completion and returns its stdout; a failure ends
// the test with both outputs.
func run(t testing.TB, stdin string, name string, args ...string) string {
	t.Helper()
	out, errOut, err := runErr(stdin, nil, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// runErr runs a command to completion with extra environment variables.
func runErr(stdin string, env []string, name string, args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// lockMachine serialises the tests that change this machine (packages,
// the vigil user, /etc/vigil): two `make test` runs may share it.
func lockMachine(t testing.TB) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "vigil-packaging-test.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
}

// dpkg runs dpkg the way apt does: it waits for the dpkg frontend lock
// (another apt or dpkg may be at work) and holds it while dpkg runs.
func dpkg(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := dpkgErr(t, args...)
	if err != nil {
		t.Fatalf("dpkg %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	t.Logf("dpkg %s:\n%s%s", strings.Join(args, " "), out, errOut)
	return out
}

func dpkgErr(t testing.TB, args ...string) (string, string, error) {
	t.Helper()
	f, err := os.OpenFile("/var/lib/dpkg/lock-frontend", os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLKW, &lk); err != nil {
		t.Fatalf("waiting for the dpkg frontend lock: %v", err)
	}
	return runErr("", []string{"DPKG_FRONTEND_LOCKED=1", "DEBIAN_FRONTEND=noninteractive"}, "dpkg", args...)
}

// installedVersion is the version dpkg has of a package, "" when none.
func installedVersion(name string) string {
	out, _, err := runErr("", nil, "dpkg-query", "-W", "-f", "${db:Status-Status} ${Version}", name)
	if err != nil {
		return ""
	}
	status, version, _ := strings.Cut(out, " ")
	if status == "not-installed" {
		return ""
	}
	return version
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// freePrivilegedPort finds a port below 1024 nothing listens on.
func freePrivilegedPort(t testing.TB) int {
	t.Helper()
	for p := 600; p < 1024; p++ {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err == nil {
			ln.Close()
			return p
		}
	}
	t.Fatal("no free port between 600 and 1023")
	return 0
}

// writeKey writes a fresh Ed25519 private key (OpenSSH format, 0600) and
// its public half (authorized_keys line) next to it as path.pub.
func writeKey(t testing.TB, path string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "vigil-packaging-test")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// process is a child the test started; its cleanup stops it by its PID.
type process struct {
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
	stdout *sdktest.SyncBuffer
	stderr *sdktest.SyncBuffer
}

// start starts cmd and registers a cleanup that sends SIGTERM, waits up to
// grace, then kills, and always waits.
func start(t testing.TB, cmd *exec.Cmd, grace time.Duration) *process {
	t.Helper()
	p := &process{cmd: cmd, done: make(chan struct{}), stdout: &sdktest.SyncBuffer{}, stderr: &sdktest.SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(grace) })
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM and waits up to grace before SIGKILL; it returns the
// exit error (nil on status 0).
func (p *process) stop(grace time.Duration) error {
	if !p.exited() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	return p.err
}

// --- the target: a real OpenSSH sshd that lets root in with a key ---

// startSSHD runs sshd on a free 127.0.0.1 port, accepting clientPub for
// root, and returns the port.
func startSSHD(t testing.TB, dir, clientPub string) int {
	t.Helper()
	bin := sdktest.RequirePeer(t, "sshd", "/usr/sbin")
	port := freePort(t)
	writeKey(t, filepath.Join(dir, "ssh_host_ed25519_key"))
	pub, err := os.ReadFile(clientPub)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %[2]s/ssh_host_ed25519_key
PidFile %[2]s/sshd.pid
AuthorizedKeysFile %[2]s/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PrintMotd no
PrintLastLog no
LogLevel VERBOSE
`, port, dir)
	confPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "", bin, "-t", "-f", confPath)
	p := start(t, exec.Command(bin, "-D", "-e", "-f", confPath), 10*time.Second)
	sdktest.WaitFor(t, 20*time.Second, "sshd to listen", func() bool {
		if p.exited() {
			t.Fatalf("sshd exited: %v\n%s", p.err, p.stderr)
		}
		c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return port
}

// --- running the unit's commands as systemd would ---

// unit is what the test takes from vigil.service and its drop-ins.
type unit struct {
	execStartPre, execStart []string
	user, group             string
	umask                   int
	ambientCaps             []uintptr
}

// capabilities systemd grants by name; the unit may name only these.
var capabilities = map[string]uintptr{"CAP_NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE}

// readUnit parses the [Service] lines the test emulates from the unit file
// and its drop-ins, in systemd's order (later files override or add).
func readUnit(t testing.TB, paths ...string) unit {
	t.Helper()
	u := unit{umask: 0o022}
	for _, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			key, value, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
			if !ok || strings.HasPrefix(key, "#") {
				continue
			}
			switch key {
			case "ExecStart":
				u.execStart = strings.Fields(value)
			case "ExecStartPre":
				u.execStartPre = strings.Fields(value)
			case "User":
				u.user = value
			case "Group":
				u.group = value
			case "UMask":
				m, err := strconv.ParseInt(value, 8, 32)
				if err != nil {
					t.Fatalf("%s: UMask=%s: %v", path, value, err)
				}
				u.umask = int(m)
			case "AmbientCapabilities":
				if value == "" {
					u.ambientCaps = nil
				}
				for _, name := range strings.Fields(value) {
					c, ok := capabilities[name]
					if !ok {
						t.Fatalf("%s: AmbientCapabilities=%s: the test does not know %s", path, value, name)
					}
					u.ambientCaps = append(u.ambientCaps, c)
				}
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, argv := range [][]string{u.execStart, u.execStartPre} {
		if len(argv) == 0 || !strings.HasPrefix(argv[0], "/") {
			t.Fatalf("the test runs plain absolute Exec lines, not %q", argv)
		}
	}
	return u
}

// command is argv run as the unit's user and group with the unit's umask
// and ambient capabilities, in the environment systemd gives a service
// with User= (plus env).
func (u unit) command(t testing.TB, argv []string, env ...string) *exec.Cmd {
	t.Helper()
	usr, err := user.Lookup(u.user)
	if err != nil {
		t.Fatalf("unit user: %v", err)
	}
	grp, err := user.LookupGroup(u.group)
	if err != nil {
		t.Fatalf("unit group: %v", err)
	}
	uid, _ := strconv.Atoi(usr.Uid)
	gid, _ := strconv.Atoi(grp.Gid)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = "/"
	cmd.Env = append([]string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C.UTF-8",
		"HOME=" + usr.HomeDir, "USER=" + u.user, "LOGNAME=" + u.user, "SHELL=/usr/sbin/nologin",
	}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential:  &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}},
		AmbientCaps: u.ambientCaps,
		Setsid:      true,
		Pdeathsig:   syscall.SIGKILL,
	}
	return cmd
}

// startWithUmask starts cmd under the unit's umask (a process-wide
// setting: the tests of this package do not run in parallel).
func (u unit) start(t testing.TB, cmd *exec.Cmd, grace time.Duration) *process {
	t.Helper()
	old := syscall.Umask(u.umask)
	defer syscall.Umask(old)
	return start(t, cmd, grace)
}

// openTempDir makes a temporary directory (removed by the cleanup) that
// every user may enter and read, unlike t.TempDir's 0700: user vigil reads
// in it.
func openTempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// notifySocket is the sd_notify socket systemd would pass in NOTIFY_SOCKET.
type notifySocket struct {
	path string
	mu   sync.Mutex
	msgs []string
}

// listenNotify opens a unixgram socket uid may send to.
func listenNotify(t testing.TB, uid int) *notifySocket {
	t.Helper()
	n := &notifySocket{path: filepath.Join(openTempDir(t, "vigil-notify-"), "notify")}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(n.path, uid, -1); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { conn.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, strings.Split(strings.TrimSpace(string(buf[:k])), "\n")...)
			n.mu.Unlock()
		}
	}()
	return n
}

func (n *notifySocket) has(line string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range n.msgs {
		if m == line {
			return true
		}
	}
	return false
}

func (n *notifySocket) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return strings.Join(n.msgs, " | ")
}
