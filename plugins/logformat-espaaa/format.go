package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/vigilgw/vigil/plugins/logformat-cef/cefclass"
	"github.com/vigilgw/vigil/plugins/logformat-cef/cefspec"
	"github.com/vigilgw/vigil/plugins/logformat-cef/cefwrite"
	"github.com/vigilgw/vigil/plugins/logformat-cef/extra"
	"github.com/vigilgw/vigil/plugins/logformat-espaaa/espparse"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// shape is the kind of ESP line an event becomes.
type shape int

const (
	shapeAAA        shape = iota // an authentication: server, protocol, result
	shapeLoggedOn                // an ESP session created
	shapeSessionEnd              // an ESP session deleted: start time and duration
	shapeKillAll                 // all sessions deleted at once
	shapeFlush                   // the session cache flushed
	shapeGeneric                 // anything else: its message
)

// rule is how one metric becomes a line.
type rule struct {
	shape shape
	class cefclass.Class
	// text is the result text (shapeAAA, with code) or the start of msg
	// (shapeSessionEnd, shapeLoggedOn).
	code int
	text string
}

var (
	classAAA      = cefclass.Class{ID: "100", Name: "User AAA", Severity: 0}
	classLoggedOn = cefclass.Class{ID: "8", Name: "Logged on", Severity: 1}
)

// loginFailures gives the result code and text of each failed login; any
// other account.login.failed_* is 6:Authentication failed.
var loginFailures = map[string]rule{
	"account.login.failed_invalid_password": {shapeAAA, classAAA, 1, "Invalid credentials"},
	"account.login.failed_invalid_user":     {shapeAAA, classAAA, 2, "Unknown user"},
	"account.login.failed_locked":           {shapeAAA, classAAA, 3, "Account locked"},
	"account.login.failed_expired":          {shapeAAA, classAAA, 4, "Password expired"},
	"account.login.failed_ldap_error":       {shapeAAA, classAAA, 5, "Authentication server error"},
}

var (
	aaaSuccess = rule{shapeAAA, classAAA, 0, "Success"}
	aaaFailure = rule{shapeAAA, classAAA, 6, "Authentication failed"}
)

// ruleFor maps a metric name to its line.
func ruleFor(ev *event.Event) rule {
	m := ev.MetricName
	switch m {
	case "account.login.successful":
		return aaaSuccess
	case "account.aaa":
		if strings.EqualFold(ev.Result, "success") {
			return aaaSuccess
		}
		return aaaFailure
	case "session.create":
		return rule{shapeLoggedOn, classLoggedOn, 0, "logged on"}
	case "session.destroy", "account.logout", "session.kill":
		return rule{shapeSessionEnd, cefclass.Lookup(m), 0, "Deleted user session"}
	case "session.timeout":
		return rule{shapeSessionEnd, cefclass.Lookup(m), 0, "Deleted expired user session"}
	case "session.kill_all":
		return rule{shape: shapeKillAll, class: cefclass.Lookup(m)}
	case "sso.cache.flush":
		return rule{shape: shapeFlush, class: cefclass.Lookup(m)}
	}
	if r, ok := loginFailures[m]; ok {
		return r
	}
	if strings.HasPrefix(m, "account.login.failed_") {
		return aaaFailure
	}
	return rule{shape: shapeGeneric, class: cefclass.Lookup(m)}
}

// appendEvent appends ev as one ESP line to dst.
func appendEvent(dst []byte, ev *event.Event, cfg *config) []byte {
	r := ruleFor(ev)
	dst = ev.Time.In(cfg.location).AppendFormat(dst, espparse.TimeLayout)
	dst = append(dst, ' ')
	dst = appendHost(dst, ev.Host)
	dst = append(dst, ' ')
	dst = append(dst, espparse.Tag...)
	dst = append(dst, ' ')
	if cfg.CEF {
		dst = cefwrite.AppendHeader(dst, cefwrite.Header{
			Vendor: cfg.Vendor, Product: cfg.Product, Version: cfg.Version,
			ClassID: r.class.ID, Name: r.class.Name, Severity: cefclass.Severity(r.class, ev.Level),
		})
	}
	x := cefwrite.StartExt(dst)
	x.Add("vs", ev.VS)
	if cfg.CEF {
		// The header name as the header has it (cleaned and cut to its
		// limit), so that the two always agree.
		x.Add("event", cefwrite.FitHeader(r.class.Name, cefspec.MaxName))
	}
	x.Add("srcip", ev.RequestIP)
	x.Add("user", ev.UserName)
	x.Add("domain", ev.Domain)
	switch r.shape {
	case shapeAAA:
		server := ev.Extra["aaa_server"]
		if server == "" {
			server = "local"
		}
		protocol := ev.Extra["aaa_protocol"]
		if protocol == "" {
			protocol = "Local"
		}
		x.Add("server", server)
		x.Add("protocol", protocol)
		x.Add("result", strconv.Itoa(r.code)+":"+r.text)
		x.Add("msg", ev.Reason)
	case shapeLoggedOn:
		x.Add("msg", r.text)
	case shapeSessionEnd:
		x.Add("msg", sessionText(r.text, ev))
	case shapeKillAll:
		x.Add("msg", killAllText(ev))
	case shapeFlush:
		x.Add("msg", "SSO cache being flushed user sessions:"+counter(ev, "user_sessions")+
			" cookie sessions:"+counter(ev, "cookie_sessions"))
	default:
		msg := ev.Message
		if msg == "" {
			msg = r.class.Name
		}
		x.Add("msg", msg)
		return x.Bytes()
	}
	// The fixed shapes have no room for the event's own message; it follows
	// under a key of its own, so no line loses it.
	x.Add("detail", ev.Message)
	return x.Bytes()
}

// sessionText is "<text>, start time:<epoch> duration:<n> seconds", with
// start and duration taken from the extras start and duration, each derived
// from the other and the event time when only one is known, and left out
// when neither is.
func sessionText(text string, ev *event.Event) string {
	start, hasStart := extra.Time(ev, "start")
	secs, hasDuration := extra.Seconds(ev, "duration")
	switch {
	case hasStart && !hasDuration && !ev.Time.Before(start):
		secs, hasDuration = int64(ev.Time.Sub(start)/time.Second), true
	case !hasStart && hasDuration:
		start, hasStart = ev.Time.Add(-time.Duration(secs)*time.Second), true
	}
	if hasStart {
		text += ", start time:" + strconv.FormatInt(start.Unix(), 10)
	}
	if hasDuration {
		if !hasStart {
			text += ","
		}
		text += " duration:" + strconv.FormatInt(secs, 10) + " seconds"
	}
	return text
}

// killAllText is "Deleted <count> user session(s)[ associated with domain]".
func killAllText(ev *event.Event) string {
	text := "Deleted all user sessions"
	if n, ok := extra.Int(ev, "count"); ok {
		text = "Deleted " + strconv.FormatInt(n, 10) + " user session(s)"
	}
	if ev.Domain != "" {
		text += " associated with domain"
	}
	return text
}

// counter is a counter extra field as written, 0 when absent or not a number.
func counter(ev *event.Event, key string) string {
	n, _ := extra.Int(ev, key)
	return strconv.FormatInt(n, 10)
}

// maxHost is the longest host written, in bytes before encoding: RFC 5424's
// limit for a host name.
const maxHost = 255

// appendHost appends the host token of the line prefix, cut to maxHost bytes
// (espparse.EncodeHost without its allocation in the common case).
func appendHost(dst []byte, host string) []byte {
	host = host[:min(len(host), maxHost)]
	for i := 0; i < len(host); i++ {
		if c := host[i]; c <= ' ' || c >= 0x7f || c == '%' {
			return append(dst, espparse.EncodeHost(host)...)
		}
	}
	if host == "" || host == "-" {
		return append(dst, espparse.EncodeHost(host)...)
	}
	return append(dst, host...)
}
