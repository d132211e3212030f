package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// SegmentInfo is a sealed segment as the capture writer reports it.
//
// Who the session belongs to (user, target, protocol) is deliberately not
// part of it: the pipeline reads those from the session's row in the
// store, so that keys built after a restart, from the journal alone, are
// the keys built before it.
type SegmentInfo struct {
	SessionID string
	Segment   int
	Path      string // in SealedDir
	Size      int64
	SHA256    string // hex SHA-256 of the file
	FinalHash string // the capture's hash chain head after the trailer
	Recovered bool   // sealed by capture.Recover after a crash
	SealedAt  time.Time
}

// FromSealed is the SegmentInfo of what capture.Writer's OnSeal (or
// capture.RecoverDir) reports for a segment of session sessionID.
func FromSealed(sessionID string, s capture.SealedSegment) SegmentInfo {
	return SegmentInfo{SessionID: sessionID, Segment: s.Segment, Path: s.Path, Size: s.Size,
		SHA256: s.SHA256, FinalHash: s.FinalHash, Recovered: s.Recovered}
}

// ErrConflict: a seal was reported for a segment the store already knows
// as sealed with other content.
var ErrConflict = errors.New("segment already sealed with other content")

// Sealed takes a sealed segment into the pipeline: it records the seal in
// the store and queues the segment's encode job, both durably, before it
// returns. Reporting the same seal again is harmless. vigild calls it from
// the capture writer's OnSeal and for every segment capture.RecoverDir
// sealed at start.
func (p *Pipeline) Sealed(ctx context.Context, info SegmentInfo) error {
	fail := func(err error) error {
		return fmt.Errorf("pipeline: seal: session %s segment %d: %w", info.SessionID, info.Segment, err)
	}
	if err := checkID(info.SessionID); err != nil {
		return fail(err)
	}
	if info.Segment < 0 {
		return fail(errors.New("negative segment number"))
	}
	if rel, err := filepath.Rel(p.cfg.SealedDir, info.Path); err != nil || !filepath.IsAbs(info.Path) || strings.HasPrefix(rel, "..") {
		return fail(fmt.Errorf("%q is not in the sealed directory %s", info.Path, p.cfg.SealedDir))
	}
	if info.SealedAt.IsZero() {
		info.SealedAt = p.now()
	}
	if err := p.recordSeal(ctx, info); err != nil {
		return fail(err)
	}
	if _, _, err := p.cfg.Store.EnqueueJob(ctx, store.JobEncode, info.SessionID, info.Segment); err != nil {
		return fail(err)
	}
	sess, err := p.cfg.Store.GetSession(ctx, info.SessionID)
	if err != nil {
		sess = store.Session{ID: info.SessionID}
	}
	extra := map[string]string{"path": info.Path, "size": strconv.FormatInt(info.Size, 10), "sha256": info.SHA256}
	if info.Recovered {
		extra["recovered"] = "true"
	}
	p.publish(MetricSealed, event.LevelInfo, fmt.Sprintf("segment %d of session %s sealed (%d bytes)", info.Segment, info.SessionID, info.Size),
		&sess, info.Segment, extra)
	p.wake[store.JobEncode].notify()
	return nil
}

// recordSeal adds the segment, sealed, or seals the row the capture
// writer added when the segment began.
func (p *Pipeline) recordSeal(ctx context.Context, info SegmentInfo) error {
	st := p.cfg.Store
	for range 2 {
		seg, err := st.GetSegment(ctx, info.SessionID, info.Segment)
		switch {
		case errors.Is(err, store.ErrNotFound):
			_, err = st.AddSegment(ctx, store.Segment{SessionID: info.SessionID, N: info.Segment, Path: info.Path,
				Size: info.Size, SHA256: info.SHA256, FinalHash: info.FinalHash, SealedAt: info.SealedAt, State: store.SegmentSealed})
			if errors.Is(err, store.ErrNotFound) {
				// The session's row is gone (a store restored from an older
				// backup): rebuild it from the capture, then add the segment.
				if _, err = p.ensureSession(ctx, info.SessionID, info.Path); err != nil {
					return err
				}
				continue
			}
			if errors.Is(err, store.ErrExists) {
				continue // added meanwhile: look again
			}
			return err
		case err != nil:
			return err
		case seg.State == store.SegmentRecording:
			return st.SealSegment(ctx, info.SessionID, info.Segment, store.SegmentSeal{Path: info.Path, Size: info.Size,
				SHA256: info.SHA256, FinalHash: info.FinalHash, SealedAt: info.SealedAt})
		case !strings.EqualFold(seg.SHA256, info.SHA256):
			return fmt.Errorf("%w: the store has sha256 %s, the seal says %s", ErrConflict, seg.SHA256, info.SHA256)
		default:
			return nil
		}
	}
	return errors.New("the segment's row keeps changing under the seal")
}

// ensureSession returns the session's row, creating it from what the
// capture at path says when the store has none.
func (p *Pipeline) ensureSession(ctx context.Context, sessionID, path string) (store.Session, error) {
	sess, err := p.cfg.Store.GetSession(ctx, sessionID)
	if !errors.Is(err, store.ErrNotFound) {
		return sess, err
	}
	facts, err := readCapture(path)
	if err != nil {
		return store.Session{}, err
	}
	if facts.header.SessionID != sessionID {
		return store.Session{}, fmt.Errorf("%s belongs to session %q, not %q", path, facts.header.SessionID, sessionID)
	}
	m := facts.meta
	ss := store.Session{
		ID: sessionID, UserName: m.User, TargetName: m.Target, TargetFriendlyName: m.Target,
		Protocol: facts.protocol, RS: m.TargetAddr, StartedAt: facts.header.SessionStart,
		State: store.SessionEnded, Recorded: true, RecordingState: store.RecordingSealed,
		EndReason: "rebuilt from its capture by the recording pipeline",
	}
	if ss.UserName == "" {
		ss.UserName = "unknown"
	}
	if host, port, err := net.SplitHostPort(m.ClientAddr); err == nil {
		ss.ClientIP = host
		ss.ClientPort, _ = strconv.Atoi(port)
	}
	return p.cfg.Store.CreateSession(ctx, ss)
}

// captureFacts is what the start of a capture segment says.
type captureFacts struct {
	header   capture.Header
	meta     capture.SessionMeta
	protocol store.Protocol
}

// readCapture reads the header and the session facts of the segment at
// path, without verifying it (an altered capture is evidence all the
// same; its recorder and auditors verify it). The writer repeats the Meta
// records at the start of every segment, so the first records suffice.
func readCapture(path string) (captureFacts, error) {
	r, err := capture.Open([]string{path}, nil, capture.ReadOptions{Insecure: true})
	if err != nil {
		return captureFacts{}, err
	}
	defer r.Close()
	var f captureFacts
	screen := false
	for i := 0; i < 256; i++ {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return captureFacts{}, err
		}
		switch rec.Kind {
		case capture.Meta:
			if err := f.meta.Merge(rec.Payload); err != nil {
				return captureFacts{}, fmt.Errorf("%s: record %d: %w", path, rec.Index, err)
			}
		case capture.ScreenServer, capture.ScreenClient:
			screen = true
		}
	}
	f.header = r.Header()
	if f.header.SessionID == "" {
		return captureFacts{}, fmt.Errorf("%s: no capture header: %w", path, capture.ErrMalformed)
	}
	switch p := store.Protocol(f.meta.Protocol); p {
	case store.ProtocolSSH, store.ProtocolVNC, store.ProtocolRDP:
		f.protocol = p
	default:
		f.protocol = store.ProtocolSSH
		if screen {
			f.protocol = store.ProtocolVNC
		}
	}
	return f, nil
}
