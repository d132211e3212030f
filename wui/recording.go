package wui

import (
	"errors"
	"strconv"

	"github.com/valyala/fasthttp"
)

type recordingView struct {
	Session  SessionSummary
	Clips    []Clip
	Selected *Clip
	StartSec float64 // where the player starts (a transcript hit)
	MediaURL string
}

// recordingPage lists a session's clips with their thumbnails and download
// buttons, and plays the selected one: asciinema-player for a terminal
// session, <video> for a screen session. ?clip=N selects a clip and ?t=S
// starts it S seconds in.
func (s *Server) recordingPage(ctx *fasthttp.RequestCtx) {
	id := param(ctx, "id")
	sess, err := s.b.Sessions.Session(ctx, id)
	if errors.Is(err, ErrNotFound) {
		s.fail(ctx, false, fasthttp.StatusNotFound, "no such session")
		return
	}
	if err != nil {
		s.backendError(ctx, "load the session", err)
		return
	}
	clips, err := s.b.Recordings.Clips(ctx, id)
	if err != nil {
		s.backendError(ctx, "list the recording's clips", err)
		return
	}
	v := recordingView{Session: sess, Clips: clips}
	want, _ := strconv.Atoi(string(ctx.QueryArgs().Peek("clip")))
	for i := range clips {
		if clips[i].Segment == want || (want == 0 && i == 0) {
			v.Selected = &clips[i]
		}
	}
	if v.Selected != nil {
		v.MediaURL = clipURL(id, v.Selected.Segment, "media")
		if t, err := strconv.ParseFloat(string(ctx.QueryArgs().Peek("t")), 64); err == nil && t > 0 && t < 1e7 {
			v.StartSec = t
		}
	}
	pd := pageData{Title: "Recording " + id, Section: "sessions", Nav: "history", Scripts: []string{"js/player.js"}, Data: v}
	if v.Selected != nil && v.Selected.Role == RoleCast {
		pd.Scripts = append([]string{"vendor/asciinema-player/asciinema-player.min.js"}, pd.Scripts...)
		pd.Styles = []string{"vendor/asciinema-player/asciinema-player.css"}
	}
	s.render(ctx, fasthttp.StatusOK, "recording", pd)
}

func clipURL(sessionID string, segment int, what string) string {
	return "/recordings/" + sessionID + "/clips/" + strconv.Itoa(segment) + "/" + what
}
