package wui

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// Page sizes of the history.
const (
	defaultHistoryLimit = 50
	maxHistoryLimit     = 200
)

// historyFilter is the history's query string, as typed.
type historyFilter struct {
	User, Target, Protocol, From, To, Text string
	Limit                                  int
}

type historyView struct {
	Filter    historyFilter
	Protocols []string
	Sessions  []SessionSummary
	NextURL   string
	FirstURL  string
	Paged     bool // not on the first page
	Error     string
}

// dateLayouts are what the date filters accept: the value of an
// <input type=date> or type=datetime-local, or RFC 3339.
var dateLayouts = []string{"2006-01-02T15:04:05", "2006-01-02T15:04", time.RFC3339, "2006-01-02"}

// parseDate reads a filter date (UTC). A bare date as an upper bound
// includes that whole day.
func parseDate(s string, upper bool) (time.Time, error) {
	var firstErr error
	for _, layout := range dateLayouts {
		t, err := time.ParseInLocation(layout, s, time.UTC)
		if err == nil {
			if upper && layout == "2006-01-02" {
				t = t.Add(24 * time.Hour)
			}
			return t, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return time.Time{}, firstErr
}

// sessionQuery reads the history's filters from the query string.
func sessionQuery(args *fasthttp.Args) (historyFilter, SessionQuery, string) {
	f := historyFilter{
		User: strings.TrimSpace(string(args.Peek("user"))), Target: strings.TrimSpace(string(args.Peek("target"))),
		Protocol: string(args.Peek("protocol")), From: string(args.Peek("from")), To: string(args.Peek("to")),
		Text: strings.TrimSpace(string(args.Peek("q"))), Limit: defaultHistoryLimit,
	}
	if n, err := strconv.Atoi(string(args.Peek("limit"))); err == nil && n > 0 {
		f.Limit = min(n, maxHistoryLimit)
	}
	q := SessionQuery{UserName: f.User, TargetName: f.Target, Protocol: f.Protocol, Text: f.Text,
		Cursor: string(args.Peek("cursor")), Limit: f.Limit}
	switch f.Protocol {
	case "", "ssh", "vnc", "rdp":
	default:
		return f, q, "Unknown protocol."
	}
	var err error
	if f.From != "" {
		if q.Since, err = parseDate(f.From, false); err != nil {
			return f, q, "The start date is not a date."
		}
	}
	if f.To != "" {
		if q.Until, err = parseDate(f.To, true); err != nil {
			return f, q, "The end date is not a date."
		}
	}
	return f, q, ""
}

func (f historyFilter) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"user": f.User, "target": f.Target, "protocol": f.Protocol, "from": f.From, "to": f.To, "q": f.Text} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if f.Limit != defaultHistoryLimit {
		v.Set("limit", strconv.Itoa(f.Limit))
	}
	return v
}

func (s *Server) historyPage(ctx *fasthttp.RequestCtx) {
	f, q, msg := sessionQuery(ctx.QueryArgs())
	v := historyView{Filter: f, Protocols: []string{"ssh", "vnc", "rdp"}, Error: msg, Paged: q.Cursor != ""}
	status := fasthttp.StatusOK
	base := f.values()
	v.FirstURL = "/sessions/history?" + base.Encode()
	if msg != "" {
		status = fasthttp.StatusBadRequest
	} else {
		page, err := s.b.Sessions.ListSessions(ctx, q)
		switch {
		case errors.Is(err, ErrInvalid): // an edited or outdated cursor
			status, v.Error = fasthttp.StatusBadRequest, "This page link is not valid; start again from the first page."
		case err != nil:
			s.backendError(ctx, "list sessions", err)
			return
		}
		v.Sessions = page.Sessions
		// The link keeps every filter, the search text too, so that the
		// next page continues the same search.
		if page.Next != "" {
			base.Set("cursor", page.Next)
			v.NextURL = "/sessions/history?" + base.Encode()
		}
	}
	s.render(ctx, status, "history", pageData{Title: "Session history", Section: "sessions", Nav: "history",
		Scripts: []string{"js/history.js"}, Data: v})
}
