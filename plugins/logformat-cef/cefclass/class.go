package cefclass

import (
	"strings"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Class is the CEF class of one kind of event.
type Class struct {
	ID   string // Device Event Class ID
	Name string
	// Severity is the floor of the header severity (0-10); an event's level
	// can raise it (see Severity).
	Severity int
	// Action is the deviceAction (act) verb.
	Action string
}

// Rule matches a metric name exactly or, when Prefix is set, every metric
// name that starts with Metric.
type Rule struct {
	Metric string
	Prefix bool
	Class  Class
}

// Rules is the table, in the order the README lists it. Exact rules win
// over prefix rules; among prefix rules the longest prefix wins.
var Rules = []Rule{
	{"account.login.successful", false, Class{"8", "Logged on", 1, "login"}},
	{"account.login.failed_", true, Class{"9", "Access denied", 5, "login"}},
	{"admission.denied", false, Class{"9", "Access denied", 5, "admit"}},
	{"wui.access.denied", false, Class{"9", "Access denied", 5, "access"}},
	{"account.logout", false, Class{"6", "Logged off", 1, "logout"}},
	{"session.destroy", false, Class{"6", "Logged off", 1, "end"}},
	{"http.request", false, Class{"14", "Request", 1, "request"}},
	{"http.attempt", false, Class{"15", "Attempt", 3, "attempt"}},
	{"account.aaa", false, Class{"100", "User AAA", 0, "authenticate"}},
	{"session.timeout", false, Class{"101", "User session timeout", 0, "timeout"}},
	{"session.kill", false, Class{"102", "User session kill", 3, "kill"}},
	{"session.kill_all", false, Class{"103", "Kill all sessions", 3, "kill"}},
	{"sso.cache.flush", false, Class{"104", "Flush SSO cache", 1, "flush"}},
	{"session.create", false, Class{"200", "Session created", 1, "create"}},
	{"recording.segment.sealed", false, Class{"210", "Recording sealed", 0, "seal"}},
	{"recording.encode.", true, Class{"211", "Recording encode", 0, "encode"}},
	{"recording.upload.", true, Class{"212", "Recording upload", 0, "upload"}},
	{"recording.play", false, Class{"213", "Recording played", 3, "play"}},
	{"recording.download", false, Class{"214", "Recording downloaded", 3, "download"}},
	{"recording.retention.delete", false, Class{"215", "Recording deleted", 3, "delete"}},
	{"recording.stuck", false, Class{"216", "Recording stuck", 7, "stuck"}},
	{"recording.", true, Class{"219", "Recording event", 0, ""}},
	{"plugin.start", false, Class{"220", "Plugin started", 0, "start"}},
	{"plugin.exit", false, Class{"221", "Plugin exited", 5, "exit"}},
	{"plugin.restart", false, Class{"222", "Plugin restarted", 5, "restart"}},
	{"plugin.refused", false, Class{"223", "Plugin refused", 7, "refuse"}},
	{"plugin.unresponsive", false, Class{"224", "Plugin unresponsive", 7, "kill"}},
	{"plugin.", true, Class{"229", "Plugin event", 0, ""}},
	{"scaling.status.resources", false, Class{"230", "Resource status", 0, "report"}},
	{"log.sink.dropped", false, Class{"240", "Log events dropped", 7, "drop"}},
	{"config.reload", false, Class{"250", "Configuration reloaded", 1, "reload"}},
	{"config.reload_failed", false, Class{"251", "Configuration reload failed", 7, "reload"}},
}

var exact = map[string]Class{}

func init() {
	for _, r := range Rules {
		if r.Prefix {
			continue
		}
		if _, dup := exact[r.Metric]; dup {
			panic("cefclass: metric " + r.Metric + " listed twice")
		}
		exact[r.Metric] = r.Class
	}
}

// Lookup returns the class of a metric name. A metric the table does not
// know gets the metric name itself as class id and name (CEF allows string
// ids), so every kind of event still has its own id, with severity floor 0.
// An empty metric name is "unknown". A class without an action verb takes the
// last dotted part of the metric name.
func Lookup(metric string) Class {
	c, ok := exact[metric]
	if !ok {
		best := -1
		for _, r := range Rules {
			if r.Prefix && strings.HasPrefix(metric, r.Metric) && len(r.Metric) > best {
				c, ok, best = r.Class, true, len(r.Metric)
			}
		}
	}
	if !ok {
		id := metric
		if id == "" {
			id = "unknown"
		}
		c = Class{ID: id, Name: id}
	}
	if c.Action == "" {
		c.Action = metric[strings.LastIndexByte(metric, '.')+1:]
	}
	return c
}

// LevelSeverity maps a levelname onto CEF's 0-10 scale: DEBUG 0, INFO 1,
// WARNING 4, ERROR 7, CRITICAL 10 (any case); an unknown level is 0.
func LevelSeverity(level string) int {
	switch strings.ToUpper(level) {
	case event.LevelInfo:
		return 1
	case event.LevelWarning:
		return 4
	case event.LevelError:
		return 7
	case event.LevelCritical:
		return 10
	}
	return 0
}

// Severity is the header severity of an event of class c at level: the
// larger of the class's floor and the level's severity.
func Severity(c Class, level string) int {
	return max(c.Severity, LevelSeverity(level))
}
