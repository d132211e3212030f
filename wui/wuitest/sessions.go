package wuitest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/wui"
)

// maxHitsPerSession bounds the transcript hits returned with a session.
const maxHitsPerSession = 5

func cursorOf(s *fakeSession) string {
	return strconv.FormatInt(s.StartedAt.UnixNano(), 10) + "." + s.ID
}

// parseCursor reads a cursorOf; anything else wraps wui.ErrInvalid, as
// the daemon's cursors do.
func parseCursor(c string) (int64, string, error) {
	ns, id, ok := strings.Cut(c, ".")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" {
		return 0, "", fmt.Errorf("wuitest: bad cursor %q: %w", c, wui.ErrInvalid)
	}
	return n, id, nil
}

// before reports whether s sorts after the cursor's session (older,
// newest first).
func before(s *fakeSession, n int64, id string) bool {
	t := s.StartedAt.UnixNano()
	return t < n || (t == n && s.ID < id)
}

// ListSessions filters, searches transcripts and pages on (start, id),
// searches too: a page is full unless it is the last.
func (f *Fake) ListSessions(_ context.Context, q wui.SessionQuery) (wui.SessionPage, error) {
	var after int64
	var afterID string
	if q.Cursor != "" {
		var err error
		if after, afterID, err = parseCursor(q.Cursor); err != nil {
			return wui.SessionPage{}, err
		}
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 50
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var page wui.SessionPage
	for _, s := range f.sessions {
		if q.Cursor != "" && !before(s, after, afterID) {
			continue
		}
		if !matches(s, q) {
			continue
		}
		sum := s.SessionSummary
		if q.Text != "" {
			sum.Hits = s.search(q.Text)
			if len(sum.Hits) == 0 {
				continue
			}
		}
		if len(page.Sessions) == limit {
			page.Next = cursorOf(f.byID[page.Sessions[limit-1].ID])
			break
		}
		page.Sessions = append(page.Sessions, sum)
	}
	return page, nil
}

func matches(s *fakeSession, q wui.SessionQuery) bool {
	return (q.UserName == "" || s.UserName == q.UserName) &&
		(q.TargetName == "" || s.TargetName == q.TargetName) &&
		(q.Protocol == "" || s.Protocol == q.Protocol) &&
		(q.Since.IsZero() || !s.StartedAt.Before(q.Since)) &&
		(q.Until.IsZero() || s.StartedAt.Before(q.Until))
}

// search finds transcript lines containing text (case-insensitive) and
// marks the match.
func (s *fakeSession) search(text string) []wui.TranscriptHit {
	needle := strings.ToLower(text)
	var hits []wui.TranscriptHit
	for _, l := range s.transcript {
		i := strings.Index(strings.ToLower(l.text), needle)
		if i < 0 {
			continue
		}
		snip := l.text[:i] + wui.SnippetStart + l.text[i:i+len(needle)] + wui.SnippetEnd + l.text[i+len(needle):]
		hits = append(hits, wui.TranscriptHit{Segment: l.segment, OffsetMS: l.offsetMS, Snippet: snip})
		if len(hits) == maxHitsPerSession {
			break
		}
	}
	return hits
}

func (f *Fake) Session(_ context.Context, id string) (wui.SessionSummary, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.byID[id]
	if s == nil {
		return wui.SessionSummary{}, fmt.Errorf("wuitest: session %q: %w", id, wui.ErrNotFound)
	}
	return s.SessionSummary, nil
}

func (f *Fake) Clips(_ context.Context, sessionID string) ([]wui.Clip, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.byID[sessionID]
	if s == nil {
		return nil, nil
	}
	return append([]wui.Clip(nil), s.clips...), nil
}

// OpenClip serves a byte range of a clip's media or thumbnail.
func (f *Fake) OpenClip(_ context.Context, sessionID string, segment int, role wui.ClipRole, offset, length int64) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.byID[sessionID]
	if s == nil {
		return nil, fmt.Errorf("wuitest: session %q: %w", sessionID, wui.ErrNotFound)
	}
	var data []byte
	switch role {
	case wui.RoleThumbnail:
		data = s.thumbs[segment]
	default:
		for _, c := range s.clips {
			if c.Segment == segment && c.Role == role {
				data = s.media[segment]
			}
		}
	}
	if data == nil {
		return nil, fmt.Errorf("wuitest: clip %s/%d %s: %w", sessionID, segment, role, wui.ErrNotFound)
	}
	if offset < 0 || offset > int64(len(data)) {
		return nil, fmt.Errorf("wuitest: offset %d outside clip of %d bytes", offset, len(data))
	}
	end := int64(len(data))
	if length >= 0 && offset+length < end {
		end = offset + length
	}
	f.openClips++
	return &clipReader{Reader: bytes.NewReader(data[offset:end]), f: f}, nil
}

type clipReader struct {
	*bytes.Reader
	f      *Fake
	closed bool
}

func (r *clipReader) Close() error {
	r.f.mu.Lock()
	defer r.f.mu.Unlock()
	if !r.closed {
		r.closed = true
		r.f.openClips--
	}
	return nil
}

// OpenClips is how many readers OpenClip returned that are not closed
// yet. Tests check that the WUI closes every one.
func (f *Fake) OpenClips() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.openClips
}

// ClipData returns a clip's bytes, for tests to compare with what the WUI
// served.
func (f *Fake) ClipData(sessionID string, segment int) []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if s := f.byID[sessionID]; s != nil {
		return s.media[segment]
	}
	return nil
}

// RecordedSession returns the newest session with clips of role, for
// tests.
func (f *Fake) RecordedSession(role wui.ClipRole) (wui.SessionSummary, []wui.Clip) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.sessions {
		if len(s.clips) > 0 && s.clips[0].Role == role {
			return s.SessionSummary, append([]wui.Clip(nil), s.clips...)
		}
	}
	return wui.SessionSummary{}, nil
}

func (f *Fake) ListLive(context.Context) ([]wui.LiveSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]wui.LiveSession(nil), f.live...), nil
}

// Kill ends a live session and emits session.kill, as the registry does.
func (f *Fake) Kill(_ context.Context, id, by string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, l := range f.live {
		if l.ID == id {
			f.live = append(f.live[:i], f.live[i+1:]...)
			f.killedLocked(l, by)
			return nil
		}
	}
	return fmt.Errorf("wuitest: live session %q: %w", id, wui.ErrNotFound)
}

func (f *Fake) KillAll(_ context.Context, userName, by string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var keep []wui.LiveSession
	n := 0
	for _, l := range f.live {
		if userName != "" && l.UserName != userName {
			keep = append(keep, l)
			continue
		}
		f.killedLocked(l, by)
		n++
	}
	f.live = keep
	return n, nil
}

func (f *Fake) killedLocked(l wui.LiveSession, by string) {
	f.appendEventLocked(event.Event{
		Time: f.now().UTC(), MetricName: "session.kill", Level: event.LevelWarning, Component: "core",
		Message:  fmt.Sprintf("Session %s of user %s to %s killed by %s", l.ID, l.UserName, l.TargetName, by),
		UserName: l.UserName, TargetName: l.TargetName, Protocol: l.Protocol, SessionID: l.ID, Result: "killed",
		Reason: "killed by " + by, Extra: map[string]string{"killed_by": by, "duration": f.now().Sub(l.StartedAt).Round(time.Second).String()},
	})
}

// AddLive adds a live session. For tests.
func (f *Fake) AddLive(l wui.LiveSession) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.live = append(f.live, l)
}
