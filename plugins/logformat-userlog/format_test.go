package main

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/logformat-cef/cefwrite"
	"github.com/vigilgw/vigil/plugins/logformat-userlog/userlogparse"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

var t0 = time.Date(2021, 9, 8, 11, 34, 22, 0, time.UTC)

func formatOne(t testing.TB, ev event.Event) string {
	t.Helper()
	lines, err := newFormatter().Format(context.Background(), []event.Event{ev})
	if err != nil || len(lines) != 1 {
		t.Fatalf("Format: %d lines, %v", len(lines), err)
	}
	return string(lines[0])
}

func TestFormatGolden(t *testing.T) {
	ssh := event.Event{Time: t0, Level: "INFO", VS: "10.0.0.1:22", RS: "10.1.0.5:22",
		RequestIP: "192.0.2.10", UserName: "bob", UserAgent: "SSH-2.0-OpenSSH_9.2",
		Protocol: "ssh", TargetName: "db-prod", SessionID: "s-42"}
	with := func(metric string, change func(*event.Event)) event.Event {
		ev := ssh
		ev.MetricName = metric
		if change != nil {
			change(&ev)
		}
		return ev
	}
	tests := []struct {
		name string
		ev   event.Event
		want string
	}{
		{"ssh login", with("account.login.successful", nil),
			`"10.0.0.1:22": User "bob" "logged on" from "192.0.2.10"`},
		{"bad password", with("account.login.failed_invalid_password", nil),
			`"10.0.0.1:22": User "bob" "denied access" from "192.0.2.10"`},
		{"locked account", with("account.login.failed_locked", nil),
			`"10.0.0.1:22": User "bob" "blocked access" from "192.0.2.10"`},
		{"refused for disk space", with("admission.denied", nil),
			`"10.0.0.1:22": User "bob" "denied access" from "192.0.2.10"`},
		{"password reset", with("account.password.reset_required", nil),
			`"10.0.0.1:22": User "bob" "requires password reset" from "192.0.2.10"`},
		{"ssh session start", with("session.create", nil),
			`"10.0.0.1:22" ("10.1.0.5:22") User "bob" requested "SSH" "ssh://db-prod" "SSH-2.0-OpenSSH_9.2"`},
		{"vnc session start without a target name", with("session.create", func(e *event.Event) {
			e.Protocol, e.TargetName, e.UserAgent, e.RS = "vnc", "", "", "10.1.0.6:5901"
		}), `"10.0.0.1:22" ("10.1.0.6:5901") User "bob" requested "VNC" "vnc://10.1.0.6:5901" ""`},
		{"session start, protocol unknown", with("session.create", func(e *event.Event) { e.Protocol = "" }),
			`"10.0.0.1:22" ("10.1.0.5:22") User "bob" requested "SESSION" "db-prod" "SSH-2.0-OpenSSH_9.2"`},
		{"session end", with("session.destroy", nil), `"10.0.0.1:22": User "bob" logged off`},
		{"session end with a message", with("session.destroy", func(e *event.Event) { e.Message = `bob's "ssh" session ended` }),
			`"10.0.0.1:22": User "bob" logged off detail="bob's \"ssh\" session ended"`},
		{"request with a message", with("session.create", func(e *event.Event) { e.Message = "started" }),
			`"10.0.0.1:22" ("10.1.0.5:22") User "bob" requested "SSH" "ssh://db-prod" "SSH-2.0-OpenSSH_9.2" detail="started"`},
		{"session timeout", with("session.timeout", nil), `"10.0.0.1:22": User "bob" logged off`},
		{"web logout", with("account.logout", nil), `"10.0.0.1:22": User "bob" logged off`},
		{"kill", with("session.kill", nil), `"10.0.0.1:22": User "bob" "session killed" from "192.0.2.10"`},
		{"kill all", with("session.kill_all", nil), `"10.0.0.1:22": User "bob" "sessions killed" from "192.0.2.10"`},
		{"recording play", with("recording.play", func(e *event.Event) { e.VS = "10.0.0.1:443"; e.UserName = "auditor" }),
			`"10.0.0.1:443": User "auditor" "played recording s-42" from "192.0.2.10"`},
		{"recording download", with("recording.download", func(e *event.Event) { e.VS = "10.0.0.1:443"; e.SessionID = "" }),
			`"10.0.0.1:443": User "bob" "downloaded recording" from "192.0.2.10"`},
		{"web request", with("http.request", func(e *event.Event) {
			e.VS, e.RS, e.UserAgent = "10.0.0.1:443", "10.2.0.8:8080", "Mozilla/5.0"
			e.Extra = map[string]string{"method": "GET", "uri": "https://wiki.internal/page?q=1"}
		}), `"10.0.0.1:443" ("10.2.0.8:8080") User "bob" requested "GET" "https://wiki.internal/page?q=1" "Mozilla/5.0"`},
		{"web attempt", with("http.attempt", func(e *event.Event) {
			e.VS, e.RS, e.UserAgent = "10.0.0.1:443", "", ""
			e.Extra = map[string]string{"method": "POST", "uri": "https://wiki.internal/admin"}
		}), `"10.0.0.1:443" ("") User "bob" attempted "POST" "https://wiki.internal/admin" ""`},
		{"no natural shape", event.Event{Time: t0, MetricName: "scaling.status.resources", Message: "disk 71% used"},
			`"": User "" "scaling.status.resources" from "" detail="disk 71% used"`},
		{"no natural shape, no message", event.Event{Time: t0, MetricName: "plugin.restart", UserName: "system"},
			`"": User "system" "plugin.restart" from ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := formatOne(t, tt.ev)
			if got != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
			if _, err := userlogparse.Parse(got); err != nil {
				t.Fatalf("strict parser refuses the line: %v", err)
			}
		})
	}
}

var hostile = []string{
	"bob\" logged off",
	`bob" "logged on" from "10.0.0.1`,
	"bob\nnext line",
	"\r\n",
	`back\slash\`,
	`\"`,
	"]] [x=y] | a=b",
	strings.Repeat("\"", 10<<10),
	strings.Repeat("é", 10<<10),
	"bad\xff\xfe\xc3",
	"nul\x00del\x7fnel\u0085ls\u2028tab\t",
}

// fieldCases are the user-controlled fields, the metric whose shape shows
// them and where the parser finds them.
var fieldCases = []struct {
	name   string
	metric string
	set    func(*event.Event, string)
	get    func(*userlogparse.Line) string
	// lineField is the name lineFields gives the field.
	lineField string
}{
	{"user_name", "account.login.successful", func(e *event.Event, v string) { e.UserName = v }, func(l *userlogparse.Line) string { return l.User }, "user"},
	{"vs", "session.destroy", func(e *event.Event, v string) { e.VS = v }, func(l *userlogparse.Line) string { return l.VS }, "vs"},
	{"request_ip", "account.login.failed_invalid_password", func(e *event.Event, v string) { e.RequestIP = v }, func(l *userlogparse.Line) string { return l.From }, "from"},
	{"rs", "http.request", func(e *event.Event, v string) { e.RS = v }, func(l *userlogparse.Line) string { return l.RS }, "rs"},
	{"user_agent", "http.request", func(e *event.Event, v string) { e.UserAgent = v }, func(l *userlogparse.Line) string { return l.UserAgent }, "ua"},
	{"extra uri", "http.request", func(e *event.Event, v string) { e.Extra["uri"] = v }, func(l *userlogparse.Line) string { return l.URI }, "uri"},
	{"extra method", "http.attempt", func(e *event.Event, v string) { e.Extra["method"] = v }, func(l *userlogparse.Line) string { return l.Method }, "method"},
	{"message", "session.destroy", func(e *event.Event, v string) { e.Message = v }, func(l *userlogparse.Line) string { return l.Detail }, "detail"},
	{"target_name", "session.create", func(e *event.Event, v string) { e.TargetName = v }, func(l *userlogparse.Line) string { return strings.TrimPrefix(l.URI, "ssh://") }, "uri"},
}

func TestHostileValuesStayInTheirField(t *testing.T) {
	for _, fc := range fieldCases {
		for i, v := range hostile {
			t.Run(fc.name+"/"+strconv.Itoa(i), func(t *testing.T) {
				ev := event.Event{Time: t0, MetricName: fc.metric, VS: "10.0.0.1:22", RS: "10.1.0.5:22",
					RequestIP: "192.0.2.1", UserName: "bob", UserAgent: "ua", Protocol: "ssh", TargetName: "t",
					Extra: map[string]string{"method": "GET", "uri": "/"}}
				base, err := userlogparse.Parse(formatOne(t, ev))
				if err != nil {
					t.Fatal(err)
				}
				fc.set(&ev, v)
				line := formatOne(t, ev)
				if strings.ContainsAny(line, "\r\n") {
					t.Fatalf("raw line break in %.100q", line)
				}
				l, err := userlogparse.Parse(line)
				if err != nil {
					t.Fatalf("strict parser refuses %.200q: %v", line, err)
				}
				want := cefwrite.FitValue(v, maxValue)
				if fc.name == "target_name" {
					// Part of a longer value: cut with its prefix.
					want = fc.get(&userlogparse.Line{URI: cefwrite.FitValue("ssh://"+v, maxValue)})
				}
				if got := fc.get(&l); got != want {
					t.Fatalf("%s = %.80q, want %.80q", fc.name, got, want)
				}
				// Nothing else moved.
				got, was := lineFields(&l), lineFields(&base)
				for k := range was {
					if k != fc.lineField && got[k] != was[k] {
						t.Fatalf("%s changed from %.80q to %.80q", k, was[k], got[k])
					}
				}
			})
		}
	}
}

// lineFields lists a parsed line's fields by name.
func lineFields(l *userlogparse.Line) map[string]string {
	return map[string]string{"shape": strconv.Itoa(int(l.Shape)), "vs": l.VS, "user": l.User,
		"rs": l.RS, "verb": l.Verb, "method": l.Method, "uri": l.URI, "ua": l.UserAgent,
		"message": l.Message, "from": l.From, "detail": l.Detail}
}

func TestConfigure(t *testing.T) {
	for _, ok := range []string{"", "  ", "{}", "null"} {
		if err := newFormatter().Configure(context.Background(), []byte(ok)); err != nil {
			t.Errorf("Configure(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{`{"cef":true}`, `[]`, `{} {}`, `nope`} {
		err := newFormatter().Configure(context.Background(), []byte(bad))
		if !errors.Is(err, sdk.ErrInvalidConfig) || !strings.HasPrefix(err.Error(), "logformat-userlog: config: ") {
			t.Errorf("Configure(%q) = %v, want a config error wrapping ErrInvalidConfig", bad, err)
		}
	}
}

func TestFormatCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newFormatter().Format(ctx, []event.Event{{}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestInfo(t *testing.T) {
	info, err := newFormatter().Info(context.Background())
	if err != nil || info.Kind != sdk.KindLogFormat || info.Name != "userlog" || len(info.APIVersions) == 0 {
		t.Fatalf("Info = %+v, %v", info, err)
	}
}

// FuzzFormat formats events with arbitrary user-controlled values in every
// shape and checks that the strict parser reads each back, from one line,
// as written (cleaned and cut).
func FuzzFormat(f *testing.F) {
	for _, v := range hostile {
		f.Add(v, v, v, v, v, uint8(0))
	}
	f.Add("bob", "10.0.0.1:22", "GET", "/x?y=1", "Mozilla/5.0", uint8(1))
	metrics := []string{"http.request", "http.attempt", "session.destroy", "account.login.successful", "x.unknown"}
	f.Fuzz(func(t *testing.T, user, vs, method, uri, ua string, which uint8) {
		metric := metrics[int(which)%len(metrics)]
		ev := event.Event{Time: t0, MetricName: metric, UserName: user, VS: vs, RS: ua, RequestIP: method,
			UserAgent: ua, Message: uri, Extra: map[string]string{"method": method, "uri": uri}}
		line := formatOne(t, ev)
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("raw line break in %.200q", line)
		}
		l, err := userlogparse.Parse(line)
		if err != nil {
			t.Fatalf("strict parser refuses %.200q: %v", line, err)
		}
		fit := func(s string) string { return cefwrite.FitValue(s, maxValue) }
		check := func(what, got, want string) {
			if got != want {
				t.Errorf("%s = %.80q, want %.80q", what, got, want)
			}
		}
		check("vs", l.VS, fit(vs))
		check("user", l.User, fit(user))
		switch metric {
		case "http.request", "http.attempt":
			check("shape", strconv.Itoa(int(l.Shape)), strconv.Itoa(int(userlogparse.Request)))
			check("verb", l.Verb, map[string]string{"http.request": "requested", "http.attempt": "attempted"}[metric])
			check("rs", l.RS, fit(ua))
			check("method", l.Method, fit(method))
			check("uri", l.URI, fit(uri))
			check("user agent", l.UserAgent, fit(ua))
		case "session.destroy":
			check("shape", strconv.Itoa(int(l.Shape)), strconv.Itoa(int(userlogparse.LoggedOff)))
		case "account.login.successful":
			check("message", l.Message, "logged on")
			check("from", l.From, fit(method))
		default:
			check("message", l.Message, fit(metric))
			check("from", l.From, fit(method))
		}
		check("detail", l.Detail, fit(uri))
	})
}
