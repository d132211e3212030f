package sshproxy

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
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

	"golang.org/x/crypto/ssh"

	"github.com/vigilgw/vigil/daemon/internal/admission"
	"github.com/vigilgw/vigil/daemon/internal/sessions"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

func TestMain(m *testing.M) {
	if os.Getenv(gatewayHelperEnv) != "" {
		os.Exit(runGatewayHelper())
	}
	code := m.Run()
	stopTargetSSHD()
	os.Exit(code)
}

// --- keys ---

// newKeyFile writes a fresh Ed25519 private key in OpenSSH format, 0600.
func newKeyFile(t testing.TB, path string) (ssh.Signer, []byte) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "vigil-test")
	if err != nil {
		t.Fatal(err)
	}
	pemBytes := pem.EncodeToMemory(block)
	if path != "" {
		if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return signer, pemBytes
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

// --- the real target: one OpenSSH sshd for the whole test binary ---

type targetSSHD struct {
	dir        string
	port       int
	hostKey    ssh.PublicKey
	clientPEM  []byte // root's key, the gateway's stored credential
	clientKey  ssh.Signer
	cmd        *exec.Cmd
	logPath    string
	waitResult chan error
}

var (
	sshdOnce sync.Once
	sshd     *targetSSHD
	sshdErr  error
)

// requireSSHD starts (once) a real sshd on a free 127.0.0.1 port that lets
// root in with a generated key.
func requireSSHD(t testing.TB) *targetSSHD {
	t.Helper()
	bin := sdktest.RequirePeer(t, "sshd", "/usr/sbin")
	sdktest.RequirePeer(t, "ssh")
	sshdOnce.Do(func() { sshd, sshdErr = startSSHD(t, bin) })
	if sshdErr != nil {
		t.Fatalf("starting sshd: %v", sshdErr)
	}
	return sshd
}

func startSSHD(t testing.TB, bin string) (*targetSSHD, error) {
	dir, err := os.MkdirTemp("", "vigil-sshproxy-sshd-")
	if err != nil {
		return nil, err
	}
	s := &targetSSHD{dir: dir, port: freePort(t), logPath: filepath.Join(dir, "sshd.log"), waitResult: make(chan error, 1)}
	hostSigner, _ := newKeyFile(t, filepath.Join(dir, "ssh_host_ed25519_key"))
	s.hostKey = hostSigner.PublicKey()
	s.clientKey, s.clientPEM = newKeyFile(t, "")
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(s.clientKey.PublicKey()), 0o600); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %[2]s/ssh_host_ed25519_key
PidFile %[2]s/sshd.pid
AuthorizedKeysFile %[2]s/authorized_keys
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication yes
KbdInteractiveAuthentication no
UsePAM no
AllowTcpForwarding yes
AllowAgentForwarding yes
X11Forwarding no
AcceptEnv LANG LC_* VIGIL_*
Subsystem sftp internal-sftp
MaxStartups 400
MaxSessions 200
MaxAuthTries 10
LoginGraceTime 60
PrintMotd no
PrintLastLog no
LogLevel VERBOSE
`, s.port, dir)
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
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	s.cmd = exec.Command(bin, "-D", "-e", "-f", confPath)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	// If the test binary dies (a panic, a timeout), sshd goes with it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := s.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() {
		s.waitResult <- s.cmd.Wait()
		logf.Close()
	}()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", s.addr())
		if err == nil {
			c.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(s.logPath)
			return nil, fmt.Errorf("sshd did not listen on %s: %s", s.addr(), log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *targetSSHD) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

func stopTargetSSHD() {
	if sshd == nil || sshd.cmd == nil {
		return
	}
	sshd.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-sshd.waitResult:
	case <-time.After(10 * time.Second):
		sshd.cmd.Process.Kill()
		<-sshd.waitResult
	}
	os.RemoveAll(sshd.dir)
}

// target returns a Target for the shared sshd, logging in as root.
func (s *targetSSHD) target(name string) Target {
	return Target{ID: "id-" + name, Name: name, FriendlyName: "Test " + name, Host: "127.0.0.1", Port: s.port,
		Username: "root", PrivateKey: s.clientPEM}
}

// --- fakes ---

type fakeUser struct {
	user     User
	password string
	keys     []ssh.PublicKey
	err      error // returned for any attempt (locked, disabled)
}

type fakeAuth struct {
	mu    sync.Mutex
	users map[string]*fakeUser
}

func (a *fakeAuth) lookup(name string) (*fakeUser, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[name]
	if !ok {
		return nil, ErrUnknownUser
	}
	if u.err != nil {
		return nil, u.err
	}
	return u, nil
}

func (a *fakeAuth) AuthenticatePassword(_ context.Context, name string, pw []byte) (User, error) {
	u, err := a.lookup(name)
	if err != nil {
		return User{}, err
	}
	if u.password == "" || string(pw) != u.password {
		return User{}, ErrBadPassword
	}
	return u.user, nil
}

func (a *fakeAuth) AuthenticatePublicKey(_ context.Context, name string, key ssh.PublicKey) (User, error) {
	u, err := a.lookup(name)
	if err != nil {
		return User{}, err
	}
	for _, k := range u.keys {
		if bytes.Equal(k.Marshal(), key.Marshal()) {
			return u.user, nil
		}
	}
	return User{}, ErrBadKey
}

type fakeTargets struct {
	mu     sync.Mutex
	byUser map[string][]Target
	pins   map[string][]byte
}

func (f *fakeTargets) PermittedTargets(_ context.Context, u User) ([]Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append([]Target(nil), f.byUser[u.Name]...)
	for i := range out {
		if pin, ok := f.pins[out[i].ID]; ok {
			out[i].PinnedHostKey = pin
		}
	}
	return out, nil
}

func (f *fakeTargets) PinHostKey(_ context.Context, id string, key []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.pins[id]; ok && !bytes.Equal(old, key) {
		return errors.New("fake targets: another key is pinned")
	}
	f.pins[id] = append([]byte(nil), key...)
	return nil
}

func (f *fakeTargets) pin(id string) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pins[id]
}

// record is one capture record kept by fakeCapture. Payloads of data
// kinds are kept up to keepData bytes per kind; Bytes counts them all.
type record struct {
	Kind    Kind
	Channel uint32
	Payload []byte
}

const keepData = 1 << 20

type fakeCapture struct {
	meta SessionMeta

	mu       sync.Mutex
	records  []record
	bytes    map[Kind]int64
	kept     map[Kind]int
	closed   bool
	failKind Kind // Write of this kind fails
}

func (c *fakeCapture) Write(kind Kind, ch uint32, p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("fake capture: write after close")
	}
	if kind == c.failKind {
		return errors.New("fake capture: disk full")
	}
	c.bytes[kind] += int64(len(p))
	keep := p
	if kind == KindOutput || kind == KindInput || kind == KindStderr {
		room := keepData - c.kept[kind]
		if room <= 0 {
			return nil
		}
		keep = p[:min(len(p), room)]
		c.kept[kind] += len(keep)
	}
	c.records = append(c.records, record{kind, ch, append([]byte(nil), keep...)})
	return nil
}

func (c *fakeCapture) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("fake capture: closed twice")
	}
	c.closed = true
	return nil
}

func (c *fakeCapture) snapshot() ([]record, map[Kind]int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := map[Kind]int64{}
	for k, v := range c.bytes {
		b[k] = v
	}
	return append([]record(nil), c.records...), b, c.closed
}

// of returns the payloads of one kind, in order.
func (c *fakeCapture) of(kind Kind) []string {
	recs, _, _ := c.snapshot()
	var out []string
	for _, r := range recs {
		if r.Kind == kind {
			out = append(out, string(r.Payload))
		}
	}
	return out
}

func (c *fakeCapture) data(kind Kind) string { return strings.Join(c.of(kind), "") }

type fakeRecorder struct {
	mu       sync.Mutex
	caps     []*fakeCapture
	openErr  error
	failKind Kind
}

func (r *fakeRecorder) Open(_ context.Context, meta SessionMeta) (Capture, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.openErr != nil {
		return nil, r.openErr
	}
	c := &fakeCapture{meta: meta, bytes: map[Kind]int64{}, kept: map[Kind]int{}, failKind: r.failKind}
	r.caps = append(r.caps, c)
	return c, nil
}

func (r *fakeRecorder) all() []*fakeCapture {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*fakeCapture(nil), r.caps...)
}

type fakeEvents struct {
	mu  sync.Mutex
	evs []event.Event
}

func (f *fakeEvents) Publish(e event.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.evs = append(f.evs, e)
	return nil
}

func (f *fakeEvents) named(metric string) []event.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []event.Event
	for _, e := range f.evs {
		if e.MetricName == metric {
			out = append(out, e)
		}
	}
	return out
}

func (f *fakeEvents) metrics() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, e := range f.evs {
		out = append(out, e.MetricName)
	}
	return out
}

// waitEvent waits for the first event named metric.
func (f *fakeEvents) waitEvent(t testing.TB, metric string) event.Event {
	t.Helper()
	sdktest.WaitFor(t, 10*time.Second, "event "+metric, func() bool { return len(f.named(metric)) > 0 })
	return f.named(metric)[0]
}

// --- the gateway under test ---

type gateway struct {
	srv      *Server
	addr     string
	port     int
	sshd     *targetSSHD
	auth     *fakeAuth
	targets  *fakeTargets
	rec      *fakeRecorder
	events   *fakeEvents
	reg      *sessions.Registry
	keyPath  string // alice's private key for the OpenSSH client
	aliceKey ssh.Signer
	serveErr chan error
}

const alicePassword = "alice-correct-horse"

// newGateway starts a gateway in front of the shared sshd with user alice
// (recorded, key and password) permitted target web01, and applies opts to
// its Config before starting.
func newGateway(t testing.TB, opts ...func(*Config, *gateway)) *gateway {
	t.Helper()
	s := requireSSHD(t)
	dir := t.TempDir()
	g := &gateway{
		sshd:    s,
		auth:    &fakeAuth{users: map[string]*fakeUser{}},
		targets: &fakeTargets{byUser: map[string][]Target{}, pins: map[string][]byte{}},
		rec:     &fakeRecorder{},
		events:  &fakeEvents{},
		reg:     sessions.New(),
		keyPath: filepath.Join(dir, "alice_key"),
	}
	g.aliceKey, _ = newKeyFile(t, g.keyPath)
	alice := User{ID: "u-alice", Name: "alice", Groups: []string{"Users"}, RecordSessions: true}
	g.auth.users["alice"] = &fakeUser{user: alice, password: alicePassword, keys: []ssh.PublicKey{g.aliceKey.PublicKey()}}
	g.targets.byUser["alice"] = []Target{s.target("web01")}

	adm, err := admission.New(admission.Config{SpoolDir: dir, MinFreeBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		HostKeyPath:   filepath.Join(dir, "gw_host_ed25519_key"),
		Authenticator: g.auth,
		Targets:       g.targets,
		Recorder:      g.rec,
		Admission:     adm,
		Events:        g.events,
		Sessions:      g.reg,
		Logger:        slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if testing.Verbose() {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	for _, o := range opts {
		o(&cfg, g)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.srv, g.addr, g.port = srv, ln.Addr().String(), ln.Addr().(*net.TCPAddr).Port
	g.serveErr = make(chan error, 1)
	go func() { g.serveErr <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-g.serveErr; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return g
}

// addUser adds a gateway user with alice's key and password and targets.
func (g *gateway) addUser(name string, record bool, targets ...Target) {
	g.auth.mu.Lock()
	g.auth.users[name] = &fakeUser{
		user:     User{ID: "u-" + name, Name: name, RecordSessions: record},
		password: alicePassword, keys: []ssh.PublicKey{g.aliceKey.PublicKey()},
	}
	g.auth.mu.Unlock()
	g.targets.mu.Lock()
	g.targets.byUser[name] = targets
	g.targets.mu.Unlock()
}

// onlyCapture waits for the gateway to have opened exactly one capture and
// for it to be closed (the session over), and returns it.
func (g *gateway) onlyCapture(t testing.TB) *fakeCapture {
	t.Helper()
	sdktest.WaitFor(t, 10*time.Second, "the capture to be closed", func() bool {
		caps := g.rec.all()
		if len(caps) != 1 {
			return false
		}
		_, _, closed := caps[0].snapshot()
		return closed
	})
	return g.rec.all()[0]
}

// sshArgs are the OpenSSH client options every test uses.
func (g *gateway) sshArgs() []string {
	return []string{"-p", strconv.Itoa(g.port), "-i", g.keyPath,
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"}
}

type cmdResult struct {
	stdout, stderr string
	code           int
}

// runCmd runs a client program to completion (bounded by a timeout that
// kills it) and returns its output and exit code.
func runCmd(t testing.TB, stdin io.Reader, name string, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	err := cmd.Run()
	res := cmdResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	default:
		t.Fatalf("%s: %v", name, err)
	}
	return res
}

// ssh runs the OpenSSH client as login against the gateway.
func (g *gateway) ssh(t testing.TB, login string, command ...string) cmdResult {
	t.Helper()
	args := append(g.sshArgs(), "-l", login, "127.0.0.1")
	return runCmd(t, nil, "ssh", append(args, command...)...)
}

// dial logs in with the Go client.
func (g *gateway) dial(t testing.TB, login string, auth ...ssh.AuthMethod) (*ssh.Client, error) {
	t.Helper()
	if len(auth) == 0 {
		auth = []ssh.AuthMethod{ssh.PublicKeys(g.aliceKey)}
	}
	return ssh.Dial("tcp", g.addr, &ssh.ClientConfig{
		User: login, Auth: auth, HostKeyCallback: ssh.FixedHostKey(g.srv.HostKey()), Timeout: 10 * time.Second,
	})
}

func (g *gateway) mustDial(t testing.TB, login string) *ssh.Client {
	t.Helper()
	c, err := g.dial(t, login)
	if err != nil {
		t.Fatalf("dial %s: %v", login, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// uvarints decodes a payload of uvarints (Resize, ExitStatus).
func uvarints(t testing.TB, p string) []uint64 {
	t.Helper()
	var out []uint64
	b := []byte(p)
	for len(b) > 0 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			t.Fatalf("payload %q is not uvarints", p)
		}
		out = append(out, v)
		b = b[n:]
	}
	return out
}

// mergedMeta merges the capture's Meta records in order, as capture
// readers do: later non-empty fields win, extra keys accumulate.
func (c *fakeCapture) mergedMeta(t testing.TB) metaRecord {
	t.Helper()
	var m metaRecord
	m.Extra = map[string]string{}
	for _, p := range c.of(KindMeta) {
		var n metaRecord
		if err := json.Unmarshal([]byte(p), &n); err != nil {
			t.Fatalf("Meta record %q: %v", p, err)
		}
		for _, f := range []struct {
			dst *string
			v   string
		}{
			{&m.SessionID, n.SessionID}, {&m.User, n.User}, {&m.Target, n.Target}, {&m.TargetAddr, n.TargetAddr},
			{&m.ClientAddr, n.ClientAddr}, {&m.Protocol, n.Protocol}, {&m.Term, n.Term},
		} {
			if f.v != "" {
				*f.dst = f.v
			}
		}
		for k, v := range n.Extra {
			m.Extra[k] = v
		}
	}
	return m
}

func mustJSON(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("record %q is not JSON: %v", s, err)
	}
	return m
}
