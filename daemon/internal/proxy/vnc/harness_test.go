package vncproxy

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/admission"
	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/vnctest"
	"github.com/vigilgw/vigil/daemon/internal/sessions"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopPeers()
	os.Exit(code)
}

// --- fakes of the store side ---

type fakeUser struct {
	user     User
	password string
	err      error // returned for any attempt (locked, disabled)
}

type fakeAuth struct {
	mu    sync.Mutex
	users map[string]*fakeUser
}

func (a *fakeAuth) AuthenticatePassword(_ context.Context, name string, pw []byte) (User, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[name]
	switch {
	case !ok:
		return User{}, ErrUnknownUser
	case u.err != nil:
		return User{}, u.err
	case string(pw) != u.password:
		return User{}, ErrBadPassword
	}
	return u.user, nil
}

type fakeTargets struct {
	mu     sync.Mutex
	byUser map[string][]Target
	err    error
}

func (f *fakeTargets) PermittedTargets(_ context.Context, u User) ([]Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Target(nil), f.byUser[u.Name]...), f.err
}

// fileRecorder opens real captures (the capture package's signed writer)
// in a temporary spool, as vigild's adapter does.
type fileRecorder struct {
	dir  string
	key  ed25519.PrivateKey
	pub  ed25519.PublicKey
	fail error
	// failAfter, when set, makes every Write after that many fail, as a
	// full disk would.
	failAfter int

	mu    sync.Mutex
	caps  []*openedCapture
	metas []SessionMeta
}

type openedCapture struct {
	meta   SessionMeta
	w      *capture.Writer
	sealed string // segment 0's sealed path
	closed chan struct{}
}

func newFileRecorder(t testing.TB) *fileRecorder {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &fileRecorder{dir: t.TempDir(), key: priv, pub: pub}
}

func (r *fileRecorder) Open(_ context.Context, meta SessionMeta) (Capture, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return nil, r.fail
	}
	w, err := capture.New(capture.Options{
		ActiveDir: filepath.Join(r.dir, "active"), SealedDir: filepath.Join(r.dir, "sealed"),
		Team: "acme", User: meta.User.Name, SessionID: meta.SessionID, Start: meta.Start, Key: r.key,
	})
	if err != nil {
		return nil, err
	}
	oc := &openedCapture{meta: meta, w: w, closed: make(chan struct{}),
		sealed: filepath.Join(r.dir, "sealed", capture.SegmentFileName(capture.SessionBase(meta.Start, "acme", meta.User.Name), 0))}
	r.caps = append(r.caps, oc)
	return &trackedCapture{Writer: w, oc: oc, failAfter: r.failAfter}, nil
}

type trackedCapture struct {
	*capture.Writer
	oc        *openedCapture
	once      sync.Once
	failAfter int
	writes    int // only the tee goroutine writes
}

func (c *trackedCapture) Write(kind capture.Kind, channel uint32, p []byte) error {
	c.writes++
	if c.failAfter > 0 && c.writes > c.failAfter {
		return errors.New("test capture: no space left on device")
	}
	return c.Writer.Write(kind, channel, p)
}

func (c *trackedCapture) Close() error {
	err := c.Writer.Close()
	c.once.Do(func() { close(c.oc.closed) })
	return err
}

func (r *fileRecorder) all() []*openedCapture {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*openedCapture(nil), r.caps...)
}

// only waits for the one capture the test made to be sealed.
func (r *fileRecorder) only(t testing.TB) *openedCapture {
	t.Helper()
	sdktest.WaitFor(t, 20*time.Second, "one capture", func() bool { return len(r.all()) == 1 })
	oc := r.all()[0]
	select {
	case <-oc.closed:
	case <-time.After(20 * time.Second):
		t.Fatal("the capture was not closed")
	}
	return oc
}

// record is a capture record read back.
type record struct {
	Kind    capture.Kind
	Time    time.Duration
	Payload []byte
}

// records reads back a sealed capture, verifying it.
func (r *fileRecorder) records(t testing.TB, oc *openedCapture) []record {
	t.Helper()
	paths, err := capture.SessionFiles(oc.sealed)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := capture.Open(paths, r.pub, capture.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var out []record
	for {
		rec, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("reading the capture back: %v", err)
		}
		out = append(out, record{rec.Kind, rec.Time, append([]byte(nil), rec.Payload...)})
	}
	if res := rd.Result(); res.Status != capture.Intact {
		t.Fatalf("capture: %s", res.Describe())
	}
	return out
}

func ofKind(recs []record, k capture.Kind) [][]byte {
	var out [][]byte
	for _, r := range recs {
		if r.Kind == k {
			out = append(out, r.Payload)
		}
	}
	return out
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

func (f *fakeEvents) wait(t testing.TB, metric string) event.Event {
	t.Helper()
	sdktest.WaitFor(t, 20*time.Second, "event "+metric, func() bool { return len(f.named(metric)) > 0 })
	return f.named(metric)[0]
}

// --- the gateway under test ---

type gateway struct {
	srv     *Server
	addr    string
	auth    *fakeAuth
	targets *fakeTargets
	rec     *fileRecorder
	events  *fakeEvents
	reg     *sessions.Registry
	roots   *x509.CertPool
	certPEM string // the gateway's certificate file
	serve   chan error
}

const alicePassword = "alice-correct-horse"

// newGateway starts a gateway with user alice (recorded) allowed the
// given targets, applying opts to its Config before it starts.
func newGateway(t testing.TB, targets []Target, opts ...func(*Config, *gateway)) *gateway {
	t.Helper()
	dir := t.TempDir()
	g := &gateway{
		auth:    &fakeAuth{users: map[string]*fakeUser{}},
		targets: &fakeTargets{byUser: map[string][]Target{}},
		rec:     newFileRecorder(t),
		events:  &fakeEvents{},
		reg:     sessions.New(),
		certPEM: filepath.Join(dir, "vnc.pem"),
	}
	g.auth.users["alice"] = &fakeUser{user: User{ID: "u-alice", Name: "alice", Groups: []string{"Users"}, RecordSessions: true}, password: alicePassword}
	g.targets.byUser["alice"] = targets
	adm, err := admission.New(admission.Config{SpoolDir: dir, MinFreeBytes: 1})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		TLSCertFile: g.certPEM, TLSKeyFile: filepath.Join(dir, "vnc.key"), TLSHosts: []string{"127.0.0.1", "localhost"},
		Authenticator: g.auth, Targets: g.targets, Recorder: g.rec, Admission: adm,
		Events: g.events, Sessions: g.reg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		ConnectTimeout: 10 * time.Second,
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
	g.roots = x509.NewCertPool()
	g.roots.AddCert(srv.Certificate())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.srv, g.addr = srv, ln.Addr().String()
	g.serve = make(chan error, 1)
	go func() { g.serve <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-g.serve; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v", err)
		}
	})
	return g
}

// dial logs in as login with alice's password.
func (g *gateway) dial(login string) (*vnctest.Client, error) {
	return vnctest.Dial(g.addr, vnctest.LoginOpts{User: login, Password: alicePassword, Roots: g.roots})
}

func (g *gateway) mustDial(t testing.TB, login string) *vnctest.Client {
	t.Helper()
	c, err := g.dial(login)
	if err != nil {
		t.Fatalf("login as %s: %v", login, err)
	}
	t.Cleanup(c.Close)
	return c
}

// tlsCert is a certificate for tests that build a Config by hand.
func tlsCert(t testing.TB) *tls.Certificate {
	t.Helper()
	certPEM, keyPEM, err := SelfSignedCertificate([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &c
}
