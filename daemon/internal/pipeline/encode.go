package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/termrender"
)

// encode renders one segment with its protocol's recorder into
// <RendersDir>/<session>/<segment>/, records the renders and the
// transcript, and queues the upload. A failure is retried with backoff up
// to EncodeMaxFailures; then, or when no recorder can render it, the
// render is given up and the capture is uploaded without renders.
func (p *Pipeline) encode(ctx context.Context, job store.Job) {
	failures, limit := renderFailures(job.LastError), p.cfg.EncodeMaxFailures
	seg, sess, err := p.load(ctx, job)
	if err != nil {
		p.retryLater(ctx, job, renderCause(failures, limit, "reading the store", err), jobError("encode", job, err))
		return
	}
	if p.captureGone(ctx, job, seg, &sess) {
		return
	}
	rec := p.cfg.Recorders[string(sess.Protocol)]
	if rec == nil {
		p.giveUpRender(ctx, job, seg, &sess, fmt.Sprintf("no recorder plugin for protocol %q", sess.Protocol))
		return
	}
	dir := p.renderDir(sess.ID, seg.N)
	if err := resetDir(dir); err != nil {
		p.retryLater(ctx, job, renderCause(failures, limit, "preparing the render directory", err), jobError("encode", job, err))
		return
	}
	p.setRecordingState(ctx, &sess, store.RecordingEncoding, false)
	p.publish(MetricEncodeStart, event.LevelInfo, fmt.Sprintf("rendering segment %d of session %s", seg.N, sess.ID),
		&sess, seg.N, map[string]string{"attempt": strconv.Itoa(job.Attempts), "path": seg.Path})

	began := time.Now()
	rctx, cancel := context.WithTimeout(ctx, p.cfg.RenderTimeout)
	res, err := rec.Render(rctx, sdk.RenderRequest{
		SessionID: sess.ID, Segment: seg.N, CapturePath: seg.Path, PublicKey: p.cfg.PublicKey,
		OutputDir: dir, Settings: p.tunables().Render,
	}, func(percent int) {
		if err := p.cfg.Store.UpdateJobProgress(rctx, job.ID, max(0, min(100, percent))); err != nil && rctx.Err() == nil {
			p.log.Debug("recording render progress", "job", job.ID, "error", err)
		}
	})
	cancel()
	var m manifest
	if err == nil {
		m, err = checkRendered(dir, res)
	}
	if err == nil {
		err = eachTranscriptLine(dir, m, func(store.TranscriptLine) error { return nil })
	}
	if err != nil {
		p.renderFailed(ctx, job, seg, &sess, err)
		return
	}
	if err := p.recordRenders(ctx, sess, seg, dir, m); err != nil {
		p.retryLater(ctx, job, renderCause(failures, limit, "recording the renders", err), jobError("encode", job, err))
		return
	}
	if err := p.cfg.Store.FinishJob(ctx, job.ID, ""); err != nil {
		p.retryLater(ctx, job, renderCause(failures, limit, "finishing the job", err), jobError("encode", job, err))
		return
	}
	p.publish(MetricEncodeDone, event.LevelInfo, fmt.Sprintf("segment %d of session %s rendered: %d files", seg.N, sess.ID, len(m.Files)),
		&sess, seg.N, map[string]string{"files": strconv.Itoa(len(m.Files)), "duration_ms": strconv.FormatInt(time.Since(began).Milliseconds(), 10)})
	p.queue(ctx, store.JobUpload, job)
}

// resetDir empties dir (what an interrupted render left) and creates it.
func resetDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o750)
}

// eachTranscriptLine calls fn for each line of the transcript files of a
// render: lines of "offset_ms<TAB>text" (termrender.Transcript), offsets
// counted from the session start. A malformed file is ErrBadRender.
func eachTranscriptLine(dir string, m manifest, fn func(store.TranscriptLine) error) error {
	for _, f := range m.Files {
		if f.Role != string(store.RenderTranscript) {
			continue
		}
		fh, err := os.Open(filepath.Join(dir, f.Name))
		if err != nil {
			return err
		}
		var fnErr error
		err = termrender.ReadTranscript(fh, func(ms int64, text string) error {
			fnErr = fn(store.TranscriptLine{OffsetMS: ms, Text: text})
			return fnErr
		})
		fh.Close()
		switch {
		case fnErr != nil:
			return fnErr
		case err != nil:
			return fmt.Errorf("%w: transcript %s: %v", ErrBadRender, f.Name, err)
		}
	}
	return nil
}

// A transcript goes into the search index transcriptBatch lines per
// transaction, with transcriptPause between transactions: SQLite has one
// writer at a time and its waiting writers poll for the lock, so one long
// transaction, or transactions back to back, would keep logins and
// sessions waiting behind the index of a 150 MB segment (and past the
// store's busy timeout).
const (
	transcriptBatch = 2000
	transcriptPause = 50 * time.Millisecond
)

// pause waits d, or less if ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// recordRenders makes a render durable and known: the manifest, the
// transcript in the search index, a render row per role (the first file
// of a role with several, such as thumbnails: the store keeps one per
// role; every file is uploaded all the same), the segment encoded.
//
// The transcript is indexed unless the store already has this very
// transcript (same SHA-256) from an earlier run of the same render. A
// crash between indexing and recording its row can still index lines
// twice: the store has no way to replace a segment's lines, and a line
// found twice is better than a line never found.
func (p *Pipeline) recordRenders(ctx context.Context, sess store.Session, seg store.Segment, dir string, m manifest) error {
	if err := writeManifest(dir, m); err != nil {
		return err
	}
	first := map[string]renderedFile{}
	for _, f := range m.Files {
		if _, ok := first[f.Role]; !ok {
			first[f.Role] = f
		}
	}
	if t, ok := first[string(store.RenderTranscript)]; ok && !p.indexed(ctx, sess.ID, seg.N, t.SHA256) {
		if err := p.indexTranscript(ctx, sess.ID, seg.N, dir, m); err != nil {
			return err
		}
	}
	for _, f := range first {
		if err := p.cfg.Store.PutRender(ctx, store.Render{SessionID: sess.ID, Segment: seg.N, Role: store.RenderRole(f.Role),
			LocalPath: filepath.Join(dir, f.Name), Size: f.Size, SHA256: f.SHA256}); err != nil {
			return err
		}
	}
	encoded := store.SegmentEncoded
	return p.cfg.Store.UpdateSegment(ctx, sess.ID, seg.N, store.SegmentUpdate{State: &encoded})
}

// renderFailed records a failed render: retried later, not counted when
// the recorder plugin was unavailable, given up after the limit.
func (p *Pipeline) renderFailed(ctx context.Context, job store.Job, seg store.Segment, sess *store.Session, err error) {
	_ = os.RemoveAll(p.renderDir(sess.ID, seg.N))
	failures, limit := renderFailures(job.LastError), p.cfg.EncodeMaxFailures
	if ctx.Err() != nil {
		p.putBack(ctx, job, renderCause(failures, limit, "interrupted by shutdown", err))
		return
	}
	err = jobError("encode", job, err)
	now := p.now()
	if p.cfg.Unavailable(err) {
		if waited := now.Sub(job.Created); waited >= p.cfg.RenderGiveUpAfter {
			p.giveUpRender(ctx, job, seg, sess, renderCause(failures, limit,
				fmt.Sprintf("recorder plugin unavailable for %s", waited.Round(time.Second)), err))
			return
		}
		retry := now.Add(backoff(job.Attempts-failures, p.cfg.EncodeRetryBase, p.cfg.EncodeRetryMaxBackoff))
		if ferr := p.cfg.Store.FailJob(ctx, job.ID, renderCause(failures, limit, "recorder plugin unavailable (not counted)", err), retry); ferr != nil {
			p.log.Error("recording a render failure", "job", job.ID, "error", ferr)
		}
		p.publish(MetricEncodeFailed, event.LevelWarning, fmt.Sprintf("render of segment %d of session %s interrupted: the recorder plugin is unavailable; retrying", seg.N, sess.ID),
			sess, seg.N, map[string]string{"error": err.Error(), "counted": "false", "next_attempt": retry.UTC().Format(time.RFC3339)})
		return
	}
	failures++
	cause := renderCause(failures, limit, "render failed", err)
	if errors.Is(err, sdk.ErrInvalidCapture) {
		// The recorder refused the capture itself (it does not verify, or
		// its stream is malformed): the same bytes fail the same way, so
		// rendering again would only delay the upload.
		p.giveUpRender(ctx, job, seg, sess, renderCause(failures, failures, "the capture cannot be rendered", err))
		return
	}
	if failures >= limit {
		p.giveUpRender(ctx, job, seg, sess, cause)
		return
	}
	retry := now.Add(backoff(failures, p.cfg.EncodeRetryBase, p.cfg.EncodeRetryMaxBackoff))
	if ferr := p.cfg.Store.FailJob(ctx, job.ID, cause, retry); ferr != nil {
		p.log.Error("recording a render failure", "job", job.ID, "error", ferr)
	}
	p.publish(MetricEncodeFailed, event.LevelWarning, fmt.Sprintf("render of segment %d of session %s failed (%d of %d): %v", seg.N, sess.ID, failures, limit, err),
		sess, seg.N, map[string]string{"error": err.Error(), "attempt": strconv.Itoa(failures), "next_attempt": retry.UTC().Format(time.RFC3339)})
}

// giveUpRender fails the encode job for good and queues the upload of the
// capture alone: renders are a convenience, the signed capture is the
// evidence.
func (p *Pipeline) giveUpRender(ctx context.Context, job store.Job, seg store.Segment, sess *store.Session, cause string) {
	_ = os.RemoveAll(p.renderDir(sess.ID, seg.N))
	cause += "; the capture is uploaded without renders"
	if err := p.cfg.Store.FailJob(ctx, job.ID, cause, time.Time{}); err != nil {
		p.log.Error("giving up a render", "job", job.ID, "error", err)
		return
	}
	p.publish(MetricEncodeFailed, event.LevelError, fmt.Sprintf("render of segment %d of session %s given up: %s", seg.N, sess.ID, cause),
		sess, seg.N, map[string]string{"error": cause, "given_up": "true"})
	p.queue(ctx, store.JobUpload, job)
}

// queue enqueues the next step of job's segment and wakes its workers. A
// failure here is repaired by Recover, which re-derives every next step
// from the journal.
func (p *Pipeline) queue(ctx context.Context, kind store.JobKind, job store.Job) {
	if _, _, err := p.cfg.Store.EnqueueJob(ctx, kind, job.SessionID, job.Segment); err != nil {
		p.log.Error("queueing the next step", "kind", kind, "session", job.SessionID, "segment", job.Segment, "error", err)
		return
	}
	p.wake[kind].notify()
}

// captureGone handles a job whose capture file is missing: the job fails
// for good, the segment and its session are marked failed, and an ERROR
// event says so (once). It reports whether the file is gone.
func (p *Pipeline) captureGone(ctx context.Context, job store.Job, seg store.Segment, sess *store.Session) bool {
	_, err := os.Stat(seg.Path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return false
	}
	cause := fmt.Sprintf("capture file %s is missing", seg.Path)
	if ferr := p.cfg.Store.FailJob(ctx, job.ID, cause, time.Time{}); ferr != nil {
		p.log.Error("failing a job", "job", job.ID, "error", ferr)
	}
	p.markMissing(ctx, seg, sess)
	return true
}

// markMissing marks a segment whose capture is gone before its upload.
func (p *Pipeline) markMissing(ctx context.Context, seg store.Segment, sess *store.Session) {
	if seg.State == store.SegmentFailed {
		return
	}
	failed := store.SegmentFailed
	if err := p.cfg.Store.UpdateSegment(ctx, seg.SessionID, seg.N, store.SegmentUpdate{State: &failed}); err != nil {
		p.log.Error("flagging a missing capture", "session", seg.SessionID, "segment", seg.N, "error", err)
	}
	p.setRecordingState(ctx, sess, store.RecordingFailed, true)
	p.publish(MetricCaptureMissing, event.LevelError,
		fmt.Sprintf("capture file of segment %d of session %s is missing before its upload: %s", seg.N, seg.SessionID, seg.Path),
		sess, seg.N, map[string]string{"path": seg.Path})
}

// indexed reports whether the store has the transcript with this SHA-256
// of the segment already.
func (p *Pipeline) indexed(ctx context.Context, sessionID string, n int, sum string) bool {
	rs, err := p.cfg.Store.ListRenders(ctx, sessionID)
	if err != nil {
		return false
	}
	for _, r := range rs {
		if r.Segment == n && r.Role == store.RenderTranscript && r.SHA256 == sum {
			return true
		}
	}
	return false
}

// indexTranscript adds the render's transcript lines to the search index,
// in batches.
func (p *Pipeline) indexTranscript(ctx context.Context, sessionID string, n int, dir string, m manifest) error {
	batch := make([]store.TranscriptLine, 0, transcriptBatch)
	batches := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if batches++; batches > 1 {
			if err := pause(ctx, transcriptPause); err != nil {
				return err
			}
		}
		if err := p.cfg.Store.AddTranscript(ctx, sessionID, n, batch); err != nil {
			return err
		}
		batch = batch[:0]
		return nil
	}
	err := eachTranscriptLine(dir, m, func(l store.TranscriptLine) error {
		batch = append(batch, l)
		if len(batch) < transcriptBatch {
			return nil
		}
		return flush()
	})
	if err != nil {
		return err
	}
	return flush()
}

// setRecordingState updates the session's recording state. The capture
// writer owns it while the session is active, unless force.
func (p *Pipeline) setRecordingState(ctx context.Context, sess *store.Session, state store.RecordingState, force bool) {
	if sess.ID == "" || sess.RecordingState == state || !force && sess.State == store.SessionActive {
		return
	}
	if err := p.cfg.Store.UpdateSession(ctx, sess.ID, store.SessionUpdate{RecordingState: &state}); err != nil {
		p.log.Error("updating a session's recording state", "session", sess.ID, "error", err)
		return
	}
	sess.RecordingState = state
}
