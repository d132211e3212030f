package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// ErrVerify: an uploaded object is not what was uploaded.
var ErrVerify = errors.New("uploaded object does not match the local file")

// upload puts the segment's capture and renders into storage, each
// verified (size and SHA-256) before the segment is marked uploaded.
// Failures are retried with capped exponential backoff, the local copies
// kept, until the segment is StuckAfter old: then the job is marked stuck
// for an administrator.
func (p *Pipeline) upload(ctx context.Context, job store.Job) {
	seg, sess, err := p.load(ctx, job)
	if err != nil {
		p.retryLater(ctx, job, err.Error(), jobError("upload", job, err))
		return
	}
	if p.captureGone(ctx, job, seg, &sess) {
		return
	}
	if job.Attempts > 1 {
		p.publish(MetricUploadRetry, event.LevelInfo, fmt.Sprintf("retrying the upload of segment %d of session %s (attempt %d)", seg.N, sess.ID, job.Attempts),
			&sess, seg.N, map[string]string{"attempt": strconv.Itoa(job.Attempts), "last_error": job.LastError})
	}
	objs, err := p.objects(sess, seg, job)
	if err != nil {
		p.uploadFailed(ctx, job, seg, &sess, "", fmt.Errorf("%w: %v", errPermanent, err))
		return
	}
	var total int64
	for _, o := range objs {
		total += o.size
	}
	uctx, cancel := context.WithTimeout(ctx, p.cfg.UploadTimeout)
	defer cancel()
	progress := newProgress(total, func(pct int) { _ = p.cfg.Store.UpdateJobProgress(uctx, job.ID, pct) })
	for _, o := range objs {
		if err := p.putVerified(uctx, sess, seg, o, progress); err != nil {
			p.uploadFailed(ctx, job, seg, &sess, o.key, err)
			return
		}
	}
	if err := p.recordKeys(seg, sess.ID, objs); err != nil {
		p.retryLater(ctx, job, err.Error(), jobError("upload", job, err))
		return
	}
	if err := p.recordUpload(ctx, sess, seg, objs); err != nil {
		p.retryLater(ctx, job, err.Error(), jobError("upload", job, err))
		return
	}
	if err := p.cfg.Store.FinishJob(ctx, job.ID, objs[0].key); err != nil {
		p.retryLater(ctx, job, err.Error(), jobError("upload", job, err))
		return
	}
	p.publish(MetricUploadDone, event.LevelInfo, fmt.Sprintf("segment %d of session %s uploaded: %s and %d renders", seg.N, sess.ID,
		p.tunables().tmpl.Location(objs[0].key), len(objs)-1), &sess, seg.N, map[string]string{
		"key": objs[0].key, "location": p.tunables().tmpl.Location(objs[0].key), "files": strconv.Itoa(len(objs)),
		"bytes": strconv.FormatInt(total, 10), "attempt": strconv.Itoa(job.Attempts),
	})
	p.sessionUploaded(ctx, &sess)
	p.queue(ctx, store.JobDelete, job)
}

// errPermanent marks upload failures that retrying cannot cure.
var errPermanent = errors.New("retrying cannot help")

// putVerified puts o unless storage holds it already (a resumed upload),
// then checks what storage holds.
func (p *Pipeline) putVerified(ctx context.Context, sess store.Session, seg store.Segment, o object, progress func(int64)) error {
	if info, err := p.cfg.Storage.Head(ctx, o.key); err == nil && info.Size == o.size && strings.EqualFold(info.SHA256, o.sha256) {
		progress(o.size)
		return nil
	}
	f, err := os.Open(o.path)
	if err != nil {
		return err
	}
	defer f.Close()
	// The file itself, not a wrapper around it: the sdk then passes a
	// launched plugin the open file (its side channel) to read in parallel,
	// instead of streaming its bytes over gRPC. Progress moves per file.
	_, err = p.cfg.Storage.Put(ctx, o.key, f, o.size, sdk.PutOptions{
		ContentType: o.mediaType, SHA256: o.sha256,
		Metadata: map[string]string{"session-id": sess.ID, "segment": strconv.Itoa(seg.N), "role": o.role},
	})
	switch {
	case errors.Is(err, sdk.ErrContentMismatch):
		// The file no longer has the size or SHA-256 recorded when it was
		// sealed or rendered.
		return fmt.Errorf("%s changed since it was recorded: %w: %w", o.path, errPermanent, err)
	case errors.Is(err, sdk.ErrInvalidKey):
		return fmt.Errorf("%w: %w", errPermanent, err)
	case err != nil:
		return err
	}
	if err := p.verify(ctx, o); err != nil {
		return err
	}
	progress(o.size)
	return nil
}

// verify checks the stored object's size and SHA-256. A backend that does
// not know an object's SHA-256 has it read back.
func (p *Pipeline) verify(ctx context.Context, o object) error {
	info, err := p.cfg.Storage.Head(ctx, o.key)
	if err != nil {
		return fmt.Errorf("verify %s: %w", o.key, err)
	}
	if info.Size != o.size {
		return fmt.Errorf("%w: %s holds %d bytes, %s has %d", ErrVerify, o.key, info.Size, o.path, o.size)
	}
	sum := strings.ToLower(info.SHA256)
	if sum == "" {
		rc, _, err := p.cfg.Storage.Get(ctx, o.key, 0, -1)
		if err != nil {
			return fmt.Errorf("verify %s: %w", o.key, err)
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("verify %s: %w", o.key, err)
		}
		sum = hex.EncodeToString(h.Sum(nil))
	}
	if sum != strings.ToLower(o.sha256) {
		return fmt.Errorf("%w: %s has sha256 %s, %s has %s", ErrVerify, o.key, sum, o.path, o.sha256)
	}
	return nil
}

// recordUpload records where each file went and marks the segment
// uploaded.
func (p *Pipeline) recordUpload(ctx context.Context, sess store.Session, seg store.Segment, objs []object) error {
	done := map[string]bool{}
	for _, o := range objs[1:] {
		if done[o.role] {
			continue // the store keeps the first file of a role
		}
		done[o.role] = true
		if err := p.cfg.Store.PutRender(ctx, store.Render{SessionID: sess.ID, Segment: seg.N, Role: store.RenderRole(o.role),
			LocalPath: o.path, ObjectKey: o.key, Size: o.size, SHA256: o.sha256}); err != nil {
			return err
		}
	}
	uploaded := store.SegmentUploaded
	return p.cfg.Store.UpdateSegment(ctx, sess.ID, seg.N, store.SegmentUpdate{State: &uploaded, ObjectKey: &objs[0].key})
}

// uploadFailed schedules the next attempt, or marks the job stuck when
// the segment is too old or retrying cannot help.
func (p *Pipeline) uploadFailed(ctx context.Context, job store.Job, seg store.Segment, sess *store.Session, key string, err error) {
	if ctx.Err() != nil {
		p.putBack(ctx, job, "interrupted by shutdown: "+err.Error())
		return
	}
	err = jobError("upload", job, err)
	now := p.now()
	sealed := seg.SealedAt
	if sealed.IsZero() {
		sealed = job.Created
	}
	extra := map[string]string{"error": err.Error(), "attempt": strconv.Itoa(job.Attempts), "path": seg.Path}
	if key != "" {
		extra["key"], extra["location"] = key, p.tunables().tmpl.Location(key)
	}
	if age := now.Sub(sealed); errors.Is(err, errPermanent) || age >= p.cfg.StuckAfter {
		if serr := p.cfg.Store.MarkJobStuck(ctx, job.ID, err.Error()); serr != nil {
			p.log.Error("marking an upload stuck", "job", job.ID, "error", serr)
		}
		p.setRecordingState(ctx, sess, store.RecordingStuck, true)
		p.publish(MetricStuck, event.LevelError, fmt.Sprintf("segment %d of session %s is not uploaded %s after its seal and is kept locally until an administrator retries it: %v",
			seg.N, sess.ID, age.Round(time.Second), err), sess, seg.N, extra)
		return
	}
	retry := now.Add(backoff(job.Attempts, p.cfg.UploadRetryBase, p.tunables().UploadRetryMaxBackoff))
	if ferr := p.cfg.Store.FailJob(ctx, job.ID, err.Error(), retry); ferr != nil {
		p.log.Error("recording an upload failure", "job", job.ID, "error", ferr)
	}
	extra["next_attempt"] = retry.UTC().Format(time.RFC3339)
	p.publish(MetricUploadFailed, event.LevelWarning, fmt.Sprintf("upload of segment %d of session %s failed, retrying at %s; the local copy is kept: %v",
		seg.N, sess.ID, retry.UTC().Format(time.RFC3339), err), sess, seg.N, extra)
}

// sessionUploaded marks an ended session uploaded once all its segments
// are.
func (p *Pipeline) sessionUploaded(ctx context.Context, sess *store.Session) {
	if sess.State == store.SessionActive {
		return
	}
	segs, err := p.cfg.Store.ListSegments(ctx, sess.ID)
	if err != nil {
		p.log.Error("listing a session's segments", "session", sess.ID, "error", err)
		return
	}
	for _, g := range segs {
		if g.State != store.SegmentUploaded && g.State != store.SegmentDeleted {
			return
		}
	}
	p.setRecordingState(ctx, sess, store.RecordingUploaded, false)
}

// newProgress returns a function that takes byte counts and reports the
// percentage of total done whenever it changes (at most 99: done is the
// job's finish).
func newProgress(total int64, report func(pct int)) func(int64) {
	var mu sync.Mutex
	var done int64
	last := 0
	return func(n int64) {
		mu.Lock()
		defer mu.Unlock()
		done += n
		if pct := int(min(99, done*100/max(total, 1))); pct != last {
			last = pct
			report(pct)
		}
	}
}
