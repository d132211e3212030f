package main

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/logformat-cef/cefparse"
	"github.com/vigilgw/vigil/plugins/logformat-cef/cefspec"
	"github.com/vigilgw/vigil/plugins/logformat-cef/cefwrite"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

var t0 = time.Date(2021, 9, 8, 11, 34, 22, 123e6, time.UTC) // 1631100862123 ms

func format(t testing.TB, f *formatter, evs ...event.Event) []string {
	t.Helper()
	lines, err := f.Format(context.Background(), evs)
	if err != nil {
		t.Fatalf("Format: %v", err)
	}
	if len(lines) != len(evs) {
		t.Fatalf("Format returned %d lines for %d events", len(lines), len(evs))
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = string(l)
	}
	return out
}

func TestFormatGolden(t *testing.T) {
	tests := []struct {
		name string
		ev   event.Event
		want string
	}{
		{
			name: "ssh login",
			ev: event.Event{Seq: 7, Time: t0, MetricName: "account.login.successful", Level: "INFO",
				Message: "User bob logged in", Component: "ssh", Host: "vigil1",
				RequestIP: "192.0.2.10", RequestPort: "50022", UserName: "bob", UserID: "u-1",
				VS: "10.0.0.1:22", Protocol: "ssh", Result: "success"},
			want: "CEF:0|Vigil|Gateway|dev|8|Logged on|1|rt=1631100862123 dvchost=vigil1 externalId=7 " +
				"cat=account.login.successful act=login outcome=success src=192.0.2.10 spt=50022 " +
				"suser=bob suid=u-1 msg=User bob logged in cs3Label=protocol cs3=ssh " +
				"cs4Label=virtualService cs4=10.0.0.1:22 cs5Label=component cs5=ssh",
		},
		{
			name: "failed login raises severity from its level",
			ev: event.Event{Time: t0, MetricName: "account.login.failed_invalid_password", Level: "WARNING",
				Message: "bad password", Component: "ssh", RequestIP: "192.0.2.10", UserName: "bob",
				Result: "failure", Reason: "invalid password"},
			want: "CEF:0|Vigil|Gateway|dev|9|Access denied|5|rt=1631100862123 " +
				"cat=account.login.failed_invalid_password act=login outcome=failure src=192.0.2.10 " +
				"suser=bob msg=bad password cs5Label=component cs5=ssh cs6Label=reason cs6=invalid password",
		},
		{
			name: "session end with start, duration and target",
			ev: event.Event{Time: t0, MetricName: "session.destroy", Level: "INFO", Message: "session ended",
				Component: "ssh", UserName: "bob", SessionID: "s-42", TargetName: "db-prod",
				TargetID: "t-9", RS: "10.1.0.5:22", Extra: map[string]string{
					"start": "1631100796", "end": "2021-09-08T11:34:22Z", "duration": "66", "bytes": "1048576",
					"target_user": "postgres"}},
			want: "CEF:0|Vigil|Gateway|dev|6|Logged off|1|rt=1631100862123 cat=session.destroy act=end " +
				"dst=10.1.0.5 dpt=22 suser=bob msg=session ended cs1Label=sessionId cs1=s-42 " +
				"cs2Label=target cs2=db-prod cs5Label=component cs5=ssh vigilTargetId=t-9 " +
				"cn2Label=bytes cn2=1048576 cn1Label=durationSeconds cn1=66 end=1631100862000 " +
				"start=1631100796000 duser=postgres",
		},
		{
			name: "recording download over the web UI, IPv6 client",
			ev: event.Event{Time: t0, MetricName: "recording.download", Level: "INFO", Message: "download",
				Component: "wui", RequestIP: "2001:db8::7", RequestPort: "443", UserName: "auditor",
				UserAgent: "Mozilla/5.0", SessionID: "s-42", Extra: map[string]string{
					"method": "GET", "uri": "https://vigil1/recordings/s-42?x=1", "size": "2048"}},
			want: "CEF:0|Vigil|Gateway|dev|214|Recording downloaded|3|rt=1631100862123 " +
				"cat=recording.download act=download c6a2Label=Source IPv6 Address c6a2=2001:db8::7 " +
				"spt=443 suser=auditor requestClientApplication=Mozilla/5.0 msg=download " +
				"cs1Label=sessionId cs1=s-42 cs5Label=component cs5=wui requestMethod=GET " +
				`cn3Label=sizeBytes cn3=2048 request=https://vigil1/recordings/s-42?x\=1`,
		},
		{
			name: "unknown metric, host name target, odd port, unknown extras",
			ev: event.Event{Time: t0, MetricName: "quota.exceeded", Level: "ERROR", Component: "core",
				RequestIP: "client.example", RequestPort: "http", RS: "db.internal:5432",
				Extra: map[string]string{"bytes_in": "10", "duration": "forever", "weird-Key!": "v",
					"a_" + strings.Repeat("b", 100): "second", "a__" + strings.Repeat("b", 100): "first", "=": "none"}},
			want: "CEF:0|Vigil|Gateway|dev|quota.exceeded|quota.exceeded|7|rt=1631100862123 " +
				"cat=quota.exceeded act=exceeded shost=client.example vigilRequestPort=http " +
				"dhost=db.internal dpt=5432 cs5Label=component cs5=core " +
				"vigilAB" + strings.Repeat("b", 57) + "=first vigilBytesIn=10 vigilDuration=forever vigilWeirdKey=v",
		},
		{
			name: "target that is not host:port is kept whole",
			ev:   event.Event{Time: t0, MetricName: "session.create", Level: "INFO", RS: "db-prod"},
			want: "CEF:0|Vigil|Gateway|dev|200|Session created|1|rt=1631100862123 cat=session.create " +
				"act=create dhost=db-prod",
		},
	}
	f := newFormatter()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := format(t, f, tt.ev)[0]
			if got != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
			if _, err := cefparse.Parse(got); err != nil {
				t.Fatalf("strict parser refuses the line: %v", err)
			}
		})
	}
}

// hostile are values a client can send in a user name, a message, a target
// name or an HTTP header.
var hostile = []string{
	"bob\nact=allow",
	"bob\r\nCEF:0|Evil|X|1|1|x|10|",
	"a|b|c",
	"a=b suser=root",
	`"quoted" \ backslash\`,
	"]] [x=y]",
	"trailing backslash\\",
	strings.Repeat("A", 10<<10),
	strings.Repeat("é", 10<<10),
	"bad\xff\xfeutf8\xc3",
	"nul\x00del\x7fnel\u0085ls\u2028",
	"",
}

// fieldCase is one user-controlled event field and the CEF key it lands in.
type fieldCase struct {
	name  string
	set   func(*event.Event, string)
	key   string
	limit int
}

var fieldCases = []fieldCase{
	{"user_name", func(e *event.Event, v string) { e.UserName = v }, "suser", 1023},
	{"message", func(e *event.Event, v string) { e.Message = v }, "msg", 1023},
	{"reason", func(e *event.Event, v string) { e.Reason = v }, "cs6", 4000},
	{"target_name", func(e *event.Event, v string) { e.TargetName = v }, "cs2", 4000},
	{"user_agent", func(e *event.Event, v string) { e.UserAgent = v }, "requestClientApplication", 1023},
	{"domain", func(e *event.Event, v string) { e.Domain = v }, "sntdom", 255},
	{"host", func(e *event.Event, v string) { e.Host = v }, "dvchost", 100},
	{"result", func(e *event.Event, v string) { e.Result = v }, "outcome", 63},
	{"target_friendly_name", func(e *event.Event, v string) { e.TargetFriendlyName = v }, "vigilTargetFriendlyName", cefspec.MaxCustomLen},
	{"extra uri", func(e *event.Event, v string) { e.Extra = map[string]string{"uri": v} }, "request", 1023},
	{"extra note", func(e *event.Event, v string) { e.Extra = map[string]string{"note": v} }, "vigilNote", cefspec.MaxCustomLen},
	{"request_ip", func(e *event.Event, v string) { e.RequestIP = v }, "shost", 1023},
}

// baseEvent has a value in every field the hostile cases leave alone.
func baseEvent() event.Event {
	return event.Event{Seq: 1, Time: t0, MetricName: "account.login.failed_invalid_password",
		Level: "WARNING", Component: "ssh", SessionID: "s-1", Protocol: "ssh", VS: "10.0.0.1:22"}
}

func TestHostileValuesStayInTheirField(t *testing.T) {
	f := newFormatter()
	base := format(t, f, baseEvent())[0]
	baseRec, err := cefparse.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	for _, fc := range fieldCases {
		for i, v := range hostile {
			t.Run(fc.name+"/"+strconv.Itoa(i), func(t *testing.T) {
				ev := baseEvent()
				fc.set(&ev, v)
				line := format(t, f, ev)[0]
				checkOneLine(t, line)
				rec, err := cefparse.Parse(line)
				if err != nil {
					t.Fatalf("strict parser refuses the line: %v", err)
				}
				want := cefwrite.FitValue(v, fc.limit)
				got, ok := rec.Get(fc.key)
				if got != want || ok != (want != "") {
					t.Fatalf("%s = %.80q (present %v), want %.80q", fc.key, got, ok, want)
				}
				// Nothing else moved: every other field is the base event's.
				n := len(baseRec.Extension)
				if ok {
					n++
				}
				if fc.key == "cs6" || fc.key == "cs2" {
					if ok {
						n++ // and its label
					}
				}
				if len(rec.Extension) != n {
					t.Fatalf("%d extension fields, want %d: a value made or ate a field", len(rec.Extension), n)
				}
				for _, bf := range baseRec.Extension {
					if v, _ := rec.Get(bf.Key); v != bf.Value {
						t.Fatalf("field %s changed from %q to %.80q", bf.Key, bf.Value, v)
					}
				}
				if rec.Name != baseRec.Name || rec.Severity != baseRec.Severity || rec.DeviceEventClassID != baseRec.DeviceEventClassID {
					t.Fatalf("header changed: %+v", rec)
				}
			})
		}
	}
}

// checkOneLine fails unless line is one line of valid UTF-8 with no control
// character but tab.
func checkOneLine(t *testing.T, line string) {
	t.Helper()
	for i, r := range line {
		if r == '\uFFFD' {
			if !strings.HasPrefix(line[i:], "\uFFFD") {
				t.Fatalf("invalid UTF-8 at byte %d", i)
			}
			continue
		}
		if r < 0x20 && r != '\t' || r == 0x7f || 0x80 <= r && r <= 0x9f || r == 0x2028 || r == 0x2029 {
			t.Fatalf("control character %U at byte %d", r, i)
		}
	}
}

func TestConfigure(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		want    string // header prefix
		wantErr bool
	}{
		{"empty", "", "CEF:0|Vigil|Gateway|dev|", false},
		{"empty object", "{}", "CEF:0|Vigil|Gateway|dev|", false},
		{"all set", `{"vendor":"Acme","product":"Gate|way","version":"2.1.0"}`, `CEF:0|Acme|Gate\|way|2.1.0|`, false},
		{"version only", `{"version":"1.4.2"}`, "CEF:0|Vigil|Gateway|1.4.2|", false},
		{"unknown key", `{"vendr":"Acme"}`, "", true},
		{"wrong type", `{"vendor":1}`, "", true},
		{"not JSON", `vendor=Acme`, "", true},
		{"trailing data", `{} {}`, "", true},
		{"vendor too long", `{"vendor":"` + strings.Repeat("v", 64) + `"}`, "", true},
		{"version too long", `{"version":"` + strings.Repeat("1", 32) + `"}`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFormatter()
			err := f.Configure(context.Background(), []byte(tt.json))
			if tt.wantErr {
				if !errors.Is(err, sdk.ErrInvalidConfig) || !strings.HasPrefix(err.Error(), "logformat-cef: config: ") {
					t.Fatalf("err = %v, want a logformat-cef config error wrapping ErrInvalidConfig", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := format(t, f, baseEvent())[0]; !strings.HasPrefix(got, tt.want) {
				t.Fatalf("line %q does not start with %q", got, tt.want)
			}
		})
	}
}

func TestFormatCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := newFormatter().Format(ctx, []event.Event{baseEvent()}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestFormatBatchKeepsOrderAndLinesIndependent(t *testing.T) {
	f := newFormatter()
	evs := make([]event.Event, 100)
	for i := range evs {
		evs[i] = baseEvent()
		evs[i].UserName = "user" + strconv.Itoa(i)
	}
	lines, err := f.Format(context.Background(), evs)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		r, err := cefparse.Parse(string(l))
		if err != nil {
			t.Fatal(err)
		}
		if u, _ := r.Get("suser"); u != "user"+strconv.Itoa(i) {
			t.Fatalf("line %d is for %q", i, u)
		}
	}
	// A sink appending a newline to one line must not clobber the next.
	_ = append(lines[0], '\n')
	if lines[1][0] != 'C' {
		t.Fatal("appending to a line overwrote the next one")
	}
}

func TestInfo(t *testing.T) {
	info, err := newFormatter().Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Kind != sdk.KindLogFormat || info.Name != "cef" || len(info.APIVersions) == 0 {
		t.Fatalf("Info = %+v", info)
	}
}

// FuzzFormat formats events with arbitrary user-controlled values and checks
// that the strict parser reads back, from exactly one line, every value as
// written (cleaned and cut to its limit) and no field more.
func FuzzFormat(f *testing.F) {
	for _, v := range hostile[:7] {
		f.Add(v, v, v, v, v, v)
	}
	f.Add("bob", "User bob logged in", "", "db-prod", "66", "/tmp/x")
	f.Add("\xff", "a\\", "=", "|", "1m30s", "\n")
	fm := newFormatter()
	f.Fuzz(func(t *testing.T, user, message, reason, target, duration, note string) {
		ev := baseEvent()
		ev.UserName, ev.Message, ev.Reason, ev.TargetName = user, message, reason, target
		ev.Extra = map[string]string{"duration": duration, "note": note, "path": note + user}
		lines, err := fm.Format(context.Background(), []event.Event{ev})
		if err != nil || len(lines) != 1 {
			t.Fatalf("Format: %d lines, %v", len(lines), err)
		}
		line := string(lines[0])
		checkOneLine(t, line)
		rec, err := cefparse.Parse(line)
		if err != nil {
			t.Fatalf("strict parser refuses %.200q: %v", line, err)
		}
		want := map[string]string{
			"suser":     cefwrite.FitValue(user, 1023),
			"msg":       cefwrite.FitValue(message, 1023),
			"cs6":       cefwrite.FitValue(reason, 4000),
			"cs2":       cefwrite.FitValue(target, 4000),
			"vigilNote": cefwrite.FitValue(note, cefspec.MaxCustomLen),
			"filePath":  cefwrite.FitValue(note+user, 1023),
		}
		if s, ok := extraSeconds(duration); ok {
			want["cn1"] = strconv.FormatInt(s, 10)
		} else {
			want["vigilDuration"] = cefwrite.FitValue(duration, cefspec.MaxCustomLen)
		}
		got := rec.Map()
		for k, w := range want {
			if got[k] != w {
				t.Errorf("%s = %.80q, want %.80q", k, got[k], w)
			}
		}
		// Exactly the fields expected: the base event's, these, and labels.
		baseKeys := map[string]bool{"rt": true, "externalId": true, "cat": true, "act": true,
			"cs1Label": true, "cs1": true, "cs3Label": true, "cs3": true, "cs4Label": true, "cs4": true,
			"cs5Label": true, "cs5": true}
		for k := range got {
			if baseKeys[k] || strings.HasSuffix(k, "Label") {
				continue
			}
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected field %s=%.80q", k, got[k])
			}
		}
		for k, w := range want {
			if _, ok := got[k]; !ok && w != "" {
				t.Errorf("field %s missing", k)
			}
		}
	})
}

// extraSeconds is how the formatter reads a duration, restated for the
// fuzz oracle.
func extraSeconds(s string) (int64, bool) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if f < 0 || f >= 1<<63 || f != f {
			return 0, false
		}
		return int64(f), true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, false
	}
	return int64(d / time.Second), true
}

// TestConcurrentConfigureAndFormat runs under the race detector: the host
// may reconfigure while batches are being formatted.
func TestConcurrentConfigureAndFormat(t *testing.T) {
	f := newFormatter()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 100 {
			if err := f.Configure(context.Background(), []byte(`{"version":"`+strconv.Itoa(i)+`"}`)); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	for range 100 {
		for _, l := range format(t, f, baseEvent(), baseEvent()) {
			if _, err := cefparse.Parse(l); err != nil {
				t.Fatal(err)
			}
		}
	}
	<-done
}

// TestHostileMetricName checks unknown metrics, whose name becomes the class
// id and the header name, and hostile levels.
func TestHostileMetricName(t *testing.T) {
	f := newFormatter()
	for i, v := range hostile {
		ev := baseEvent()
		ev.MetricName, ev.Level = v, v
		line := format(t, f, ev)[0]
		checkOneLine(t, line)
		rec, err := cefparse.Parse(line)
		if err != nil {
			t.Fatalf("value %d: strict parser refuses %.200q: %v", i, line, err)
		}
		id := v
		if id == "" {
			id = "unknown"
		}
		if want := cefwrite.FitHeader(id, cefspec.MaxClassID); rec.DeviceEventClassID != want {
			t.Errorf("value %d: class id %.80q, want %.80q", i, rec.DeviceEventClassID, want)
		}
		if want := cefwrite.FitHeader(id, cefspec.MaxName); rec.Name != want {
			t.Errorf("value %d: name %.80q, want %.80q", i, rec.Name, want)
		}
		if got, want := rec.Map()["cat"], cefwrite.FitValue(v, 1023); got != want {
			t.Errorf("value %d: cat %.80q, want %.80q", i, got, want)
		}
		if rec.Severity != "0" {
			t.Errorf("value %d: severity %s for an unknown level and metric", i, rec.Severity)
		}
	}
}
