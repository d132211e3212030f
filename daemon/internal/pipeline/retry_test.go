package pipeline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/pipeline/internal/testrecorder"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// inProcessRecorder is the test recorder served in this process over real
// gRPC (sdktest's harness), for faults injected in Go.
func inProcessRecorder(t *testing.T, r *testrecorder.Recorder) map[string]Recorder {
	return map[string]Recorder{"ssh": sdktest.ServeRecorder(t, r, nil)}
}

// TestUploadRetriesWhileStorageIsDown stops the object store before a
// segment is sealed: the upload fails and is retried with exponential
// backoff capped at UploadRetryMaxBackoff (read from the journal's due
// times, with an injected clock), the local copy stays; once the store is
// back the upload succeeds and is verified, and the local copy goes only
// when retention has passed.
func TestUploadRetriesWhileStorageIsDown(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, clock)
	p := h.pipeline(inProcessRecorder(t, &testrecorder.Recorder{}), Config{
		Retention: time.Hour, UploadRetryBase: 10 * time.Second, UploadRetryMaxBackoff: 40 * time.Second,
	})
	h.s3.Stop()
	h.run(p)
	sess := h.session("carol")
	segs := h.record(sess, []string{"$ systemctl restart nginx"}, 0, 0)
	h.seal(p, sess.ID, segs)
	path := segs[0].Path

	for i, want := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 40 * time.Second} {
		j := h.waitAttempt(store.JobUpload, sess.ID, 0, i+1)
		if j.State != store.JobRetrying || j.LastError == "" {
			t.Fatalf("attempt %d: job %s (%q), want retrying with the error", i+1, j.State, j.LastError)
		}
		if got := j.NextAttemptAt.Sub(clock.Now()); got != want {
			t.Fatalf("attempt %d: next attempt in %s, want %s", i+1, got, want)
		}
		if !exists(path) {
			t.Fatalf("attempt %d: the local capture was deleted while its upload fails", i+1)
		}
		if i < 3 {
			clock.Advance(want)
		}
	}
	failed := h.ev.wait(t, MetricUploadFailed, sess.ID, 4)
	if len(failed) != 4 || failed[0].Level != event.LevelWarning || failed[0].Extra["next_attempt"] == "" {
		t.Fatalf("upload.failed events: %+v", failed)
	}

	h.s3.Start()
	clock.Advance(40 * time.Second)
	up := h.waitJob(store.JobUpload, sess.ID, 0, store.JobUploaded)
	if up.Attempts != 5 || len(h.ev.wait(t, MetricUploadRetry, sess.ID, 4)) != 4 {
		t.Fatalf("upload done after %d attempts with %d retry events, want 5 and 4", up.Attempts, len(h.ev.of(MetricUploadRetry, sess.ID)))
	}
	info, err := h.storage.Head(context.Background(), up.ObjectKey)
	if err != nil || info.Size != segs[0].Size || info.SHA256 != segs[0].SHA256 {
		t.Fatalf("stored capture %+v, %v; want size %d sha256 %s", info, err, segs[0].Size, segs[0].SHA256)
	}

	// Retention: due exactly an hour after the verified upload.
	del := h.waitAttempt(store.JobDelete, sess.ID, 0, 1)
	if !del.NextAttemptAt.Equal(up.Finished.Add(time.Hour)) || !strings.HasPrefix(del.LastError, retentionWait) {
		t.Fatalf("delete job due %v (%q), want %v", del.NextAttemptAt, del.LastError, up.Finished.Add(time.Hour))
	}
	if !exists(path) {
		t.Fatal("the local copy went before retention")
	}
	clock.Advance(time.Hour)
	h.waitJob(store.JobDelete, sess.ID, 0, store.JobDeleted)
	if exists(path) || exists(p.renderDir(sess.ID, 0)) {
		t.Fatal("local copies left after retention")
	}
	if evs := h.ev.wait(t, MetricRetentionDelete, sess.ID, 1); len(evs) != 1 {
		t.Fatalf("%d retention.delete events, want 1", len(evs))
	}
}

// TestStuckPastRetention keeps the object store down until the segment is
// older than the stuck threshold (the retention): the next failing attempt
// marks the job stuck, with an ERROR event, the local copy kept, no more
// attempts; an administrator's RetryJob, with the store back, finishes it.
func TestStuckPastRetention(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, clock)
	p := h.pipeline(inProcessRecorder(t, &testrecorder.Recorder{}), Config{
		Retention: 2 * time.Hour, UploadRetryBase: time.Minute, UploadRetryMaxBackoff: 30 * time.Minute,
	})
	h.s3.Stop()
	h.run(p)
	ctx := context.Background()
	sess := h.session("dave")
	segs := h.record(sess, []string{"$ rm -rf /tmp/evidence"}, 0, 0)
	h.seal(p, sess.ID, segs)

	h.waitAttempt(store.JobUpload, sess.ID, 0, 1)
	clock.Advance(2 * time.Hour)
	j := h.waitJob(store.JobUpload, sess.ID, 0, store.JobStuck)
	if j.Attempts != 2 || j.LastError == "" {
		t.Fatalf("stuck after %d attempts (%q), want 2 and the error", j.Attempts, j.LastError)
	}
	stuck := h.ev.wait(t, MetricStuck, sess.ID, 1)
	if len(stuck) != 1 || stuck[0].Level != event.LevelError {
		t.Fatalf("recording.stuck events: %+v", stuck)
	}
	if !exists(segs[0].Path) {
		t.Fatal("a stuck segment was deleted locally")
	}
	if s, _ := h.st.GetSession(ctx, sess.ID); s.RecordingState != store.RecordingStuck {
		t.Fatalf("session recording state %s, want stuck", s.RecordingState)
	}
	st, err := p.Status(ctx)
	if err != nil || st.Stuck != 1 || st.UploadQueued != 0 {
		t.Fatalf("Status = %+v, %v; want one stuck job and none queued", st, err)
	}

	h.s3.Start()
	if err := h.st.RetryJob(ctx, j.ID); err != nil {
		t.Fatal(err)
	}
	h.waitJob(store.JobUpload, sess.ID, 0, store.JobUploaded)
	if !exists(segs[0].Path) {
		t.Fatal("deleted right after the upload despite 2 h retention")
	}
	clock.Advance(2 * time.Hour)
	h.waitJob(store.JobDelete, sess.ID, 0, store.JobDeleted)
	if exists(segs[0].Path) {
		t.Fatal("local copy left after retention")
	}
}

// TestRenderFailuresStillUploadTheCapture: a segment whose render always
// fails is retried with backoff up to EncodeMaxFailures, then given up with
// the error shown, and its signed capture is uploaded all the same; a good
// segment sealed at the same time is rendered and uploaded meanwhile.
func TestRenderFailuresStillUploadTheCapture(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, clock)
	bad := h.session("mallory")
	good := h.session("erin")
	rec := &testrecorder.Recorder{Fail: func(req sdk.RenderRequest) error {
		if req.SessionID == bad.ID {
			return errors.New("ffmpeg exploded")
		}
		return nil
	}}
	p := h.pipeline(inProcessRecorder(t, rec), Config{EncodeMaxFailures: 3, EncodeRetryBase: time.Minute, Retention: time.Hour})
	h.run(p)
	h.seal(p, bad.ID, h.record(bad, []string{"$ ./exploit"}, 0, 0))
	h.seal(p, good.ID, h.record(good, []string{"$ uptime"}, 0, 0))

	j := h.waitAttempt(store.JobEncode, bad.ID, 0, 1)
	if j.State != store.JobRetrying || !strings.HasPrefix(j.LastError, "render failures 1 of 3: render failed: ") ||
		!strings.Contains(j.LastError, "ffmpeg exploded") {
		t.Fatalf("after one failure: %s %q", j.State, j.LastError)
	}
	// The bad segment holds nothing up.
	h.waitJob(store.JobUpload, good.ID, 0, store.JobUploaded)

	clock.Advance(time.Minute)
	j = h.waitAttempt(store.JobEncode, bad.ID, 0, 2)
	if j.State != store.JobRetrying || !strings.HasPrefix(j.LastError, "render failures 2 of 3: ") {
		t.Fatalf("after two failures: %s %q", j.State, j.LastError)
	}
	if got := j.NextAttemptAt.Sub(clock.Now()); got != 2*time.Minute {
		t.Fatalf("second retry in %s, want 2m", got)
	}
	clock.Advance(2 * time.Minute)
	j = h.waitJob(store.JobEncode, bad.ID, 0, store.JobFailed)
	if !strings.HasPrefix(j.LastError, "render failures 3 of 3: ") || !strings.Contains(j.LastError, "uploaded without renders") {
		t.Fatalf("given up with %q", j.LastError)
	}
	up := h.waitJob(store.JobUpload, bad.ID, 0, store.JobUploaded)
	objs, err := h.s3.Objects(h.bucket)
	if err != nil {
		t.Fatal(err)
	}
	var badKeys, goodKeys int
	for k := range objs {
		switch {
		case strings.Contains(k, bad.ID):
			badKeys++
		case strings.Contains(k, good.ID):
			goodKeys++
		}
	}
	if _, ok := objs[up.ObjectKey]; !ok || badKeys != 1 || goodKeys != 3 {
		t.Fatalf("bucket %v: want the bad segment's capture alone (%s) and the good one's three files", objs, up.ObjectKey)
	}
	evs := h.ev.wait(t, MetricEncodeFailed, bad.ID, 3)
	if len(evs) != 3 || evs[2].Level != event.LevelError || evs[2].Extra["given_up"] != "true" {
		t.Fatalf("encode.failed events: %+v", evs)
	}
}

// TestRetentionAfterLocationChange: a segment uploaded under one
// upload-location template is checked, at the end of its retention, under
// the keys it was uploaded with, although the template changed meanwhile:
// its local copies are deleted, not flagged stuck; a segment uploaded
// after the change goes under the new template.
func TestRetentionAfterLocationChange(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, clock)
	p := h.pipeline(inProcessRecorder(t, &testrecorder.Recorder{}), Config{Retention: 2 * time.Hour})
	h.run(p)
	ctx := context.Background()
	before := h.session("frank")
	segs := h.record(before, []string{"$ uptime"}, 0, 0)
	h.seal(p, before.ID, segs)
	h.waitJob(store.JobUpload, before.ID, 0, store.JobUploaded)
	old, err := h.st.GetSegment(ctx, before.ID, 0)
	if err != nil || !strings.HasPrefix(old.ObjectKey, "vigil/frank/") {
		t.Fatalf("segment uploaded under %q (%v), want the first template's vigil/frank/...", old.ObjectKey, err)
	}

	moved := strings.Replace(h.template(), "/vigil/", "/moved/", 1)
	if err := p.Reload(Tunables{UploadLocation: moved, Retention: 2 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Hour)
	h.waitJob(store.JobDelete, before.ID, 0, store.JobDeleted)
	if exists(segs[0].Path) || exists(p.renderDir(before.ID, 0)) {
		t.Error("local copies left after retention")
	}
	if evs := h.ev.of(MetricStuck, ""); len(evs) > 0 {
		t.Errorf("stuck after a location change: %+v", evs)
	}

	after := h.session("grace")
	h.seal(p, after.ID, h.record(after, []string{"$ id"}, 0, 0))
	h.waitJob(store.JobUpload, after.ID, 0, store.JobUploaded)
	if g, err := h.st.GetSegment(ctx, after.ID, 0); err != nil || !strings.HasPrefix(g.ObjectKey, "moved/grace/") {
		t.Fatalf("segment after the change uploaded under %q (%v), want moved/grace/...", g.ObjectKey, err)
	}
}

// TestInvalidCaptureIsNotRenderedAgain: a recorder that refuses the
// capture itself (sdk.ErrInvalidCapture) is not asked again: the render is
// given up at the first failure and the capture uploaded at once.
func TestInvalidCaptureIsNotRenderedAgain(t *testing.T) {
	clock := newFakeClock()
	h := newHarness(t, clock)
	sess := h.session("ivan")
	rec := &testrecorder.Recorder{Fail: func(sdk.RenderRequest) error {
		return fmt.Errorf("checkpoint 3: %w", sdk.ErrInvalidCapture)
	}}
	p := h.pipeline(inProcessRecorder(t, rec), Config{EncodeMaxFailures: 3, EncodeRetryBase: time.Minute, Retention: time.Hour})
	h.run(p)
	h.seal(p, sess.ID, h.record(sess, []string{"$ ls"}, 0, 0))

	j := h.waitJob(store.JobEncode, sess.ID, 0, store.JobFailed)
	if j.Attempts != 1 || !strings.HasPrefix(j.LastError, "render failures 1 of 1: the capture cannot be rendered: ") ||
		!strings.Contains(j.LastError, "uploaded without renders") {
		t.Fatalf("encode job after an invalid capture: %d attempts, %q", j.Attempts, j.LastError)
	}
	h.waitJob(store.JobUpload, sess.ID, 0, store.JobUploaded)
	evs := h.ev.wait(t, MetricEncodeFailed, sess.ID, 1)
	if len(evs) != 1 || evs[0].Extra["given_up"] != "true" {
		t.Fatalf("encode.failed events: %+v", evs)
	}
}
