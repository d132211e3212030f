package sshproxy

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// captureRecorder records through the real capture writer, as vigild's
// adapter does: kinds convert with capture.Kind(k), payloads pass as they
// are. With removeSealed, sealed segments are deleted (benchmarks).
type captureRecorder struct {
	active, sealed string
	key            ed25519.PrivateKey
	removeSealed   bool

	mu    sync.Mutex
	paths []string

	// For the benchmarks: bytes of all sealed segments, captures opened
	// and captures closed (all their segments sealed).
	sealedBytes    atomic.Int64
	opened, closed atomic.Int64
}

func newCaptureRecorder(t testing.TB, removeSealed bool) *captureRecorder {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	return &captureRecorder{active: filepath.Join(dir, "active"), sealed: filepath.Join(dir, "sealed"), key: key, removeSealed: removeSealed}
}

// Open creates the capture. File names carry the start to 100 µs and the
// user, so concurrent sessions of one user can collide: Open then tries
// the next 100 µs, as vigild's adapter has to.
func (r *captureRecorder) Open(_ context.Context, m SessionMeta) (Capture, error) {
	opts := capture.Options{
		ActiveDir: r.active, SealedDir: r.sealed, Team: "test", User: m.User.Name,
		SessionID: m.SessionID, Start: m.Start, Key: r.key, RecordInput: m.RecordInput,
		OnSeal: func(s capture.SealedSegment) {
			r.sealedBytes.Add(s.Size)
			if r.removeSealed {
				os.Remove(s.Path)
				return
			}
			r.mu.Lock()
			r.paths = append(r.paths, s.Path)
			r.mu.Unlock()
		},
	}
	for range 1000 {
		w, err := capture.New(opts)
		if errors.Is(err, fs.ErrExist) {
			opts.Start = opts.Start.Add(100 * time.Microsecond)
			continue
		}
		if err != nil {
			return nil, err
		}
		r.opened.Add(1)
		return captureWriter{w, r}, nil
	}
	return nil, errors.New("capture recorder: no free file name")
}

func (r *captureRecorder) sealedPaths() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.paths...)
}

type captureWriter struct {
	w *capture.Writer
	r *captureRecorder
}

func (c captureWriter) Write(k Kind, ch uint32, p []byte) error {
	return c.w.Write(capture.Kind(k), ch, p)
}
func (c captureWriter) Close() error {
	defer c.r.closed.Add(1)
	return c.w.Close()
}

// settledSealedBytes waits until every capture opened so far is closed and
// returns the bytes of all sealed segments.
func (r *captureRecorder) settledSealedBytes(t testing.TB) int64 {
	t.Helper()
	sdktest.WaitFor(t, time.Minute, "every capture to be sealed", func() bool { return r.closed.Load() == r.opened.Load() })
	return r.sealedBytes.Load()
}

func TestKindsMatchTheCaptureFormat(t *testing.T) {
	pairs := []struct {
		ours   Kind
		theirs capture.Kind
	}{
		{KindOutput, capture.Output}, {KindStderr, capture.Stderr}, {KindInput, capture.Input},
		{KindResize, capture.Resize}, {KindExec, capture.Exec}, {KindExitStatus, capture.ExitStatus},
		{KindSignal, capture.Signal}, {KindMeta, capture.Meta}, {KindTransfer, capture.Transfer},
	}
	for _, p := range pairs {
		if capture.Kind(p.ours) != p.theirs || p.ours.String() != p.theirs.String() {
			t.Errorf("%s (%d) != capture %s (%d)", p.ours, p.ours, p.theirs, p.theirs)
		}
	}
}

// TestCaptureReadable records a session through the real capture writer
// and reads it back with the capture reader: the file verifies and every
// payload decodes with the format's own decoders.
func TestCaptureReadable(t *testing.T) {
	rec := newCaptureRecorder(t, false)
	g := newGateway(t, func(c *Config, _ *gateway) { c.Recorder = rec })
	client := g.mustDial(t, "alice:web01")
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("vt100", 30, 90, ssh.TerminalModes{ssh.ECHO: 0}); err != nil {
		t.Fatal(err)
	}
	stdin, _ := sess.StdinPipe()
	var out sdktest.SyncBuffer
	sess.Stdout = &out
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, "echo READY\n")
	sdktest.WaitFor(t, 10*time.Second, "the shell", func() bool { return strings.Contains(out.String(), "READY") })
	if err := sess.WindowChange(40, 100); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, "exit 4\n")
	var ee *ssh.ExitError
	if err := sess.Wait(); !errors.As(err, &ee) || ee.ExitStatus() != 4 {
		t.Fatalf("Wait = %v", err)
	}
	sess2, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess2.Run("echo second"); err != nil {
		t.Fatal(err)
	}
	client.Close()
	g.events.waitEvent(t, "session.destroy")

	paths := rec.sealedPaths()
	if len(paths) != 1 {
		t.Fatalf("sealed segments %v, want one", paths)
	}
	r, err := capture.Open(paths, rec.key.Public().(ed25519.PublicKey), capture.ReadOptions{Session: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var meta capture.SessionMeta
	var sizes []capture.Size
	var exits []uint32
	var output, exec strings.Builder
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("reading the capture: %v (%s)", err, r.Result().Describe())
		}
		switch rec.Kind {
		case capture.Meta:
			if err := meta.Merge(rec.Payload); err != nil {
				t.Error(err)
			}
		case capture.Resize:
			s, err := capture.DecodeResize(rec.Payload)
			if err != nil {
				t.Error(err)
			}
			sizes = append(sizes, s)
		case capture.ExitStatus:
			s, err := capture.DecodeExitStatus(rec.Payload)
			if err != nil {
				t.Error(err)
			}
			exits = append(exits, s)
		case capture.Output:
			output.Write(rec.Payload)
		case capture.Exec:
			exec.Write(rec.Payload)
		}
	}
	if res := r.Result(); res.Status != capture.Intact {
		t.Errorf("verification: %s", res.Describe())
	}
	if meta.User != "alice" || meta.Target != "web01" || meta.Protocol != "ssh" || meta.Term != "vt100" ||
		meta.Extra["ch0.start"] != "shell" || meta.Extra["ch1.start"] != "exec" || meta.SessionID == "" {
		t.Errorf("merged meta %+v", meta)
	}
	if len(sizes) != 2 || sizes[0].Cols != 90 || sizes[0].Rows != 30 || sizes[1].Cols != 100 || sizes[1].Rows != 40 {
		t.Errorf("sizes %+v", sizes)
	}
	if len(exits) != 2 || exits[0] != 4 || exits[1] != 0 {
		t.Errorf("exit statuses %v", exits)
	}
	if exec.String() != "echo second" || !strings.Contains(output.String(), "READY") || !strings.Contains(output.String(), "second") {
		t.Errorf("exec %q output %q", exec.String(), output.String())
	}
}

// TestCaptureTransferRecord checks the Transfer payload against the
// format's decoder.
func TestCaptureTransferRecord(t *testing.T) {
	tr := transferRecord{Path: "/tmp/a|b\n.txt", Size: 123, Direction: "upload", Protocol: "scp", Name: "a", Complete: true}
	got, err := capture.DecodeTransfer(tr.marshal())
	if err != nil {
		t.Fatal(err)
	}
	if got.Path != tr.Path || got.Size != tr.Size || got.Direction != tr.Direction || got.Protocol != tr.Protocol {
		t.Errorf("decoded %+v from %+v", got, tr)
	}
}
