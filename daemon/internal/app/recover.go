package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// recoverCaptures seals every capture a crash left in spool/active, cut
// back to its last signed checkpoint, and hands each to the pipeline like
// a normal seal. It runs before any listener accepts.
func (d *Daemon) recoverCaptures(ctx context.Context) error {
	segs, err := capture.RecoverDir(d.layout.SpoolActive(), d.keys.Signing, d.layout.SpoolSealed())
	for _, s := range segs {
		id, proto, ierr := segmentIdentity(s.Path, d.keys.Public())
		if ierr != nil {
			d.log.Error("recovered capture has no readable identity", "path", s.Path, "error", ierr)
			continue
		}
		d.publish(event.Event{MetricName: "recording.recovered", Level: event.LevelWarning, Component: "capture",
			SessionID: id, Protocol: proto,
			Message: "capture left open by a crash was sealed at its last signed checkpoint",
			Extra:   map[string]string{"path": s.Path, "segment": itoa(s.Segment)}})
		d.segmentSealed(ctx, id, proto, s)
	}
	if err != nil {
		// Files that never reached a checkpoint stay in place: nothing in
		// them was signed, but they are evidence and are not deleted.
		d.log.Error("capture recovery", "error", err)
		d.publish(event.Event{MetricName: "recording.recovery.failed", Level: event.LevelError, Component: "capture",
			Message: "some captures in spool/active could not be recovered; they were left in place", Reason: err.Error()})
	}
	return nil
}

// segmentIdentity reads a sealed segment's session id (header) and
// protocol (first meta record).
func segmentIdentity(path string, pub []byte) (sessionID, protocol string, err error) {
	r, err := capture.Open([]string{path}, pub, capture.ReadOptions{Insecure: true})
	if err != nil {
		return "", "", fmt.Errorf("capture: %s: %w", path, err)
	}
	defer r.Close()
	// The reader knows the header once Next has read the segment's
	// first batch, whatever Next returns.
	for i := 0; i < 64; i++ {
		rec, err := r.Next()
		if sessionID == "" {
			sessionID = r.Header().SessionID
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if sessionID == "" {
				return "", "", err
			}
			break
		}
		if rec.Kind == capture.Meta {
			var m capture.SessionMeta
			if json.Unmarshal(rec.Payload, &m) == nil {
				if sessionID == "" {
					sessionID = m.SessionID
				}
				if m.Protocol != "" {
					protocol = m.Protocol
					break
				}
			}
		}
	}
	if sessionID == "" {
		return "", protocol, fmt.Errorf("capture: %s: no session id in the header or the meta records", path)
	}
	return sessionID, protocol, nil
}
