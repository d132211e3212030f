package pipeline

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/config"
	"github.com/vigilgw/vigil/daemon/internal/pathtmpl"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
	"github.com/vigilgw/vigil/plugins/storage-s3/s3test"
)

// waitTimeout bounds every wait for a condition: a safety net against
// hangs, never an assertion about speed.
const waitTimeout = 2 * time.Minute

// binDir holds the plugin executables built for this run of the tests.
var binDir string

func TestMain(m *testing.M) {
	if cfg := os.Getenv(daemonEnv); cfg != "" {
		os.Exit(runDaemon(cfg))
	}
	dir, err := os.MkdirTemp("", "vigil-pipeline-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// Plugin packages the tests launch.
const (
	storageS3Pkg    = "github.com/vigilgw/vigil/plugins/storage-s3"
	recorderSSHPkg  = "github.com/vigilgw/vigil/plugins/recorder-ssh"
	testRecorderPkg = "github.com/vigilgw/vigil/daemon/internal/pipeline/internal/testrecorder/plugin"
)

// pluginBinary returns an executable of the main package pkg named name:
// the one `make` built into $VIGIL_BIN_DIR when there is one, else a build
// made once per run of the tests.
func pluginBinary(t testing.TB, pkg, name string) string {
	t.Helper()
	if dir := os.Getenv("VIGIL_BIN_DIR"); dir != "" && pkg != testRecorderPkg {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(binDir, filepath.Base(pkg)+"-"+name)
	if b, err := exec.Command(goBin, "build", "-o", out, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	built[pkg] = out
	return out
}

// fakeClock is the injected clock of the tests that wait for backoff and
// retention: time moves only when the test says.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// eventLog is the Publisher of the tests.
type eventLog struct {
	mu  sync.Mutex
	evs []event.Event
}

func (l *eventLog) Publish(e event.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, e)
	return nil
}

// of returns the events of metric about session sid ("" for any).
func (l *eventLog) of(metric, sid string) []event.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []event.Event
	for _, e := range l.evs {
		if e.MetricName == metric && (sid == "" || e.SessionID == sid) {
			out = append(out, e)
		}
	}
	return out
}

// wait waits until there are at least n events of metric about session
// sid and returns them: the journal is updated before the event goes out.
func (l *eventLog) wait(t *testing.T, metric, sid string, n int) []event.Event {
	t.Helper()
	var evs []event.Event
	sdktest.WaitFor(t, waitTimeout, fmt.Sprintf("%d %s events", n, metric), func() bool {
		evs = l.of(metric, sid)
		return len(evs) >= n
	})
	return evs
}

// harness is one appliance's state directory, store, key, object store
// and storage plugin.
type harness struct {
	t       *testing.T
	dir     string
	now     func() time.Time
	st      *store.Store
	ev      *eventLog
	priv    ed25519.PrivateKey
	pub     ed25519.PublicKey
	active  string
	sealed  string
	renders string
	s3      *s3test.Server
	bucket  string
	storage sdk.Storage
}

// newHarness starts versitygw with a bucket and the storage-s3 plugin as a
// real process; now is the clock of the store and the pipeline (nil: the
// real one).
func newHarness(t *testing.T, clock *fakeClock) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), now: time.Now, ev: &eventLog{}, bucket: "recordings"}
	if clock != nil {
		h.now = clock.Now
	}
	h.active = filepath.Join(h.dir, "spool", "active")
	h.sealed = filepath.Join(h.dir, "spool", "sealed")
	h.renders = filepath.Join(h.dir, "renders")
	for _, d := range []string{h.active, h.sealed, h.renders} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	h.pub, h.priv, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h.st, err = store.Open(context.Background(), filepath.Join(h.dir, "vigil.db"), store.Options{Now: h.now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.st.Close() })
	h.s3 = s3test.Start(t)
	h.s3.CreateBucket(h.bucket)
	h.storage = sdktest.LaunchStorage(t, pluginBinary(t, storageS3Pkg, "vigil-plugin-storage-s3"), h.storageConfig(h.template()))
	return h
}

// storageConfig is the storage-s3 plugin's configuration for location,
// made as vigild makes it: StoragePlugin over the [recording] settings and
// a [plugins.storage-s3] table.
func (h *harness) storageConfig(location string) []byte {
	h.t.Helper()
	tmpl, err := pathtmpl.Parse(location)
	if err != nil {
		h.t.Fatal(err)
	}
	rec := &config.Recording{Upload: tmpl, UploadLocation: location, AllowHTTP: true, S3Region: "us-east-1",
		StorageKey: s3test.AccessKey, StorageSecret: s3test.SecretKey, S3PathStyle: true, S3TLSVerify: true}
	name, cfg, err := StoragePlugin(rec, map[string][]byte{"storage-s3": []byte(`{"part_size": "5MiB", "max_retries": 1}`)})
	if err != nil || name != "s3" {
		h.t.Fatalf("StoragePlugin: %q, %v", name, err)
	}
	return cfg
}

// template is the upload location of the tests.
func (h *harness) template() string {
	return "s3://" + h.bucket + "@http://" + h.s3.Addr() + "/vigil/{username}/{session_id}/{segment}.{ext}"
}

// config is a pipeline configuration over the harness, for cfg's other
// settings.
func (h *harness) config(recorders map[string]Recorder, cfg Config) Config {
	cfg.Store, cfg.Events, cfg.Storage, cfg.Recorders = h.st, h.ev, h.storage, recorders
	cfg.SealedDir, cfg.RendersDir, cfg.PublicKey = h.sealed, h.renders, h.pub
	if cfg.UploadLocation == "" {
		cfg.UploadLocation = h.template()
	}
	if cfg.Now == nil {
		cfg.Now = h.now
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 10 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = sdktest.TestLogger(h.t, "vigild")
	}
	return cfg
}

func (h *harness) pipeline(recorders map[string]Recorder, cfg Config) *Pipeline {
	h.t.Helper()
	p, err := New(h.config(recorders, cfg))
	if err != nil {
		h.t.Fatal(err)
	}
	return p
}

// run runs p until the test ends.
func (h *harness) run(p *Pipeline) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("Run: %v", err)
		}
	})
}

// session creates a finished ssh session of user.
func (h *harness) session(user string) store.Session {
	h.t.Helper()
	ctx := context.Background()
	s, err := h.st.CreateSession(ctx, store.Session{UserName: user, TargetName: "db-prod",
		TargetFriendlyName: "Production DB", Protocol: store.ProtocolSSH, RS: "10.0.0.5:22", Recorded: true,
		RecordingState: store.RecordingRecording, StartedAt: time.Date(2026, 2, 27, 9, 30, 0, 0, time.UTC)})
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.st.EndSession(ctx, s.ID, store.SessionEnd{}); err != nil {
		h.t.Fatal(err)
	}
	s, err = h.st.GetSession(ctx, s.ID)
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// record writes a real signed capture of sess whose terminal shows lines
// (padded with filler output to at least minBytes), sealed in segments of
// segMax bytes (0: one segment), and returns the sealed segments.
func (h *harness) record(sess store.Session, lines []string, minBytes int, segMax int64) []capture.SealedSegment {
	h.t.Helper()
	var mu sync.Mutex
	var sealed []capture.SealedSegment
	w, err := capture.New(capture.Options{
		ActiveDir: h.active, SealedDir: h.sealed, Team: "acme", User: sess.UserName, SessionID: sess.ID,
		Start: sess.StartedAt, Key: h.priv, SegmentMaxBytes: segMax,
		OnSeal: func(s capture.SealedSegment) { mu.Lock(); sealed = append(sealed, s); mu.Unlock() },
	})
	if err != nil {
		h.t.Fatal(err)
	}
	write := func(k capture.Kind, p []byte) {
		if err := w.Write(k, 0, p); err != nil {
			h.t.Fatal(err)
		}
	}
	write(capture.Meta, capture.SessionMeta{SessionID: sess.ID, User: sess.UserName, Target: sess.TargetName,
		Protocol: string(sess.Protocol), Start: sess.StartedAt, Term: "xterm"}.Marshal())
	write(capture.Resize, capture.AppendResize(nil, capture.Size{Cols: 80, Rows: 24}))
	n := 0
	for _, l := range lines {
		write(capture.Output, []byte(l+"\r\n"))
		n += len(l) + 2
	}
	filler := make([]byte, 64<<10)
	for i := range filler {
		filler[i] = 'a' + byte(i%26)
		if i%4000 == 3999 {
			filler[i] = '\n'
		}
	}
	for ; n < minBytes; n += len(filler) {
		write(capture.Output, filler)
	}
	if err := w.Close(); err != nil {
		h.t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]capture.SealedSegment(nil), sealed...)
}

// seal hands sealed segments to the pipeline, as vigild's OnSeal does.
func (h *harness) seal(p *Pipeline, sid string, segs []capture.SealedSegment) {
	h.t.Helper()
	for _, s := range segs {
		if err := p.Sealed(context.Background(), FromSealed(sid, s)); err != nil {
			h.t.Fatal(err)
		}
	}
}

// job returns the job of kind for a segment; ok is false when there is
// none.
func (h *harness) job(kind store.JobKind, sid string, n int) (store.Job, bool) {
	h.t.Helper()
	jobs, err := h.st.ListJobs(context.Background(), store.JobFilter{Kind: kind, SessionID: sid, Limit: store.MaxPageSize})
	if err != nil {
		h.t.Fatal(err)
	}
	for _, j := range jobs {
		if j.Segment == n {
			return j, true
		}
	}
	return store.Job{}, false
}

// waitJob waits until the job of kind for a segment is in one of states.
func (h *harness) waitJob(kind store.JobKind, sid string, n int, states ...store.JobState) store.Job {
	h.t.Helper()
	var j store.Job
	sdktest.WaitFor(h.t, waitTimeout, fmt.Sprintf("%s job of %s/%d in %v", kind, sid, n, states), func() bool {
		var ok bool
		j, ok = h.job(kind, sid, n)
		for _, s := range states {
			if ok && j.State == s {
				return true
			}
		}
		return false
	})
	return j
}

// waitAttempt waits until the job has been claimed at least n times and
// is no longer running.
func (h *harness) waitAttempt(kind store.JobKind, sid string, seg, n int) store.Job {
	h.t.Helper()
	var j store.Job
	sdktest.WaitFor(h.t, waitTimeout, fmt.Sprintf("attempt %d of the %s job of %s/%d to end", n, kind, sid, seg), func() bool {
		j, _ = h.job(kind, sid, seg)
		return j.Attempts >= n && j.State != kind.Running() && j.State != store.JobPending
	})
	return j
}

// object downloads key straight from the server.
func (h *harness) object(key string) []byte {
	h.t.Helper()
	rc, _, err := h.storage.Get(context.Background(), key, 0, -1)
	if err != nil {
		h.t.Fatalf("get %s: %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		h.t.Fatalf("get %s: %v", key, err)
	}
	return b
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}
