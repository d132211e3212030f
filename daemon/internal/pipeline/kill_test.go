package pipeline

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilgw/vigil/daemon/internal/pipeline/internal/testrecorder"
	"github.com/vigilgw/vigil/daemon/internal/pluginhost"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// daemonEnv, when set to the path of a daemonConfig, makes the test
// binary a stand-in vigild: it runs the pipeline on a state directory the
// way vigild wires it (store, plugin host, Recover, Run) until SIGTERM.
const daemonEnv = "VIGIL_PIPELINE_TEST_DAEMON"

type daemonConfig struct {
	StateDir       string                     `json:"state_dir"` // vigil.db, spool/sealed, renders
	PluginDir      string                     `json:"plugin_dir"`
	Plugins        map[string]json.RawMessage `json:"plugins"`
	PublicKey      []byte                     `json:"public_key"`
	UploadLocation string                     `json:"upload_location"`
	// HoldDir: a file holdUpload there makes the first Put of more than
	// holdUploadAfter bytes take it, send that many bytes, create
	// uploadingMark and wait for the process to be killed.
	HoldDir string `json:"hold_dir"`
}

const (
	holdUpload      = "hold-upload"
	uploadingMark   = "uploading"
	holdUploadAfter = 6 << 20
)

// runDaemon is the stand-in vigild's main.
func runDaemon(cfgPath string) int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "test daemon:", err)
		return 1
	}
	b, err := os.ReadFile(cfgPath)
	if err != nil {
		return fail(err)
	}
	var dc daemonConfig
	if err := json.Unmarshal(b, &dc); err != nil {
		return fail(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	log := hclog.New(&hclog.LoggerOptions{Name: "vigild", Output: os.Stderr, Level: hclog.Debug})

	st, err := store.Open(ctx, filepath.Join(dc.StateDir, "vigil.db"), store.Options{})
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	configs := map[string][]byte{}
	for id, c := range dc.Plugins {
		configs[id] = c
	}
	host, err := pluginhost.New(pluginhost.Config{Dir: dc.PluginDir, Configs: configs, Logger: log,
		Backoff: pluginhost.Backoff{Initial: 50 * time.Millisecond, Max: time.Second, StableAfter: time.Minute}})
	if err != nil {
		return fail(err)
	}
	if err := host.Start(ctx); err != nil {
		return fail(err)
	}
	defer host.Stop()
	storage, err := host.Storage("s3")
	if err != nil {
		return fail(err)
	}
	rec, err := host.Recorder("ssh")
	if err != nil {
		return fail(err)
	}
	p, err := New(Config{
		Store: st, Events: logPublisher{log}, Storage: &holdingStorage{Storage: storage, dir: dc.HoldDir},
		Recorders: map[string]Recorder{"ssh": rec}, Logger: log,
		SealedDir: filepath.Join(dc.StateDir, "spool", "sealed"), RendersDir: filepath.Join(dc.StateDir, "renders"),
		PublicKey: ed25519.PublicKey(dc.PublicKey), UploadLocation: dc.UploadLocation,
		PollInterval: 20 * time.Millisecond, EncodeRetryBase: 50 * time.Millisecond, UploadRetryBase: 50 * time.Millisecond,
	})
	if err != nil {
		return fail(err)
	}
	if err := p.Recover(ctx); err != nil {
		return fail(err)
	}
	if err := p.Run(ctx); err != nil {
		return fail(err)
	}
	return 0
}

// logPublisher logs the stand-in daemon's events.
type logPublisher struct{ log hclog.Logger }

func (l logPublisher) Publish(e event.Event) error {
	l.log.Info("event", "metric", e.MetricName, "level", e.Level, "message", e.Message)
	return nil
}

// holdingStorage is the stand-in daemon's storage: the plugin host's
// handle, with the upload hold of daemonConfig.HoldDir.
type holdingStorage struct {
	sdk.Storage
	dir string
}

func (s *holdingStorage) Put(ctx context.Context, key string, r io.Reader, size int64, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	if s.dir != "" && size > holdUploadAfter {
		token := filepath.Join(s.dir, holdUpload)
		if os.Rename(token, token+".taken") == nil {
			r = &holdingReader{r: r, left: holdUploadAfter, mark: filepath.Join(s.dir, uploadingMark)}
		}
	}
	return s.Storage.Put(ctx, key, r, size, opts)
}

// holdingReader passes left bytes, then announces itself and never
// returns: the process is to be killed in the middle of the upload.
type holdingReader struct {
	r    io.Reader
	left int64
	mark string
}

func (h *holdingReader) Read(p []byte) (int, error) {
	if h.left <= 0 {
		if err := os.WriteFile(h.mark, nil, 0o600); err != nil {
			return 0, err
		}
		select {}
	}
	n, err := h.r.Read(p[:min(int64(len(p)), h.left)])
	h.left -= int64(n)
	return n, err
}

// daemonProc is one run of the stand-in daemon.
type daemonProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	log  string
}

func startDaemon(t *testing.T, cfgPath, logPath string) *daemonProc {
	t.Helper()
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), daemonEnv+"="+cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &daemonProc{cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		d.err = cmd.Wait()
		logf.Close()
		close(d.done)
	}()
	t.Cleanup(func() { d.kill(syscall.SIGKILL) })
	return d
}

// kill signals the daemon by its PID and waits for it.
func (d *daemonProc) kill(sig syscall.Signal) error {
	select {
	case <-d.done:
		return d.err
	default:
	}
	_ = d.cmd.Process.Signal(sig)
	<-d.done
	return d.err
}

func (d *daemonProc) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// TestKillDaemonAnywhere kills a real process running the pipeline with
// SIGKILL in the middle of an encode and then in the middle of an upload
// (a multipart upload, part of it sent), restarts it each time on the same
// state, and checks that in the end every job is done, every object is in
// the bucket exactly once under the key it was meant to have (the template
// uses {current_epoch}), every capture verifies, and nothing is left
// locally (retention 0).
func TestKillDaemonAnywhere(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	stateDir := h.dir
	pluginDir := filepath.Join(t.TempDir(), "plugins")
	if err := os.Mkdir(pluginDir, 0o750); err != nil {
		t.Fatal(err)
	}
	copyExecutable(t, pluginBinary(t, storageS3Pkg, "vigil-plugin-storage-s3"), filepath.Join(pluginDir, "vigil-plugin-storage-s3"))
	copyExecutable(t, pluginBinary(t, testRecorderPkg, "vigil-plugin-recorder-ssh"), filepath.Join(pluginDir, "vigil-plugin-recorder-ssh"))
	holdDir := t.TempDir()
	template := "s3://" + h.bucket + "@http://" + h.s3.Addr() + "/kill/{username}/{session_id}/{segment}-{current_epoch}.{ext}"

	// The recordings, sealed into the journal as vigild's OnSeal does.
	p0 := h.pipeline(nil, Config{UploadLocation: template})
	big := h.session("alice")
	small := h.session("bob")
	bigSegs := h.record(big, []string{"$ make world"}, 8<<20, 0)
	smallSegs := h.record(small, []string{"$ ls", "README"}, 200<<10, 64<<10)
	h.seal(p0, big.ID, bigSegs)
	h.seal(p0, small.ID, smallSegs)

	recCfg, _ := json.Marshal(map[string]string{"hold_dir": holdDir})
	cfgPath := filepath.Join(t.TempDir(), "daemon.json")
	cfgJSON, _ := json.Marshal(daemonConfig{
		StateDir: stateDir, PluginDir: pluginDir, PublicKey: h.pub, UploadLocation: template, HoldDir: holdDir,
		Plugins: map[string]json.RawMessage{
			"storage-s3":   h.storageConfig(template),
			"recorder-ssh": recCfg,
		},
	})
	if err := os.WriteFile(cfgPath, cfgJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "daemon.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("stand-in daemon's log:\n%s", b)
		}
	})
	touch := func(name string) {
		if err := os.WriteFile(filepath.Join(holdDir, name), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	waitFile := func(d *daemonProc, what string, match func(string) bool) {
		sdktest.WaitFor(t, waitTimeout, what, func() bool {
			if d.exited() {
				t.Fatalf("the daemon exited (%v) while waiting for %s", d.err, what)
			}
			entries, _ := os.ReadDir(holdDir)
			return slices.ContainsFunc(entries, func(e os.DirEntry) bool { return match(e.Name()) })
		})
	}
	running := func(kind store.JobKind) []store.Job {
		jobs, err := h.st.ListJobs(ctx, store.JobFilter{Kind: kind, States: []store.JobState{kind.Running()}})
		if err != nil {
			t.Fatal(err)
		}
		return jobs
	}

	// 1. Killed while a segment renders.
	touch(testrecorder.HoldToken)
	d := startDaemon(t, cfgPath, logPath)
	waitFile(d, "a render to start", func(n string) bool { return strings.HasPrefix(n, testrecorder.RenderingPrefix) })
	if err := d.kill(syscall.SIGKILL); err == nil {
		t.Fatal("the daemon survived SIGKILL")
	}
	if jobs := running(store.JobEncode); len(jobs) == 0 {
		t.Fatal("after the kill during an encode, no encode job is left running")
	}

	// 2. Killed while the big capture uploads.
	touch(holdUpload)
	d = startDaemon(t, cfgPath, logPath)
	waitFile(d, "the big upload to be under way", func(n string) bool { return n == uploadingMark })
	if err := d.kill(syscall.SIGKILL); err == nil {
		t.Fatal("the daemon survived SIGKILL")
	}
	if jobs := running(store.JobUpload); !slices.ContainsFunc(jobs, func(j store.Job) bool { return j.SessionID == big.ID }) {
		t.Fatalf("after the kill during the upload, running upload jobs are %+v, want the big session's", jobs)
	}

	// 3. Runs to the end.
	d = startDaemon(t, cfgPath, logPath)
	type seg struct {
		sid  string
		segs []capture.SealedSegment
	}
	all := []seg{{big.ID, bigSegs}, {small.ID, smallSegs}}
	for _, s := range all {
		for _, g := range s.segs {
			sdktest.WaitFor(t, waitTimeout, fmt.Sprintf("segment %s/%d deleted after its upload", s.sid, g.Segment), func() bool {
				if d.exited() {
					t.Fatalf("the daemon exited: %v", d.err)
				}
				j, ok := h.job(store.JobDelete, s.sid, g.Segment)
				return ok && j.State == store.JobDeleted
			})
		}
	}
	if err := d.kill(syscall.SIGTERM); err != nil {
		t.Fatalf("the daemon's exit after SIGTERM: %v", err)
	}

	// Every object exactly once, under the keys the journal recorded,
	// whose epoch is the upload job's creation.
	objs, err := h.s3.Objects(h.bucket)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, s := range all {
		var local []string
		for _, g := range s.segs {
			row, err := h.st.GetSegment(ctx, s.sid, g.Segment)
			if err != nil {
				t.Fatal(err)
			}
			up, _ := h.job(store.JobUpload, s.sid, g.Segment)
			if epoch := strconv.FormatInt(up.Created.UnixMilli(), 10); !strings.Contains(row.ObjectKey, "-"+epoch+".") {
				t.Errorf("segment %s/%d is stored as %q, not under its upload job's epoch %s", s.sid, g.Segment, row.ObjectKey, epoch)
			}
			want[row.ObjectKey] = true
			rs, _ := h.st.ListRenders(ctx, s.sid)
			for _, r := range rs {
				if r.Segment == g.Segment {
					want[r.ObjectKey] = true
				}
			}
			if exists(g.Path) {
				t.Errorf("%s is still on disk after upload with retention 0", g.Path)
			}
			path := filepath.Join(t.TempDir(), filepath.Base(g.Path))
			if err := os.WriteFile(path, h.object(row.ObjectKey), 0o600); err != nil {
				t.Fatal(err)
			}
			local = append(local, path)
		}
		if res := capture.Verify(local, h.pub); res.Status != capture.Intact {
			t.Errorf("session %s downloaded: %s", s.sid, res.Describe())
		}
	}
	if len(objs) != len(want) {
		t.Errorf("bucket holds %d objects, the journal knows %d", len(objs), len(want))
	}
	for k := range objs {
		if !want[k] {
			t.Errorf("bucket holds %q, which the journal does not know (a duplicate?)", k)
		}
	}
	if len(want) != 3*(len(bigSegs)+len(smallSegs)) {
		t.Errorf("the journal knows %d objects, want capture, cast and transcript of %d segments", len(want), len(bigSegs)+len(smallSegs))
	}
	enc, _ := h.job(store.JobEncode, big.ID, 0)
	for _, kind := range []store.JobKind{store.JobEncode, store.JobUpload} {
		jobs, _ := h.st.ListJobs(ctx, store.JobFilter{Kind: kind, States: []store.JobState{kind.Done()}, Limit: store.MaxPageSize})
		if len(jobs) != len(bigSegs)+len(smallSegs) {
			t.Errorf("%d %s jobs done, want %d", len(jobs), kind, len(bigSegs)+len(smallSegs))
		}
	}
	t.Logf("the big segment's encode took %d attempts; bucket: %d objects", enc.Attempts, len(objs))
}

func copyExecutable(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
