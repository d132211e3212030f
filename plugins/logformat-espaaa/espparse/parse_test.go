package espparse

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		host   string
		cef    bool
		fields map[string]string
	}{
		{"seed AAA line",
			"2021-09-08T07:34:22-04:00 lb100 ssomgr: vs=10.35.46.240:80 user=<ExampleUser>@kpauto.net domain=kempqaesp.net server=172.20.7.170 protocol=LDAP Unencrypted result=0:Success",
			"lb100", false, map[string]string{"vs": "10.35.46.240:80", "user": "<ExampleUser>@kpauto.net",
				"domain": "kempqaesp.net", "server": "172.20.7.170", "protocol": "LDAP Unencrypted", "result": "0:Success"}},
		{"seed session line",
			"2021-09-08T08:08:40-04:00 lb100 ssomgr: vs=10.35.46.240:80 user=<ExampleUser>@kpauto.net domain=KPAUTO.NET msg=Deleted expired user session, start time:1631102854 duration:66 seconds",
			"lb100", false, map[string]string{"vs": "10.35.46.240:80", "user": "<ExampleUser>@kpauto.net",
				"domain": "KPAUTO.NET", "msg": "Deleted expired user session, start time:1631102854 duration:66 seconds"}},
		{"seed CEF line",
			"2021-09-08T07:17:15-04:00 lb100 ssomgr: CEF:0|Kemp|LM|1.0|100|User AAA|0|vs=10.35.46.240:80 event=User AAA user=<ExampleUser>@kpauto.net domain=kempqaesp.net server=172.20.7.170 protocol=LDAP Unencrypted result=0:Success",
			"lb100", true, map[string]string{"vs": "10.35.46.240:80", "event": "User AAA", "user": "<ExampleUser>@kpauto.net",
				"domain": "kempqaesp.net", "server": "172.20.7.170", "protocol": "LDAP Unencrypted", "result": "0:Success"}},
		{"encoded host, escaped values",
			`2021-09-08T11:34:22+00:00 a%20b%25c%0A ssomgr: user=x\=y\nz msg=m`,
			"a b%c\n", false, map[string]string{"user": "x=y\nz", "msg": "m"}},
		{"no host", "2021-09-08T11:34:22+00:00 - ssomgr: msg=m", "", false, map[string]string{"msg": "m"}},
		{"host that is a dash", "2021-09-08T11:34:22+00:00 %2D ssomgr: msg=m", "-", false, map[string]string{"msg": "m"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Parse(tt.line)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if l.Host != tt.host || (l.CEF != nil) != tt.cef || len(l.Fields) != len(tt.fields) {
				t.Fatalf("got host %q, cef %v, %d fields", l.Host, l.CEF != nil, len(l.Fields))
			}
			for k, v := range tt.fields {
				if got, _ := l.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
		})
	}
	l, err := Parse(tests[0].line)
	if err != nil || !l.Time.Equal(time.Date(2021, 9, 8, 11, 34, 22, 0, time.UTC)) {
		t.Fatalf("time = %v, %v", l.Time, err)
	}
}

func TestParseInvalid(t *testing.T) {
	const p = "2021-09-08T11:34:22+00:00 h ssomgr: "
	tests := []struct{ name, line, want string }{
		{"empty", "", "no space after the time"},
		{"Z time", "2021-09-08T11:34:22Z h ssomgr: msg=m", "RFC 3339"},
		{"fractional seconds", "2021-09-08T11:34:22.5+00:00 h ssomgr: msg=m", "RFC 3339"},
		{"syslog time", "Sep  8 11:34:22 h ssomgr: msg=m", "RFC 3339"},
		{"no tag", "2021-09-08T11:34:22+00:00 h msg=m", "tag"},
		{"other tag", "2021-09-08T11:34:22+00:00 h sshd: msg=m", "tag"},
		{"empty host", "2021-09-08T11:34:22+00:00  ssomgr: msg=m", "empty host"},
		{"bad escape in host", "2021-09-08T11:34:22+00:00 a%zz ssomgr: msg=m", "bad %-escape"},
		{"lower-case escape in host", "2021-09-08T11:34:22+00:00 a%0a ssomgr: msg=m", "bad %-escape"},
		{"needless escape in host", "2021-09-08T11:34:22+00:00 %41 ssomgr: msg=m", "needless"},
		{"truncated escape in host", "2021-09-08T11:34:22+00:00 a%4 ssomgr: msg=m", "truncated"},
		{"raw non-ASCII host", "2021-09-08T11:34:22+00:00 hé ssomgr: msg=m", "raw byte"},
		{"unknown key", p + "msg=m evil=1", "unknown or out of order"},
		{"keys out of order", p + "user=u vs=v msg=m", "unknown or out of order"},
		{"duplicate key", p + "user=u user=v msg=m", "given twice"},
		{"forged key from an unescaped =", p + "user=u result=0:Success msg=a=b", "unescaped '='"},
		{"neither result nor msg", p + "user=u", "neither"},
		{"bad result", p + "user=u result=Success", "<code>:<text>"},
		{"empty result text", p + "user=u result=0:", "<code>:<text>"},
		{"event outside CEF", p + "event=x msg=m", "outside the CEF form"},
		{"CEF without event", p + "CEF:0|V|P|1|8|Logged on|1|msg=m", "without event="},
		{"CEF event differs", p + "CEF:0|V|P|1|8|Logged on|1|event=Other msg=m", "differs"},
		{"CEF broken", p + "CEF:0|V|P|1|8|Logged on|1|event=Logged on msg=a\\|b", "unknown escape"},
		{"raw newline", p + "msg=a\nb", "raw line break"},
		{"unknown escape", p + `msg=a\tb`, "unknown escape"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := Parse(tt.line)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.line, l)
			}
			if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "espparse: ") {
				t.Errorf("error %v: want an espparse error wrapping ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

func FuzzHost(f *testing.F) {
	for _, s := range []string{"", "-", "lb100", "a b", "%", "é", "\xff", "%2D"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		enc := EncodeHost(host)
		if enc == "" || strings.ContainsAny(enc, " \t\r\n") {
			t.Fatalf("EncodeHost(%q) = %q is not one token", host, enc)
		}
		dec, err := DecodeHost(enc)
		if err != nil || dec != host {
			t.Fatalf("DecodeHost(EncodeHost(%q)) = %q, %v", host, dec, err)
		}
	})
}
