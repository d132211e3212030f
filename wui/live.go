package wui

import (
	"errors"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

type liveView struct {
	Sessions []LiveSession
	Users    []string // users with live sessions, for "kill all of one user"
	Notice   string
}

func (s *Server) livePage(ctx *fasthttp.RequestCtx) {
	live, err := s.b.Live.ListLive(ctx)
	if err != nil {
		s.backendError(ctx, "list live sessions", err)
		return
	}
	v := liveView{Sessions: live}
	seen := map[string]bool{}
	for _, l := range live {
		if !seen[l.UserName] {
			seen[l.UserName] = true
			v.Users = append(v.Users, l.UserName)
		}
	}
	sort.Strings(v.Users)
	if n := string(ctx.QueryArgs().Peek("killed")); n != "" {
		v.Notice = "Ended " + n + " session(s)."
	}
	s.render(ctx, fasthttp.StatusOK, "live", pageData{Title: "Live sessions", Section: "sessions", Nav: "live", Data: v})
}

func (s *Server) liveKill(ctx *fasthttp.RequestCtx) {
	err := s.b.Live.Kill(ctx, param(ctx, "id"), reqOf(ctx).principal.Name)
	if errors.Is(err, ErrNotFound) {
		s.fail(ctx, false, fasthttp.StatusNotFound, "the session is no longer live")
		return
	}
	if err != nil {
		s.backendError(ctx, "end the session", err)
		return
	}
	redirect(ctx, "/sessions/live?killed=1", fasthttp.StatusSeeOther)
}

func (s *Server) liveKillAll(ctx *fasthttp.RequestCtx) {
	user := strings.TrimSpace(string(ctx.PostArgs().Peek("user")))
	n, err := s.b.Live.KillAll(ctx, user, reqOf(ctx).principal.Name)
	if err != nil {
		s.backendError(ctx, "end the sessions", err)
		return
	}
	redirect(ctx, "/sessions/live?killed="+url.QueryEscape(strconv.Itoa(n)), fasthttp.StatusSeeOther)
}
