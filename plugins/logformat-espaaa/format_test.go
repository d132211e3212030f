package main

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/logformat-cef/cefwrite"
	"github.com/vigilgw/vigil/plugins/logformat-espaaa/espparse"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

var t0 = time.Date(2021, 9, 8, 11, 34, 22, 0, time.UTC)

func configured(t testing.TB, json string) *formatter {
	t.Helper()
	f := newFormatter()
	if err := f.Configure(context.Background(), []byte(json)); err != nil {
		t.Fatalf("Configure(%s): %v", json, err)
	}
	return f
}

func formatOne(t testing.TB, f *formatter, ev event.Event) string {
	t.Helper()
	lines, err := f.Format(context.Background(), []event.Event{ev})
	if err != nil || len(lines) != 1 {
		t.Fatalf("Format: %d lines, %v", len(lines), err)
	}
	return string(lines[0])
}

func TestFormatGolden(t *testing.T) {
	login := event.Event{Time: t0, MetricName: "account.login.successful", Level: "INFO", Host: "lb100",
		VS: "10.35.46.240:80", UserName: "alice@kpauto.net", Domain: "kempqaesp.net", Component: "wui",
		Extra: map[string]string{"aaa_server": "172.20.7.170", "aaa_protocol": "LDAP Unencrypted"}}
	failed := event.Event{Time: t0, MetricName: "account.login.failed_invalid_password", Level: "WARNING",
		Host: "lb100", VS: "10.0.0.1:22", RequestIP: "192.0.2.9", UserName: "bob", Reason: "bad password",
		Message: "login of bob refused"}
	created := event.Event{Time: t0, MetricName: "session.create", Level: "INFO", Host: "lb100",
		VS: "10.35.46.157:443", RequestIP: "10.35.2.45", UserName: "alice@kempqaesp.net"}
	timeout := event.Event{Time: t0, MetricName: "session.timeout", Level: "INFO", Host: "lb100",
		VS: "10.35.46.240:80", UserName: "alice@kpauto.net", Domain: "KPAUTO.NET",
		Extra: map[string]string{"start": "1631100796", "duration": "66"}}
	killed := event.Event{Time: t0, MetricName: "session.kill", Level: "INFO", Host: "lb100",
		VS: "10.35.46.235:443", UserName: "alice@parent.net", Domain: "MULLTIDOMAIN",
		Extra: map[string]string{"duration": "8"}}
	ended := event.Event{Time: t0, MetricName: "session.destroy", Level: "INFO", Host: "lb100", UserName: "bob"}
	killAll := event.Event{Time: t0, MetricName: "session.kill_all", Level: "INFO", Host: "lb100",
		Domain: "MULLTIDOMAIN", Extra: map[string]string{"count": "1"}}
	flush := event.Event{Time: t0, MetricName: "sso.cache.flush", Level: "INFO", Host: "lb100",
		Extra: map[string]string{"user_sessions": "1"}}
	generic := event.Event{Time: t0, MetricName: "recording.upload.done", Level: "INFO", Message: "uploaded s-1"}
	tests := []struct {
		name  string
		ev    event.Event
		plain string
		cef   string
	}{
		{"login", login,
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: vs=10.35.46.240:80 user=alice@kpauto.net domain=kempqaesp.net server=172.20.7.170 protocol=LDAP Unencrypted result=0:Success",
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: CEF:0|Vigil|Gateway|dev|100|User AAA|1|vs=10.35.46.240:80 event=User AAA user=alice@kpauto.net domain=kempqaesp.net server=172.20.7.170 protocol=LDAP Unencrypted result=0:Success"},
		{"failed login, local store", failed,
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: vs=10.0.0.1:22 srcip=192.0.2.9 user=bob server=local protocol=Local result=1:Invalid credentials msg=bad password detail=login of bob refused",
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: CEF:0|Vigil|Gateway|dev|100|User AAA|4|vs=10.0.0.1:22 event=User AAA srcip=192.0.2.9 user=bob server=local protocol=Local result=1:Invalid credentials msg=bad password detail=login of bob refused"},
		{"session created", created,
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: vs=10.35.46.157:443 srcip=10.35.2.45 user=alice@kempqaesp.net msg=logged on",
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: CEF:0|Vigil|Gateway|dev|8|Logged on|1|vs=10.35.46.157:443 event=Logged on srcip=10.35.2.45 user=alice@kempqaesp.net msg=logged on"},
		{"session timed out", timeout,
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: vs=10.35.46.240:80 user=alice@kpauto.net domain=KPAUTO.NET msg=Deleted expired user session, start time:1631100796 duration:66 seconds",
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: CEF:0|Vigil|Gateway|dev|101|User session timeout|1|vs=10.35.46.240:80 event=User session timeout user=alice@kpauto.net domain=KPAUTO.NET msg=Deleted expired user session, start time:1631100796 duration:66 seconds"},
		{"session killed, start derived from duration", killed,
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: vs=10.35.46.235:443 user=alice@parent.net domain=MULLTIDOMAIN msg=Deleted user session, start time:1631100854 duration:8 seconds",
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: CEF:0|Vigil|Gateway|dev|102|User session kill|3|vs=10.35.46.235:443 event=User session kill user=alice@parent.net domain=MULLTIDOMAIN msg=Deleted user session, start time:1631100854 duration:8 seconds"},
		{"session ended, nothing known of its start", ended,
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: user=bob msg=Deleted user session",
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: CEF:0|Vigil|Gateway|dev|6|Logged off|1|event=Logged off user=bob msg=Deleted user session"},
		{"kill all", killAll,
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: domain=MULLTIDOMAIN msg=Deleted 1 user session(s) associated with domain",
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: CEF:0|Vigil|Gateway|dev|103|Kill all sessions|3|event=Kill all sessions domain=MULLTIDOMAIN msg=Deleted 1 user session(s) associated with domain"},
		{"flush", flush,
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: msg=SSO cache being flushed user sessions:1 cookie sessions:0",
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: CEF:0|Vigil|Gateway|dev|104|Flush SSO cache|1|event=Flush SSO cache msg=SSO cache being flushed user sessions:1 cookie sessions:0"},
		{"generic, no host", generic,
			"2021-09-08T07:34:22-04:00 - ssomgr: msg=uploaded s-1",
			"2021-09-08T07:34:22-04:00 - ssomgr: CEF:0|Vigil|Gateway|dev|212|Recording upload|1|event=Recording upload msg=uploaded s-1"},
	}
	plain := configured(t, `{"timezone":"America/New_York"}`)
	cef := configured(t, `{"cef":true,"timezone":"America/New_York"}`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				f    *formatter
				want string
			}{{plain, tt.plain}, {cef, tt.cef}} {
				got := formatOne(t, c.f, tt.ev)
				if got != c.want {
					t.Errorf("got\n%s\nwant\n%s", got, c.want)
				}
				if _, err := espparse.Parse(got); err != nil {
					t.Errorf("strict parser refuses %q: %v", got, err)
				}
			}
		})
	}
}

func TestSessionText(t *testing.T) {
	tests := []struct {
		name  string
		extra map[string]string
		want  string
	}{
		{"both", map[string]string{"start": "1631100800", "duration": "10"}, "X, start time:1631100800 duration:10 seconds"},
		{"start only", map[string]string{"start": "2021-09-08T11:33:22Z"}, "X, start time:1631100802 duration:60 seconds"},
		{"start after the event", map[string]string{"start": "1731100800"}, "X, start time:1731100800"},
		{"duration only", map[string]string{"duration": "1m"}, "X, start time:1631100802 duration:60 seconds"},
		{"neither", nil, "X"},
		{"unreadable", map[string]string{"start": "then", "duration": "long"}, "X"},
	}
	for _, tt := range tests {
		ev := event.Event{Time: t0, Extra: tt.extra}
		if got := sessionText("X", &ev); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestLoginResults(t *testing.T) {
	tests := []struct {
		metric, result, want string
	}{
		{"account.login.successful", "", "0:Success"},
		{"account.login.failed_invalid_password", "", "1:Invalid credentials"},
		{"account.login.failed_invalid_user", "", "2:Unknown user"},
		{"account.login.failed_locked", "", "3:Account locked"},
		{"account.login.failed_expired", "", "4:Password expired"},
		{"account.login.failed_ldap_error", "", "5:Authentication server error"},
		{"account.login.failed_something_new", "", "6:Authentication failed"},
		{"account.aaa", "success", "0:Success"},
		{"account.aaa", "failure", "6:Authentication failed"},
	}
	f := newFormatter()
	for _, tt := range tests {
		line := formatOne(t, f, event.Event{Time: t0, MetricName: tt.metric, Result: tt.result, UserName: "u"})
		l, err := espparse.Parse(line)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := l.Get("result"); got != tt.want {
			t.Errorf("%s/%s: result=%q, want %q", tt.metric, tt.result, got, tt.want)
		}
	}
}

var hostile = []string{
	"bob\nuser=root",
	"bob result=0:Success",
	"a=b",
	`"q" \ x\`,
	"]] [x=y] | CEF:0|",
	strings.Repeat("A", 10<<10),
	"bad\xff\xfe\xc3",
	"nul\x00nel\u0085ls\u2028cr\r",
	" leading and trailing ",
}

// fieldCases are the user-controlled fields and the key each lands in.
var fieldCases = []struct {
	name string
	set  func(*event.Event, string)
	key  string
}{
	{"user_name", func(e *event.Event, v string) { e.UserName = v }, "user"},
	{"domain", func(e *event.Event, v string) { e.Domain = v }, "domain"},
	{"vs", func(e *event.Event, v string) { e.VS = v }, "vs"},
	{"request_ip", func(e *event.Event, v string) { e.RequestIP = v }, "srcip"},
	{"reason", func(e *event.Event, v string) { e.Reason = v }, "msg"},
	{"aaa_server", func(e *event.Event, v string) { e.Extra["aaa_server"] = v }, "server"},
	{"aaa_protocol", func(e *event.Event, v string) { e.Extra["aaa_protocol"] = v }, "protocol"},
}

func TestHostileValuesStayInTheirField(t *testing.T) {
	for _, form := range []string{`{"cef":false}`, `{"cef":true}`} {
		f := configured(t, form)
		for _, fc := range fieldCases {
			for i, v := range hostile {
				t.Run(form+"/"+fc.name+"/"+strconv.Itoa(i), func(t *testing.T) {
					ev := event.Event{Time: t0, MetricName: "account.login.failed_invalid_password",
						Host: "vigil1", VS: "10.0.0.1:22", RequestIP: "192.0.2.1", UserName: "bob",
						Domain: "corp", Reason: "nope", Extra: map[string]string{}}
					fc.set(&ev, v)
					line := formatOne(t, f, ev)
					if strings.ContainsAny(line, "\r\n") {
						t.Fatalf("raw line break in %.100q", line)
					}
					l, err := espparse.Parse(line)
					if err != nil {
						t.Fatalf("strict parser refuses %.200q: %v", line, err)
					}
					if got, want := mustGet(t, &l, fc.key), cefwrite.FitValue(v, 1023); got != want {
						t.Fatalf("%s = %.80q, want %.80q", fc.key, got, want)
					}
					wantKeys := 8 // vs srcip user domain server protocol result msg
					if f.cfg.Load().CEF {
						wantKeys++ // event
					}
					if len(l.Fields) != wantKeys {
						t.Fatalf("%d fields, want %d: a value made or ate a field", len(l.Fields), wantKeys)
					}
					if got, _ := l.Get("result"); got != "1:Invalid credentials" {
						t.Fatalf("result = %q: forged", got)
					}
				})
			}
		}
	}
}

// TestHostileMetricName checks lines of unknown metrics, whose class name
// is the metric name itself and appears both in the CEF header and in event=.
func TestHostileMetricName(t *testing.T) {
	for _, form := range []string{`{"cef":false}`, `{"cef":true}`} {
		f := configured(t, form)
		for i, v := range hostile {
			line := formatOne(t, f, event.Event{Time: t0, MetricName: v, Level: v, UserName: "bob"})
			l, err := espparse.Parse(line)
			if err != nil {
				t.Fatalf("%s, value %d: strict parser refuses %.200q: %v", form, i, line, err)
			}
			if got, _ := l.Get("user"); got != "bob" {
				t.Fatalf("%s, value %d: user = %q", form, i, got)
			}
		}
	}
}

func mustGet(t *testing.T, l *espparse.Line, key string) string {
	t.Helper()
	v, ok := l.Get(key)
	if !ok {
		t.Fatalf("no %s= in the line", key)
	}
	return v
}

func TestHostileHost(t *testing.T) {
	f := newFormatter()
	for _, h := range append(hostile, "-", "%41", "") {
		line := formatOne(t, f, event.Event{Time: t0, MetricName: "session.create", Host: h})
		l, err := espparse.Parse(line)
		if err != nil {
			t.Fatalf("host %.40q: strict parser refuses %.200q: %v", h, line, err)
		}
		if want := h[:min(len(h), maxHost)]; l.Host != want {
			t.Fatalf("host %.40q read back as %.40q, want %.40q", h, l.Host, want)
		}
	}
}

func TestConfigure(t *testing.T) {
	tests := []struct {
		name, json, wantPrefix string
		wantErr                bool
	}{
		{"empty", ``, "2021-09-08T11:34:22+00:00 - ssomgr: user=", false},
		{"plain", `{"cef":false,"timezone":"UTC"}`, "2021-09-08T11:34:22+00:00 - ssomgr: user=", false},
		{"cef", `{"cef":true,"timezone":"UTC"}`, "2021-09-08T11:34:22+00:00 - ssomgr: CEF:0|Vigil|Gateway|dev|8|", false},
		{"cef header", `{"cef":true,"timezone":"UTC","vendor":"A|B","version":"9"}`, `2021-09-08T11:34:22+00:00 - ssomgr: CEF:0|A\|B|Gateway|9|8|`, false},
		{"time zone", `{"timezone":"Asia/Kolkata"}`, "2021-09-08T17:04:22+05:30 - ssomgr:", false},
		{"unknown key", `{"ceff":true}`, "", true},
		{"cef not a bool", `{"cef":"yes"}`, "", true},
		{"bad time zone", `{"timezone":"Mars/Olympus"}`, "", true},
		{"vendor too long", `{"vendor":"` + strings.Repeat("v", 64) + `"}`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFormatter()
			err := f.Configure(context.Background(), []byte(tt.json))
			if tt.wantErr {
				if !errors.Is(err, sdk.ErrInvalidConfig) || !strings.HasPrefix(err.Error(), "logformat-espaaa: config: ") {
					t.Fatalf("err = %v, want a logformat-espaaa config error wrapping ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.name == "empty" {
				// The default zone is the appliance's own.
				f.cfg.Load().location = time.UTC
			}
			got := formatOne(t, f, event.Event{Time: t0, MetricName: "session.create", UserName: "u"})
			if !strings.HasPrefix(got, tt.wantPrefix) {
				t.Fatalf("line %q does not start with %q", got, tt.wantPrefix)
			}
		})
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
	if err != nil || info.Kind != sdk.KindLogFormat || info.Name != "espaaa" || len(info.APIVersions) == 0 {
		t.Fatalf("Info = %+v, %v", info, err)
	}
}

// FuzzFormat formats events with arbitrary user-controlled values in both
// forms and checks that the strict parser reads back, from one line, every
// value (cleaned and cut) in its own key, and the fixed result untouched.
func FuzzFormat(f *testing.F) {
	for _, v := range hostile {
		f.Add(v, v, v, v, v, false)
	}
	f.Add("alice@kpauto.net", "KPAUTO.NET", "172.20.7.170", "LDAP Unencrypted", "lb100", true)
	f.Fuzz(func(t *testing.T, user, domain, server, protocol, host string, cef bool) {
		fm := newFormatter()
		fm.cfg.Load().CEF = cef
		ev := event.Event{Time: t0, MetricName: "account.login.failed_locked", Host: host,
			UserName: user, Domain: domain, Reason: user + domain, Message: server + host,
			Extra: map[string]string{"aaa_server": server, "aaa_protocol": protocol}}
		line := formatOne(t, fm, ev)
		if strings.ContainsAny(line, "\r\n") {
			t.Fatalf("raw line break in %.200q", line)
		}
		l, err := espparse.Parse(line)
		if err != nil {
			t.Fatalf("strict parser refuses %.200q: %v", line, err)
		}
		if want := host[:min(len(host), maxHost)]; l.Host != want {
			t.Errorf("host = %.80q, want %.80q", l.Host, want)
		}
		orDefault := func(v, d string) string {
			if v == "" {
				return d
			}
			return v
		}
		want := map[string]string{
			"user":     cefwrite.FitValue(user, 1023),
			"domain":   cefwrite.FitValue(domain, 1023),
			"server":   cefwrite.FitValue(orDefault(server, "local"), 1023),
			"protocol": cefwrite.FitValue(orDefault(protocol, "Local"), 1023),
			"result":   "3:Account locked",
			"msg":      cefwrite.FitValue(user+domain, 1023),
			"detail":   cefwrite.FitValue(server+host, 1023),
		}
		n := 0
		for k, w := range want {
			got, ok := l.Get(k)
			if got != w || ok != (w != "") {
				t.Errorf("%s = %.80q (present %v), want %.80q", k, got, ok, w)
			}
			if ok {
				n++
			}
		}
		if cef {
			n++
		}
		if len(l.Fields) != n {
			t.Errorf("%d fields, want %d", len(l.Fields), n)
		}
	})
}
