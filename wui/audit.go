package wui

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/valyala/fasthttp"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

var processName = filepath.Base(os.Args[0])

// newEvent fills the fields every WUI event has: who, from where, with
// what browser.
func (s *Server) newEvent(ctx *fasthttp.RequestCtx, metric, level, msg string) event.Event {
	ev := event.Event{
		Time:        s.cfg.Now().UTC(),
		MetricName:  metric,
		Level:       level,
		Message:     msg,
		Component:   "wui",
		Process:     processName,
		Host:        s.cfg.Hostname,
		RequestIP:   ctx.RemoteIP().String(),
		RequestPort: strconv.Itoa(remotePort(ctx)),
		UserAgent:   string(ctx.UserAgent()),
	}
	if r := reqOf(ctx); r.login != nil {
		ev.UserID = strconv.FormatInt(r.principal.UserID, 10)
		ev.UserName = r.principal.Name
	}
	return ev
}

func remotePort(ctx *fasthttp.RequestCtx) int {
	_, port, err := net.SplitHostPort(ctx.RemoteAddr().String())
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(port)
	return n
}

// audit publishes an event that must not be lost: the caller refuses the
// action it reports when it fails.
func (s *Server) audit(ctx *fasthttp.RequestCtx, ev event.Event) error {
	if err := s.b.Events.Publish(ctx, ev); err != nil {
		return fmt.Errorf("wui: audit %s: %w", ev.MetricName, err)
	}
	return nil
}

// note publishes an informative event; a failure is only logged.
func (s *Server) note(ctx *fasthttp.RequestCtx, ev event.Event) {
	if err := s.b.Events.Publish(ctx, ev); err != nil {
		s.cfg.Logger.Error("wui: publish event", "metric", ev.MetricName, "err", err)
	}
}
