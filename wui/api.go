package wui

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/valyala/fasthttp"
)

// The JSON API (API.md). It shares the pages' login, CSRF and permission
// checks (the route table), their query parsing and their audit events.

func writeJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		ctx.Error("internal error", fasthttp.StatusInternalServerError)
		return
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.SetBody(append(b, '\n'))
}

// readJSON decodes the request body into v, refusing unknown fields.
func readJSON(ctx *fasthttp.RequestCtx, v any) bool {
	if !strings.HasPrefix(string(ctx.Request.Header.ContentType()), "application/json") {
		writeJSON(ctx, fasthttp.StatusUnsupportedMediaType, map[string]string{"error": "send application/json"})
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(ctx.PostBody())))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(ctx, fasthttp.StatusBadRequest, map[string]string{"error": "bad JSON: " + err.Error()})
		return false
	}
	return true
}

// apiResult answers err as the API does: 404, 400 with field errors, 503,
// or ok with v.
func (s *Server) apiResult(ctx *fasthttp.RequestCtx, what string, status int, v any, err error) {
	if errors.Is(err, ErrNotFound) {
		writeJSON(ctx, fasthttp.StatusNotFound, map[string]string{"error": "not found"})
		return
	}
	if fe, ok := formError(err); ok {
		writeJSON(ctx, fasthttp.StatusBadRequest, map[string]any{"error": "invalid input", "fields": fe})
		return
	}
	if err != nil {
		s.backendError(ctx, what, err)
		return
	}
	writeJSON(ctx, status, v)
}

type meJSON struct {
	Principal
	CSRFToken string `json:"csrf_token"`
	Version   string `json:"version"`
}

func (s *Server) apiMe(ctx *fasthttp.RequestCtx) {
	r := reqOf(ctx)
	writeJSON(ctx, fasthttp.StatusOK, meJSON{Principal: r.principal, CSRFToken: r.login.csrf, Version: s.cfg.Version})
}

func (s *Server) apiSessions(ctx *fasthttp.RequestCtx) {
	_, q, msg := sessionQuery(ctx.QueryArgs())
	if msg != "" {
		writeJSON(ctx, fasthttp.StatusBadRequest, map[string]string{"error": msg})
		return
	}
	page, err := s.b.Sessions.ListSessions(ctx, q)
	if page.Sessions == nil {
		page.Sessions = []SessionSummary{}
	}
	s.apiResult(ctx, "list sessions", fasthttp.StatusOK, page, err)
}

func (s *Server) apiSession(ctx *fasthttp.RequestCtx) {
	sess, err := s.b.Sessions.Session(ctx, param(ctx, "id"))
	s.apiResult(ctx, "load the session", fasthttp.StatusOK, sess, err)
}

func (s *Server) apiClips(ctx *fasthttp.RequestCtx) {
	id := param(ctx, "id")
	if _, err := s.b.Sessions.Session(ctx, id); err != nil {
		s.apiResult(ctx, "load the session", 0, nil, err)
		return
	}
	clips, err := s.b.Recordings.Clips(ctx, id)
	type clipJSON struct {
		Clip
		MediaURL     string `json:"media_url"`
		DownloadURL  string `json:"download_url"`
		ThumbnailURL string `json:"thumbnail_url,omitempty"`
	}
	out := make([]clipJSON, len(clips))
	for i, c := range clips {
		out[i] = clipJSON{Clip: c, MediaURL: clipURL(id, c.Segment, "media"), DownloadURL: clipURL(id, c.Segment, "download")}
		if c.ThumbnailSize > 0 {
			out[i].ThumbnailURL = clipURL(id, c.Segment, "thumbnail")
		}
	}
	s.apiResult(ctx, "list the recording's clips", fasthttp.StatusOK, map[string]any{"clips": out, "download_all_url": "/recordings/" + id + "/download"}, err)
}

func (s *Server) apiLive(ctx *fasthttp.RequestCtx) {
	live, err := s.b.Live.ListLive(ctx)
	if live == nil {
		live = []LiveSession{}
	}
	s.apiResult(ctx, "list live sessions", fasthttp.StatusOK, map[string]any{"sessions": live}, err)
}

func (s *Server) apiKill(ctx *fasthttp.RequestCtx) {
	err := s.b.Live.Kill(ctx, param(ctx, "id"), reqOf(ctx).principal.Name)
	s.apiResult(ctx, "end the session", fasthttp.StatusOK, map[string]int{"killed": 1}, err)
}

func (s *Server) apiKillAll(ctx *fasthttp.RequestCtx) {
	var in struct {
		User string `json:"user"`
	}
	if len(ctx.PostBody()) > 0 && !readJSON(ctx, &in) {
		return
	}
	n, err := s.b.Live.KillAll(ctx, strings.TrimSpace(in.User), reqOf(ctx).principal.Name)
	s.apiResult(ctx, "end the sessions", fasthttp.StatusOK, map[string]int{"killed": n}, err)
}

func (s *Server) apiEvents(ctx *fasthttp.RequestCtx) {
	_, q, msg := eventQuery(ctx.QueryArgs(), s.cfg.Now())
	if msg != "" {
		writeJSON(ctx, fasthttp.StatusBadRequest, map[string]string{"error": msg})
		return
	}
	evs, err := s.b.Events.QueryEvents(ctx, q)
	s.apiResult(ctx, "search the logs", fasthttp.StatusOK, map[string]any{"events": nonNil(evs)}, err)
}

func (s *Server) apiReports(ctx *fasthttp.RequestCtx) {
	_, q, _, msg := reportQuery(ctx.QueryArgs(), s.cfg.Now())
	if msg != "" {
		writeJSON(ctx, fasthttp.StatusBadRequest, map[string]string{"error": msg})
		return
	}
	rep, err := s.b.Reports.Report(ctx, q)
	rep.Since, rep.Bucket = q.Since, q.Bucket
	s.apiResult(ctx, "compute the reports", fasthttp.StatusOK, map[string]any{
		"since": rep.Since, "until": q.Until, "bucket_seconds": int64(q.Bucket.Seconds()), "series": rep.Series,
	}, err)
}

func (s *Server) apiStatus(ctx *fasthttp.RequestCtx) {
	st, err := s.b.Status.Status(ctx)
	s.apiResult(ctx, "read the appliance's status", fasthttp.StatusOK, st, err)
}

func (s *Server) apiSettings(ctx *fasthttp.RequestCtx) {
	settings, err := s.b.Settings.Settings(ctx)
	s.apiResult(ctx, "read the settings", fasthttp.StatusOK, map[string]any{"settings": nonNil(settings)}, err)
}

func (s *Server) apiSaveSettings(ctx *fasthttp.RequestCtx) {
	var changes map[string]string
	if !readJSON(ctx, &changes) {
		return
	}
	if len(changes) == 0 {
		writeJSON(ctx, fasthttp.StatusBadRequest, map[string]string{"error": "no changes"})
		return
	}
	err := s.saveSettings(ctx, changes)
	s.apiResult(ctx, "save the settings", fasthttp.StatusOK, map[string]int{"changed": len(changes)}, err)
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
