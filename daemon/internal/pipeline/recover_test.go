package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/pipeline/internal/testrecorder"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
)

// TestRecover sets up, in one spool and journal, what crashes at each
// point leave behind, runs Recover, and checks that each is accounted for
// and, once the pipeline runs, finished or flagged:
//   - a sealed capture the store knows nothing of, not even its session
//     (adopted: session rebuilt from the capture, segment queued);
//   - a sealed capture whose segment row still says recording;
//   - an encode finished without its upload queued;
//   - a job left running;
//   - a segment whose capture file is gone before its upload (flagged);
//   - a file that is no capture (an orphan event; left in place).
func TestRecover(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	p := h.pipeline(inProcessRecorder(t, &testrecorder.Recorder{}), Config{Retention: time.Hour})

	// Adopted: the session exists only in the capture.
	orphan := store.Session{ID: store.NewSessionID(time.Now()), UserName: "grace", TargetName: "web-1",
		Protocol: store.ProtocolSSH, StartedAt: time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)}
	orphanSegs := h.record(orphan, []string{"$ id"}, 0, 0)

	// Sealed on disk, recording in the store.
	half := h.session("heidi")
	halfSegs := h.record(half, []string{"$ w"}, 0, 0)
	if _, err := h.st.AddSegment(ctx, store.Segment{SessionID: half.ID, N: 0, Path: filepath.Join(h.active, "x.vsl")}); err != nil {
		t.Fatal(err)
	}

	// Encoded, upload never queued.
	gap := h.session("ivan")
	h.seal(p, gap.ID, h.record(gap, []string{"$ df -h"}, 0, 0))
	claimFinish(t, h, store.JobEncode)

	// Left running.
	running := h.session("judy")
	h.seal(p, running.ID, h.record(running, []string{"$ uptime"}, 0, 0))
	if j, ok, err := h.st.ClaimJob(ctx, store.JobEncode, time.Now()); err != nil || !ok || j.SessionID != running.ID {
		t.Fatalf("claim: %+v %t %v", j, ok, err)
	}

	// Gone before its upload.
	lost := h.session("karl")
	lostSegs := h.record(lost, []string{"$ history -c"}, 0, 0)
	h.seal(p, lost.ID, lostSegs)
	if err := os.Remove(lostSegs[0].Path); err != nil {
		t.Fatal(err)
	}

	junk := filepath.Join(h.sealed, "junk.vsl")
	if err := os.WriteFile(junk, []byte("not a capture"), 0o600); err != nil {
		t.Fatal(err)
	}

	if err := p.Recover(ctx); err != nil {
		t.Fatal(err)
	}

	s, err := h.st.GetSession(ctx, orphan.ID)
	if err != nil || s.UserName != "grace" || s.Protocol != store.ProtocolSSH || !s.StartedAt.Equal(orphan.StartedAt) {
		t.Fatalf("adopted session %+v, %v", s, err)
	}
	g, err := h.st.GetSegment(ctx, orphan.ID, 0)
	if err != nil || g.State != store.SegmentSealed || g.SHA256 != orphanSegs[0].SHA256 || g.Path != orphanSegs[0].Path {
		t.Fatalf("adopted segment %+v, %v; want sealed with sha256 %s", g, err, orphanSegs[0].SHA256)
	}
	if evs := h.ev.of(MetricAdopted, orphan.ID); len(evs) != 1 {
		t.Fatalf("adopted events: %+v", evs)
	}
	if g, _ := h.st.GetSegment(ctx, half.ID, 0); g.State != store.SegmentSealed || g.SHA256 != halfSegs[0].SHA256 || g.Path != halfSegs[0].Path {
		t.Fatalf("half-sealed segment %+v", g)
	}
	if _, ok := h.job(store.JobUpload, gap.ID, 0); !ok {
		t.Fatal("the upload of an encoded segment was not queued")
	}
	if j, _ := h.job(store.JobEncode, running.ID, 0); j.State != store.JobPending {
		t.Fatalf("job left running is %s, want pending", j.State)
	}
	if g, _ := h.st.GetSegment(ctx, lost.ID, 0); g.State != store.SegmentFailed {
		t.Fatalf("segment with a missing capture is %s, want failed", g.State)
	}
	if evs := h.ev.of(MetricCaptureMissing, lost.ID); len(evs) != 1 || !strings.Contains(evs[0].Message, lostSegs[0].Path) {
		t.Fatalf("missing events: %+v", evs)
	}
	if evs := h.ev.of(MetricOrphan, ""); len(evs) != 1 || evs[0].Extra["path"] != junk || !exists(junk) {
		t.Fatalf("orphan events %+v; the file must stay", evs)
	}

	h.run(p)
	for _, id := range []string{orphan.ID, half.ID, gap.ID, running.ID} {
		h.waitJob(store.JobUpload, id, 0, store.JobUploaded)
	}
	j := h.waitJob(store.JobEncode, lost.ID, 0, store.JobFailed)
	if !strings.Contains(j.LastError, "missing") {
		t.Fatalf("encode of a missing capture failed with %q", j.LastError)
	}
	if evs := h.ev.of(MetricCaptureMissing, lost.ID); len(evs) != 1 {
		t.Fatalf("%d missing events, want the one from Recover only", len(evs))
	}
	if _, ok := h.job(store.JobUpload, lost.ID, 0); ok {
		t.Fatal("an upload was queued for a missing capture")
	}
}

// claimFinish claims the next job of kind and finishes it, as a process
// that crashed right after FinishJob would have.
func claimFinish(t *testing.T, h *harness, kind store.JobKind) {
	t.Helper()
	j, ok, err := h.st.ClaimJob(context.Background(), kind, time.Now())
	if err != nil || !ok {
		t.Fatalf("claim %s: %t %v", kind, ok, err)
	}
	if err := h.st.FinishJob(context.Background(), j.ID, ""); err != nil {
		t.Fatal(err)
	}
}

// TestSealedIsIdempotent reports the same seal twice, and a different one
// for the same segment.
func TestSealedIsIdempotent(t *testing.T) {
	h := newHarness(t, nil)
	p := h.pipeline(nil, Config{})
	sess := h.session("leo")
	segs := h.record(sess, []string{"$ true"}, 0, 0)
	ctx := context.Background()
	for range 2 {
		if err := p.Sealed(ctx, FromSealed(sess.ID, segs[0])); err != nil {
			t.Fatal(err)
		}
	}
	jobs, err := h.st.ListJobs(ctx, store.JobFilter{SessionID: sess.ID})
	if err != nil || len(jobs) != 1 {
		t.Fatalf("jobs after two identical seals: %+v, %v", jobs, err)
	}
	other := FromSealed(sess.ID, segs[0])
	sum := sha256.Sum256([]byte("other"))
	other.SHA256 = hex.EncodeToString(sum[:])
	if err := p.Sealed(ctx, other); err == nil || !strings.Contains(err.Error(), ErrConflict.Error()) {
		t.Fatalf("a conflicting seal: %v, want ErrConflict", err)
	}
	for _, bad := range []SegmentInfo{
		{SessionID: "../x", Segment: 0, Path: segs[0].Path},
		{SessionID: sess.ID, Segment: -1, Path: segs[0].Path},
		{SessionID: sess.ID, Segment: 0, Path: "/etc/passwd"},
		{SessionID: sess.ID, Segment: 0, Path: filepath.Join(h.sealed, "..", "x.vsl")},
	} {
		if err := p.Sealed(ctx, bad); err == nil {
			t.Errorf("Sealed(%+v) accepted", bad)
		}
	}
	if r := capture.VerifyFile(segs[0].Path, h.pub); r.Status != capture.Intact {
		t.Fatalf("the capture itself: %s", r.Describe())
	}
}

// TestRescanWhileRunning: a capture that reached the sealed directory
// without its seal being recorded (Sealed failed) is taken in by the
// periodic rescan, without a restart; one sealed a moment ago is left to
// its own Sealed call.
func TestRescanWhileRunning(t *testing.T) {
	h := newHarness(t, nil)
	p := h.pipeline(inProcessRecorder(t, &testrecorder.Recorder{}), Config{RescanEvery: 20 * time.Millisecond, Retention: time.Hour})
	lost := h.session("nina")
	lostSegs := h.record(lost, []string{"$ sudo -i"}, 0, 0)
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(lostSegs[0].Path, old, old); err != nil {
		t.Fatal(err)
	}
	fresh := h.session("oscar")
	h.record(fresh, []string{"$ ls"}, 0, 0)
	h.run(p)
	h.waitJob(store.JobUpload, lost.ID, 0, store.JobUploaded)
	if evs := h.ev.wait(t, MetricAdopted, lost.ID, 1); len(evs) != 1 {
		t.Fatalf("adopted events %+v", evs)
	}
	if _, ok := h.job(store.JobEncode, fresh.ID, 0); ok {
		t.Fatal("a capture sealed a moment ago was taken in before its own seal")
	}
}
