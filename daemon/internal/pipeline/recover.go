package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// MetricOrphan is the event about a file in spool/sealed that cannot be
// taken into the pipeline (not a readable capture, or a session id that
// cannot be used); the file is left where it is.
const MetricOrphan = "recording.segment.orphan"

// Recover brings the journal and the spool back in line after a stop or a
// crash, before Run: jobs left running go back to the queue; every
// capture in the sealed directory is accounted for (a file the store does
// not know is adopted from its header and queued; a known one has its
// next step queued if a crash came between two steps); and a segment
// whose capture is missing before its upload is flagged. Problems with
// single files are events and never stop Recover; its error is for the
// store or the directory failing as a whole.
//
// vigild runs capture.RecoverDir on spool/active and hands each segment
// it sealed to Sealed before it calls Recover.
func (p *Pipeline) Recover(ctx context.Context) error {
	n, err := p.cfg.Store.ResetRunningJobs(ctx)
	if err != nil {
		return fmt.Errorf("pipeline: recover: %w", err)
	}
	if n > 0 {
		p.log.Info("jobs interrupted by the last stop are queued again", "jobs", n)
	}
	if err := p.rescan(ctx, 0); err != nil {
		return fmt.Errorf("pipeline: recover: %w", err)
	}
	if err := p.flagMissing(ctx); err != nil {
		return fmt.Errorf("pipeline: recover: %w", err)
	}
	for _, s := range p.wake {
		s.notify()
	}
	return nil
}

// rescanGrace is how old a sealed file must be before a periodic rescan
// looks at it: a younger one may be between its move into the sealed
// directory and the capture writer's call to Sealed.
const rescanGrace = time.Minute

// rescan accounts for every capture in the sealed directory last modified
// more than grace ago.
func (p *Pipeline) rescan(ctx context.Context, grace time.Duration) error {
	entries, err := os.ReadDir(p.cfg.SealedDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), capture.Ext) {
			continue
		}
		if info, err := e.Info(); err != nil || time.Since(info.ModTime()) < grace {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		path := filepath.Join(p.cfg.SealedDir, e.Name())
		err := p.reconcile(ctx, path)
		if _, serr := os.Stat(path); err == nil || errors.Is(serr, os.ErrNotExist) {
			continue // fine, or deleted by retention meanwhile
		}
		p.log.Error("reconciling a sealed capture", "path", path, "error", err)
		p.publish(MetricOrphan, event.LevelError, fmt.Sprintf("%s cannot be taken into the recording pipeline and is left in place: %v", path, err),
			nil, -1, map[string]string{"path": path, "error": err.Error()})
	}
	return nil
}

// rescanEvery runs rescan every RescanEvery until ctx ends.
func (p *Pipeline) rescanEvery(ctx context.Context) {
	t := time.NewTicker(p.cfg.RescanEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.rescan(ctx, rescanGrace); err != nil && ctx.Err() == nil {
			p.log.Error("rescanning the sealed directory", "error", err)
		}
		for _, s := range p.wake {
			s.notify()
		}
	}
}

// reconcile accounts for one file of the sealed directory.
func (p *Pipeline) reconcile(ctx context.Context, path string) error {
	facts, err := readCapture(path)
	if err != nil {
		return err
	}
	sid, n := facts.header.SessionID, facts.header.Segment
	if err := checkID(sid); err != nil {
		return fmt.Errorf("session id %q: %w", sid, err)
	}
	seg, err := p.cfg.Store.GetSegment(ctx, sid, n)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return p.adopt(ctx, path, sid, n)
	case err != nil:
		return err
	case seg.State == store.SegmentRecording:
		// Sealed on disk, not in the store: the crash came between the two.
		info, err := p.fileSeal(path, sid, n)
		if err != nil {
			return err
		}
		return p.Sealed(ctx, info)
	case seg.Path != path:
		if _, err := os.Stat(seg.Path); err == nil {
			return fmt.Errorf("segment %d of session %s is %s already", n, sid, seg.Path)
		}
		if err := p.cfg.Store.UpdateSegment(ctx, sid, n, store.SegmentUpdate{Path: &path}); err != nil {
			return err
		}
	case seg.State == store.SegmentDeleted:
		p.log.Warn("a capture deleted after retention is back in the sealed directory; left alone", "path", path)
		return nil
	}
	return p.advance(ctx, sid, n)
}

// adopt takes in a sealed capture the store has no row for.
func (p *Pipeline) adopt(ctx context.Context, path, sid string, n int) error {
	info, err := p.fileSeal(path, sid, n)
	if err != nil {
		return err
	}
	if err := p.Sealed(ctx, info); err != nil {
		return err
	}
	sess, _ := p.cfg.Store.GetSession(ctx, sid)
	p.publish(MetricAdopted, event.LevelWarning, fmt.Sprintf("%s was sealed but unknown to the store: taken in as segment %d of session %s", path, n, sid),
		&sess, n, map[string]string{"path": path, "size": strconv.FormatInt(info.Size, 10), "sha256": info.SHA256})
	return nil
}

// fileSeal describes a sealed capture file from the file itself.
func (p *Pipeline) fileSeal(path, sid string, n int) (SegmentInfo, error) {
	size, sum, err := hashRegularFile(path)
	if err != nil {
		return SegmentInfo{}, err
	}
	st, err := os.Stat(path)
	if err != nil {
		return SegmentInfo{}, err
	}
	return SegmentInfo{SessionID: sid, Segment: n, Path: path, Size: size, SHA256: sum, SealedAt: st.ModTime()}, nil
}

// advance queues the next step of a segment whose step before is done: a
// crash can come between finishing a job and queueing the next one.
// Every enqueue is idempotent.
func (p *Pipeline) advance(ctx context.Context, sid string, n int) error {
	enc, _, err := p.cfg.Store.EnqueueJob(ctx, store.JobEncode, sid, n)
	if err != nil || enc.State != store.JobEncoded && enc.State != store.JobFailed {
		return err
	}
	up, _, err := p.cfg.Store.EnqueueJob(ctx, store.JobUpload, sid, n)
	if err != nil || up.State != store.JobUploaded {
		return err
	}
	_, _, err = p.cfg.Store.EnqueueJob(ctx, store.JobDelete, sid, n)
	return err
}

// flagMissing flags the segments of queued jobs whose capture is gone
// (their jobs fail when claimed). It looks at the oldest
// store.MaxPageSize queued jobs of each kind.
func (p *Pipeline) flagMissing(ctx context.Context) error {
	for _, kind := range []store.JobKind{store.JobEncode, store.JobUpload} {
		jobs, err := p.cfg.Store.ListJobs(ctx, store.JobFilter{Kind: kind, States: []store.JobState{store.JobPending, store.JobRetrying}, Limit: store.MaxPageSize})
		if err != nil {
			return err
		}
		for _, job := range jobs {
			seg, sess, err := p.load(ctx, job)
			if err != nil {
				return err
			}
			switch seg.State {
			case store.SegmentUploaded, store.SegmentDeleted, store.SegmentFailed:
				continue
			}
			if _, err := os.Stat(seg.Path); errors.Is(err, os.ErrNotExist) {
				p.markMissing(ctx, seg, &sess)
			}
		}
	}
	return nil
}
