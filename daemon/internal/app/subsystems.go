package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/vigilgw/vigil/daemon/internal/control"
	"github.com/vigilgw/vigil/daemon/internal/sessions"
)

// subsystems lists, in start order, what runs on top of the store and the
// event bus. Listeners come last: nothing is accepted before the spool is
// recovered and the pipeline runs.
func (d *Daemon) subsystems() []subsystem {
	return []subsystem{
		{"plugins", d.startPlugins},
		{"log sinks", d.startSinks},
		{"history", func(context.Context) error { d.goRun("history", d.runHistory); return nil }},
		{"pipeline", d.startPipeline},
		{"capture recovery", d.recoverCaptures},
		{"sessions", func(context.Context) error {
			d.sessions = sessions.New()
			d.drainers = append(d.drainers, d.drainSessions)
			return nil
		}},
		{"admission", d.startAdmission},
		{"ssh", d.startSSH},
		{"vnc", d.startVNC},
		{"wui", d.startWUI},
	}
}

// drainSessions waits for live sessions up to the grace, then kills the
// rest: their captures are sealed as the gateways close them.
func (d *Daemon) drainSessions(ctx context.Context) error {
	if d.sessions.Count() == 0 {
		return nil
	}
	_ = d.notify.Status("draining %d session(s)", d.sessions.Count())
	if err := d.sessions.Drain(ctx); err == nil {
		return nil
	}
	n := d.sessions.KillAll("", "shutdown")
	d.log.Warn("shutdown grace over; killed live sessions", "count", n)
	return nil
}

// controlHandlers are the subsystems' control calls (vigilctl).
func (d *Daemon) controlHandlers() map[string]control.HandlerFunc {
	type liveSession struct {
		ID       string `json:"id"`
		Protocol string `json:"protocol"`
		User     string `json:"user"`
		Target   string `json:"target"`
		Client   string `json:"client"`
		Start    any    `json:"start"`
		BytesIn  int64  `json:"bytes_in"`
		BytesOut int64  `json:"bytes_out"`
		Recorded bool   `json:"recorded"`
	}
	type killReq struct {
		ID   string `json:"id"`
		User string `json:"user"`
		By   string `json:"by"`
	}
	return map[string]control.HandlerFunc{
		"plugins.list": d.pluginsHealth,
		"sessions.list": func(context.Context, json.RawMessage) (any, error) {
			out := []liveSession{}
			for _, s := range d.sessions.List() {
				out = append(out, liveSession{s.ID, s.Protocol, s.User, s.Target, s.Client, s.Start, s.BytesIn, s.BytesOut, s.Recorded})
			}
			return out, nil
		},
		"sessions.kill": func(_ context.Context, in json.RawMessage) (any, error) {
			var r killReq
			if err := json.Unmarshal(in, &r); err != nil || r.ID == "" {
				return nil, fmt.Errorf("sessions.kill: want {\"id\": ...}")
			}
			if err := d.sessions.Kill(r.ID, "vigilctl"); err != nil {
				return nil, err
			}
			return map[string][]string{"killed": {r.ID}}, nil
		},
		"sessions.kill_all": func(_ context.Context, in json.RawMessage) (any, error) {
			var r killReq
			if len(in) > 0 {
				if err := json.Unmarshal(in, &r); err != nil {
					return nil, fmt.Errorf("sessions.kill_all: %w", err)
				}
			}
			before := d.sessions.List()
			n := d.sessions.KillAll(r.User, "vigilctl")
			killed := []string{}
			for _, s := range before {
				if r.User == "" || s.User == r.User {
					killed = append(killed, s.ID)
				}
			}
			if len(killed) > n {
				killed = killed[:n]
			}
			return map[string][]string{"killed": killed}, nil
		},
	}
}

func itoa(n int) string     { return strconv.Itoa(n) }
func itoa64(n int64) string { return strconv.FormatInt(n, 10) }
func boolStr(b bool) string { return strconv.FormatBool(b) }
