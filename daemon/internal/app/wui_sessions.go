package app

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/wui"
)

func wuiSession(s store.Session) wui.SessionSummary {
	return wui.SessionSummary{ID: s.ID, UserName: s.UserName, TargetName: s.TargetName, TargetFriendlyName: s.TargetFriendlyName,
		Protocol: string(s.Protocol), ClientIP: s.ClientIP, StartedAt: s.StartedAt, EndedAt: s.EndedAt, State: string(s.State),
		BytesIn: s.BytesIn, BytesOut: s.BytesOut, Recorded: s.Recorded, RecordingState: string(s.RecordingState),
		SignatureState: string(s.SignatureState)}
}

func (b *wuiBackend) ListSessions(ctx context.Context, q wui.SessionQuery) (wui.SessionPage, error) {
	if q.Text != "" {
		return b.searchSessions(ctx, q)
	}
	rows, next, err := b.d.store.ListSessions(ctx, sessionFilter(q), q.Cursor, q.Limit)
	if err != nil {
		return wui.SessionPage{}, wuiErr(err)
	}
	page := wui.SessionPage{Next: next, Sessions: make([]wui.SessionSummary, len(rows))}
	for i, s := range rows {
		page.Sessions[i] = wuiSession(s)
	}
	return page, nil
}

func sessionFilter(q wui.SessionQuery) store.SessionFilter {
	return store.SessionFilter{UserName: q.UserName, TargetName: q.TargetName, Protocol: store.Protocol(q.Protocol),
		Since: q.Since, Until: q.Until}
}

// searchSessions answers a transcript search: one page of the sessions
// with hits that pass the history's filters (the store filters as it
// walks the index, so pages stay full), each with the moments that
// matched.
func (b *wuiBackend) searchSessions(ctx context.Context, q wui.SessionQuery) (wui.SessionPage, error) {
	found, next, err := b.d.store.SearchSessions(ctx, store.SessionSearch{Text: q.Text, Filter: sessionFilter(q),
		Cursor: q.Cursor, Limit: q.Limit})
	if err != nil {
		return wui.SessionPage{}, wuiErr(err)
	}
	page := wui.SessionPage{Next: next, Sessions: make([]wui.SessionSummary, len(found))}
	for i, f := range found {
		sp, err := b.segmentSpans(ctx, f.Session.ID)
		if err != nil {
			return wui.SessionPage{}, wuiErr(err)
		}
		page.Sessions[i] = wuiSession(f.Session)
		for _, h := range f.Hits {
			// The index counts from the session start, the player from the
			// start of the segment's clip.
			page.Sessions[i].Hits = append(page.Sessions[i].Hits, wui.TranscriptHit{Segment: h.Segment + 1,
				OffsetMS: sp.clipOffset(h.Segment, h.OffsetMS), Snippet: h.Snippet})
		}
	}
	return page, nil
}

func (b *wuiBackend) Session(ctx context.Context, id string) (wui.SessionSummary, error) {
	s, err := b.d.store.GetSession(ctx, id)
	if err != nil {
		return wui.SessionSummary{}, wuiErr(err)
	}
	return wuiSession(s), nil
}

// Clips lists the playable renders of a session, one per segment (numbered
// from 1 in the WUI), with their thumbnails.
func (b *wuiBackend) Clips(ctx context.Context, sessionID string) ([]wui.Clip, error) {
	rs, err := b.d.store.ListRenders(ctx, sessionID)
	if err != nil {
		return nil, wuiErr(err)
	}
	spans, err := b.segmentSpans(ctx, sessionID)
	if err != nil {
		return nil, wuiErr(err)
	}
	thumbs := map[int]store.Render{}
	for _, r := range rs {
		if r.Role == store.RenderThumbnail || (r.Role == store.RenderPoster && thumbs[r.Segment].Size == 0) {
			thumbs[r.Segment] = r
		}
	}
	var out []wui.Clip
	for _, r := range rs {
		role := wui.RoleCast
		switch r.Role {
		case store.RenderCast:
		case store.RenderVideo:
			role = wui.RoleVideo
		default:
			continue
		}
		c := wui.Clip{Segment: r.Segment + 1, Role: role, Size: r.Size, Location: b.location(r), DurationMS: spans.duration(r)}
		if t, ok := thumbs[r.Segment]; ok {
			c.ThumbnailSize, c.ThumbnailType = t.Size, "image/jpeg"
		}
		out = append(out, c)
	}
	return out, nil
}

// location is where a clip is, in the seed's audit wording: the object's
// s3://bucket@endpoint/key (or file path) once uploaded, else the local file.
func (b *wuiBackend) location(r store.Render) string {
	if up := b.d.Config().Recording.Upload; r.ObjectKey != "" && up != nil {
		return up.Location(r.ObjectKey)
	}
	return r.LocalPath
}

// OpenClip reads a clip from its local copy while there is one, else from
// the storage backend it was uploaded to (range-capable either way).
func (b *wuiBackend) OpenClip(ctx context.Context, sessionID string, segment int, role wui.ClipRole, offset, length int64) (io.ReadCloser, error) {
	rs, err := b.d.store.ListRenders(ctx, sessionID)
	if err != nil {
		return nil, wuiErr(err)
	}
	want := map[wui.ClipRole]store.RenderRole{wui.RoleCast: store.RenderCast, wui.RoleVideo: store.RenderVideo, wui.RoleThumbnail: store.RenderThumbnail}[role]
	var found *store.Render
	for i, r := range rs {
		if r.Segment == segment-1 && (r.Role == want || (role == wui.RoleThumbnail && r.Role == store.RenderPoster && found == nil)) {
			found = &rs[i]
			if r.Role == want {
				break
			}
		}
	}
	if found == nil {
		return nil, fmt.Errorf("%w: session %s segment %d has no %s", wui.ErrNotFound, sessionID, segment, role)
	}
	if found.LocalPath != "" {
		if f, err := os.Open(found.LocalPath); err == nil {
			if _, err := f.Seek(offset, io.SeekStart); err != nil {
				f.Close()
				return nil, err
			}
			if length < 0 {
				return f, nil
			}
			return struct {
				io.Reader
				io.Closer
			}{io.LimitReader(f, length), f}, nil
		}
	}
	if found.ObjectKey == "" {
		return nil, fmt.Errorf("%w: session %s segment %d %s is neither local nor uploaded", wui.ErrNotFound, sessionID, segment, role)
	}
	st, err := b.d.plugins.Storage(storagePlugin(b.d.Config()))
	if err != nil {
		return nil, err
	}
	rc, _, err := st.Get(ctx, found.ObjectKey, offset, length)
	return rc, err
}

func (b *wuiBackend) ListLive(context.Context) ([]wui.LiveSession, error) {
	out := []wui.LiveSession{}
	for _, s := range b.d.sessions.List() {
		out = append(out, wui.LiveSession{ID: s.ID, UserName: s.User, TargetName: s.Target, Protocol: s.Protocol,
			ClientIP: s.Client, StartedAt: s.Start, BytesIn: s.BytesIn, BytesOut: s.BytesOut})
	}
	return out, nil
}

func (b *wuiBackend) Kill(_ context.Context, id, by string) error {
	if err := b.d.sessions.Kill(id, by); err != nil {
		return fmt.Errorf("%w: %w", wui.ErrNotFound, err)
	}
	return nil
}

func (b *wuiBackend) KillAll(_ context.Context, user, by string) (int, error) {
	return b.d.sessions.KillAll(user, by), nil
}

func (b *wuiBackend) QueryEvents(ctx context.Context, q wui.EventQuery) ([]event.Event, error) {
	evs, err := b.d.store.QueryEvents(ctx, store.EventFilter{Level: q.Level, Since: q.Since, Until: q.Until, Component: q.Component,
		Process: q.Process, Host: q.Host, UserName: q.UserName, Text: q.Text, Limit: q.Limit})
	return evs, wuiErr(err)
}

func (b *wuiBackend) Publish(_ context.Context, ev event.Event) error { return b.d.bus.Publish(ev) }
