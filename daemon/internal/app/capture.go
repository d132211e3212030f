package app

import (
	"context"
	"errors"
	"io/fs"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// openCapture creates the signed capture of one session in spool/active.
// Every gateway records through it, so every capture is signed by the
// appliance key, rolled at segment_max_bytes and handed to the pipeline
// segment by segment as it seals.
func (d *Daemon) openCapture(sessionID, user, protocol string, start time.Time, recordInput bool) (*capture.Writer, error) {
	// File names carry the start to 100 µs: two sessions of one user that
	// start within the same 100 µs would collide, so the later one moves on
	// by a tick (the header keeps the exact session id).
	var w *capture.Writer
	var err error
	for range 100 {
		w, err = d.newCaptureWriter(sessionID, user, protocol, start, recordInput)
		if !errors.Is(err, fs.ErrExist) {
			return w, err
		}
		start = start.Add(100 * time.Microsecond)
	}
	return nil, err
}

func (d *Daemon) newCaptureWriter(sessionID, user, protocol string, start time.Time, recordInput bool) (*capture.Writer, error) {
	cfg := d.Config()
	return capture.New(capture.Options{
		ActiveDir:          d.layout.SpoolActive(),
		SealedDir:          d.layout.SpoolSealed(),
		Team:               cfg.Team,
		User:               user,
		SessionID:          sessionID,
		Start:              start,
		Key:                d.keys.Signing,
		SegmentMaxBytes:    int64(cfg.Recording.SegmentMaxBytes),
		CheckpointInterval: cfg.Recording.CheckpointInterval,
		CheckpointBytes:    int64(cfg.Recording.CheckpointBytes),
		RecordInput:        recordInput,
		OnSeal: func(s capture.SealedSegment) {
			d.segmentSealed(context.Background(), sessionID, protocol, s)
		},
	})
}

// segmentSealed hands a sealed segment to the recording pipeline.
func (d *Daemon) segmentSealed(ctx context.Context, sessionID, protocol string, s capture.SealedSegment) {
	d.publish(event.Event{
		MetricName: "recording.segment.sealed", Component: "capture", SessionID: sessionID, Protocol: protocol,
		Message: "recording segment sealed",
		Extra: map[string]string{
			"segment": itoa(s.Segment), "path": s.Path, "size": itoa64(s.Size), "sha256": s.SHA256,
			"recovered": boolStr(s.Recovered),
		},
	})
	if d.pipeline != nil {
		d.pipeline.sealed(ctx, sessionID, protocol, s)
	}
}
