package app

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/store"
)

// segmentSpans is when each segment of a session's capture ran, counted
// from the session start: segment 0 starts with the session, segment n
// when segment n-1 was sealed (the capture writer starts the next segment
// as it seals the last), and each ends when it was sealed (or with the
// session, or now while it records).
type segmentSpans struct {
	start, end map[int]time.Duration
}

func (b *wuiBackend) segmentSpans(ctx context.Context, sessionID string) (segmentSpans, error) {
	sess, err := b.d.store.GetSession(ctx, sessionID)
	if err != nil {
		return segmentSpans{}, err
	}
	segs, err := b.d.store.ListSegments(ctx, sessionID)
	if err != nil {
		return segmentSpans{}, err
	}
	sp := segmentSpans{start: map[int]time.Duration{}, end: map[int]time.Duration{}}
	from := sess.StartedAt
	for _, g := range segs {
		to := g.SealedAt
		if to.IsZero() {
			to = sess.EndedAt
		}
		if to.IsZero() {
			to = time.Now()
		}
		sp.start[g.N], sp.end[g.N] = max(from.Sub(sess.StartedAt), 0), max(to.Sub(sess.StartedAt), 0)
		if !g.SealedAt.IsZero() {
			from = g.SealedAt
		}
	}
	return sp, nil
}

// clipOffset turns an offset from the session start (the transcript
// index's) into one from the start of segment n's clip.
func (sp segmentSpans) clipOffset(n int, sinceSessionMS int64) int64 {
	return max(sinceSessionMS-sp.start[n].Milliseconds(), 0)
}

// duration is how long a render plays: what the recorder reported for it
// (the pipeline's render manifest, next to the render while it is kept
// locally), else the segment's span in the store.
func (sp segmentSpans) duration(r store.Render) int64 {
	if r.LocalPath != "" {
		if d, ok := manifestDuration(filepath.Dir(r.LocalPath)); ok {
			return d.Milliseconds()
		}
	}
	return max(sp.end[r.Segment]-sp.start[r.Segment], 0).Milliseconds()
}

// renderManifest is the part of the pipeline's manifest.json (written
// last into a segment's render directory) the WUI needs.
type renderManifest struct {
	Version  int           `json:"version"`
	Duration time.Duration `json:"duration_ns"`
}

func manifestDuration(dir string) (time.Duration, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		return 0, false
	}
	var m renderManifest
	if json.Unmarshal(b, &m) != nil || m.Version != 1 || m.Duration <= 0 {
		return 0, false
	}
	return m.Duration, true
}
