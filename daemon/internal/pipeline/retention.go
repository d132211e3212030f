package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// retentionWait is how a delete job's last error reads while it waits for
// the end of retention: the journal's due time is what schedules it (the
// job sits in the retrying state until then).
const retentionWait = "retention: local copies kept until "

// retain deletes a segment's local copies (capture and renders) once its
// upload is Retention old, after checking once more that storage holds
// every file as uploaded. Nothing that is not verifiably in storage is
// ever deleted: a missing or different object marks the job stuck, the
// local copy kept.
func (p *Pipeline) retain(ctx context.Context, job store.Job) {
	seg, sess, err := p.load(ctx, job)
	if err != nil {
		p.retryLater(ctx, job, err.Error(), jobError("retention", job, err))
		return
	}
	up, _, err := p.cfg.Store.EnqueueJob(ctx, store.JobUpload, job.SessionID, job.Segment)
	if err != nil {
		p.retryLater(ctx, job, err.Error(), jobError("retention", job, err))
		return
	}
	if up.State != store.JobUploaded {
		// Never reached through the pipeline, which queues this job after
		// the upload finished; refuse rather than delete.
		if err := p.cfg.Store.FailJob(ctx, job.ID, fmt.Sprintf("upload job %d is %s, not uploaded: nothing deleted", up.ID, up.State), time.Time{}); err != nil {
			p.log.Error("failing a delete job", "job", job.ID, "error", err)
		}
		return
	}
	if due := up.Finished.Add(p.tunables().Retention); p.now().Before(due) {
		if err := p.cfg.Store.FailJob(ctx, job.ID, retentionWait+due.UTC().Format(time.RFC3339), due); err != nil {
			p.log.Error("scheduling a retention", "job", job.ID, "error", err)
		}
		return
	}
	if wait, err := p.laterSegmentsNeed(ctx, sess, seg); err != nil {
		p.retryLater(ctx, job, err.Error(), jobError("retention", job, err))
		return
	} else if wait != "" {
		if waited := p.now().Sub(up.Finished); waited >= p.cfg.StuckAfter {
			// A session left "active" by a crash never ends: say so
			// rather than look again forever.
			if err := p.cfg.Store.MarkJobStuck(ctx, job.ID, wait); err != nil {
				p.log.Error("marking a delete job stuck", "job", job.ID, "error", err)
			}
			p.publish(MetricStuck, event.LevelError, fmt.Sprintf("segment %d of session %s has been kept past its retention for %s (%s); the local copy stays until an administrator retries the job",
				seg.N, sess.ID, waited.Round(time.Second), wait), &sess, seg.N, map[string]string{"error": wait, "path": seg.Path})
			return
		}
		if err := p.cfg.Store.FailJob(ctx, job.ID, wait, p.now().Add(laterSegmentsPoll)); err != nil {
			p.log.Error("scheduling a retention", "job", job.ID, "error", err)
		}
		return
	}
	objs, err := p.objects(sess, seg, up)
	if err != nil {
		p.retentionFailed(ctx, job, seg, &sess, fmt.Errorf("%w: %v", errPermanent, err))
		return
	}
	for _, o := range objs {
		if err := p.stillStored(ctx, o); err != nil {
			p.retentionFailed(ctx, job, seg, &sess, err)
			return
		}
	}
	if err := p.deleteLocal(ctx, sess, seg); err != nil {
		p.retryLater(ctx, job, err.Error(), jobError("retention", job, err))
		return
	}
	if err := p.cfg.Store.FinishJob(ctx, job.ID, ""); err != nil {
		p.retryLater(ctx, job, err.Error(), jobError("retention", job, err))
		return
	}
	p.publish(MetricRetentionDelete, event.LevelInfo, fmt.Sprintf("local copies of segment %d of session %s deleted after retention (%d files, uploaded to %s)",
		seg.N, sess.ID, len(objs), p.tunables().tmpl.Location(objs[0].key)), &sess, seg.N,
		map[string]string{"path": seg.Path, "files": strconv.Itoa(len(objs)), "key": objs[0].key, "uploaded": up.Finished.UTC().Format(time.RFC3339)})
}

// laterSegmentsPoll is how often a VNC segment's delete job looks again
// at the segments after it.
const laterSegmentsPoll = 10 * time.Second

// laterSegmentsNeed says why a segment must stay although its retention is
// over: the VNC recorder renders a segment by replaying the session's
// earlier ones (the RFB stream, its screen and zlib streams, runs on from
// one segment into the next), so a VNC segment is deleted only once its
// session has ended and every later segment is rendered or its render
// given up. "" lets it go.
func (p *Pipeline) laterSegmentsNeed(ctx context.Context, sess store.Session, seg store.Segment) (string, error) {
	if sess.Protocol != store.ProtocolVNC {
		return "", nil
	}
	const why = "retention: kept for the render of later segments of this VNC session, which replays it: "
	if sess.State == store.SessionActive {
		return why + "the session is still running", nil
	}
	segs, err := p.cfg.Store.ListSegments(ctx, sess.ID)
	if err != nil {
		return "", err
	}
	encodes, err := p.cfg.Store.ListJobs(ctx, store.JobFilter{Kind: store.JobEncode, SessionID: sess.ID, Limit: store.MaxPageSize})
	if err != nil {
		return "", err
	}
	rendered := map[int]bool{} // a session of more segments than a page keeps them: safe
	for _, j := range encodes {
		rendered[j.Segment] = j.State == store.JobEncoded || j.State == store.JobFailed
	}
	for _, later := range segs {
		if later.N > seg.N && !rendered[later.N] {
			return fmt.Sprintf("%ssegment %d is not rendered yet", why, later.N), nil
		}
	}
	return "", nil
}

// stillStored checks that storage holds o as it was uploaded.
func (p *Pipeline) stillStored(ctx context.Context, o object) error {
	info, err := p.cfg.Storage.Head(ctx, o.key)
	switch {
	case errors.Is(err, sdk.ErrNotFound):
		return fmt.Errorf("%s is no longer in storage: %w", o.key, errPermanent)
	case err != nil:
		return err
	case info.Size != o.size || info.SHA256 != "" && !strings.EqualFold(info.SHA256, o.sha256):
		return fmt.Errorf("%s in storage is %d bytes, sha256 %q; the local copy %d bytes, %s: %w: %w",
			o.key, info.Size, info.SHA256, o.size, o.sha256, ErrVerify, errPermanent)
	}
	return nil
}

// deleteLocal removes the renders, then the capture (so that a crash in
// between leaves the capture in spool/sealed, where Recover finds it and
// queues this job again), then records it.
func (p *Pipeline) deleteLocal(ctx context.Context, sess store.Session, seg store.Segment) error {
	if err := os.RemoveAll(p.renderDir(sess.ID, seg.N)); err != nil {
		return err
	}
	if err := os.Remove(seg.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	renders, err := p.cfg.Store.ListRenders(ctx, sess.ID)
	if err != nil {
		return err
	}
	for _, r := range renders {
		if r.Segment != seg.N || r.LocalPath == "" {
			continue
		}
		r.LocalPath = ""
		if err := p.cfg.Store.PutRender(ctx, r); err != nil {
			return err
		}
	}
	deleted := store.SegmentDeleted
	return p.cfg.Store.UpdateSegment(ctx, sess.ID, seg.N, store.SegmentUpdate{State: &deleted})
}

// retentionFailed retries a check that could not be made, and marks the
// job stuck when storage lost or changed an object.
func (p *Pipeline) retentionFailed(ctx context.Context, job store.Job, seg store.Segment, sess *store.Session, err error) {
	if ctx.Err() != nil {
		p.putBack(ctx, job, "interrupted by shutdown: "+err.Error())
		return
	}
	err = jobError("retention", job, err)
	if !errors.Is(err, errPermanent) {
		p.retryLater(ctx, job, err.Error(), err)
		return
	}
	if serr := p.cfg.Store.MarkJobStuck(ctx, job.ID, err.Error()); serr != nil {
		p.log.Error("marking a delete job stuck", "job", job.ID, "error", serr)
	}
	p.publish(MetricStuck, event.LevelError, fmt.Sprintf("segment %d of session %s is past retention but storage does not hold it as uploaded; the local copy is kept: %v",
		seg.N, sess.ID, err), sess, seg.N, map[string]string{"error": err.Error(), "path": seg.Path})
}
