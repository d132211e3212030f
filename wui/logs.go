package wui

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Bounds of the logging dashboard's filters.
const (
	defaultLogLimit   = 100
	maxLogLimit       = 10000
	defaultLogMinutes = 60
	maxLogMinutes     = 60 * 24 * 31
)

var logLevels = []string{event.LevelDebug, event.LevelInfo, event.LevelWarning, event.LevelError, event.LevelCritical}

// logFilter is the dashboard's query string, as typed.
type logFilter struct {
	Level                                string
	Limit                                int
	Minutes                              int
	Start                                string
	End                                  string
	Component, Process, Host, User, Text string
	More                                 bool // the advanced filters are in use: show them open
}

type logRow struct {
	event.Event
}

type logField struct{ Key, Value string }

type logsView struct {
	Filter logFilter
	Levels []string
	Limits []int
	Rows   []logRow
	Error  string
}

// eventQuery reads the dashboard's filters. The window is start..end when
// either is given, else the last Minutes.
func eventQuery(args *fasthttp.Args, now time.Time) (logFilter, EventQuery, string) {
	f := logFilter{
		Level: strings.ToUpper(string(args.Peek("level"))), Limit: defaultLogLimit, Minutes: defaultLogMinutes,
		Start: string(args.Peek("start")), End: string(args.Peek("end")),
		Component: strings.TrimSpace(string(args.Peek("component"))), Process: strings.TrimSpace(string(args.Peek("process"))),
		Host: strings.TrimSpace(string(args.Peek("host"))), User: strings.TrimSpace(string(args.Peek("username"))),
		Text: strings.TrimSpace(string(args.Peek("text"))),
	}
	if f.Level == "" {
		f.Level = event.LevelInfo
	}
	if n, err := strconv.Atoi(string(args.Peek("limit"))); err == nil && n > 0 {
		f.Limit = min(n, maxLogLimit)
	}
	if n, err := strconv.Atoi(string(args.Peek("minutes"))); err == nil && n > 0 {
		f.Minutes = min(n, maxLogMinutes)
	}
	f.More = f.Start != "" || f.End != "" || f.Component != "" || f.Process != "" || f.Host != "" || f.User != "" || f.Text != ""
	q := EventQuery{Level: f.Level, Limit: f.Limit, Component: f.Component, Process: f.Process, Host: f.Host,
		UserName: f.User, Text: f.Text}
	known := false
	for _, l := range logLevels {
		known = known || l == f.Level
	}
	if !known {
		return f, q, "Unknown level."
	}
	var err error
	switch {
	case f.Start != "" || f.End != "":
		if f.Start != "" {
			if q.Since, err = parseDate(f.Start, false); err != nil {
				return f, q, "The start is not a date."
			}
		}
		if f.End != "" {
			if q.Until, err = parseDate(f.End, true); err != nil {
				return f, q, "The end is not a date."
			}
		}
	default:
		q.Since = now.Add(-time.Duration(f.Minutes) * time.Minute)
	}
	return f, q, ""
}

func (s *Server) logsPage(ctx *fasthttp.RequestCtx) {
	f, q, msg := eventQuery(ctx.QueryArgs(), s.cfg.Now())
	v := logsView{Filter: f, Levels: logLevels, Limits: []int{10, 50, 100, 500, 1000, 5000}, Error: msg}
	status := fasthttp.StatusOK
	if msg != "" {
		status = fasthttp.StatusBadRequest
	} else {
		evs, err := s.b.Events.QueryEvents(ctx, q)
		if err != nil {
			s.backendError(ctx, "search the logs", err)
			return
		}
		v.Rows = make([]logRow, len(evs))
		for i, ev := range evs {
			v.Rows[i] = logRow{Event: ev}
		}
	}
	s.render(ctx, status, "logs", pageData{Title: "Logging", Section: "logs", Data: v})
}

// Details lists the fields an event has, for the expanded row.
func (r logRow) Details() []logField {
	ev := r.Event
	out := make([]logField, 0, 16+len(ev.Extra))
	add := func(k, v string) {
		if v != "" {
			out = append(out, logField{k, v})
		}
	}
	add("time", ev.Time.UTC().Format(time.RFC3339Nano))
	add("metric_name", ev.MetricName)
	add("levelname", ev.Level)
	add("component", ev.Component)
	add("process", ev.Process)
	add("host", ev.Host)
	add("server_id", ev.ServerID)
	add("request_ip", ev.RequestIP)
	add("request_port", ev.RequestPort)
	add("user_agent", ev.UserAgent)
	add("user_id", ev.UserID)
	add("user_name", ev.UserName)
	add("domain", ev.Domain)
	add("target_id", ev.TargetID)
	add("target_name", ev.TargetName)
	add("target_friendly_name", ev.TargetFriendlyName)
	add("vs", ev.VS)
	add("rs", ev.RS)
	add("protocol", ev.Protocol)
	add("session_id", ev.SessionID)
	add("result", ev.Result)
	add("reason", ev.Reason)
	keys := make([]string, 0, len(ev.Extra))
	for k := range ev.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add("extra."+k, ev.Extra[k])
	}
	return out
}
