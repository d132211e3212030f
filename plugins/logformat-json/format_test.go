package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

func formatOne(t testing.TB, e event.Event) []byte {
	t.Helper()
	lines, err := newFormatter().Format(context.Background(), []event.Event{e})
	if err != nil || len(lines) != 1 {
		t.Fatalf("Format = %q, %v", lines, err)
	}
	return lines[0]
}

func TestGolden(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	for _, c := range []struct {
		name string
		e    event.Event
		want string
	}{
		{"minimal", event.Event{
			Time: time.Date(2024, 5, 17, 14, 4, 5, 123987654, cet), MetricName: "session.create",
			Level: event.LevelInfo, Message: "created", Component: "ssh",
		}, `{"time":"2024-05-17T13:04:05.123Z","metric_name":"session.create","levelname":"INFO","message":"created","component":"ssh"}`},
		{"every field", event.Event{
			Seq: 42, Time: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), MetricName: "account.login.failed_invalid_password",
			Level: event.LevelWarning, Message: "login failed", Component: "ssh", Process: "vigild", Host: "gw1",
			ServerID: "srv-1", RequestIP: "10.0.0.5", RequestPort: "50122", UserAgent: "OpenSSH_9.2", UserID: "7",
			UserName: "alice", Domain: "corp", TargetID: "3", TargetName: "db1", TargetFriendlyName: "Database 1",
			VS: "10.0.0.1:22", RS: "10.0.1.9:22", Protocol: "ssh", SessionID: "s-9", Result: "failure", Reason: "bad password",
			Extra: map[string]string{"attempt": "3", "b": "2"},
		}, `{"seq":42,"time":"2024-01-02T03:04:05.000Z","metric_name":"account.login.failed_invalid_password",` +
			`"levelname":"WARNING","message":"login failed","component":"ssh","process":"vigild","host":"gw1",` +
			`"server_id":"srv-1","request_ip":"10.0.0.5","request_port":"50122","user_agent":"OpenSSH_9.2","user_id":"7",` +
			`"user_name":"alice","domain":"corp","target_id":"3","target_name":"db1","target_friendly_name":"Database 1",` +
			`"vs":"10.0.0.1:22","rs":"10.0.1.9:22","protocol":"ssh","session_id":"s-9","result":"failure",` +
			`"reason":"bad password","attempt":"3","b":"2"}`},
		{"escaping", event.Event{
			Message: "a\"b\\c\nd\re\tf\x00g\x1fh\u2028i\u2029j<>&k\xffl|m=n]o\x7f",
		}, `{"time":"0001-01-01T00:00:00.000Z","metric_name":"","levelname":"","message":` +
			`"a\"b\\c\nd\re\tf\u0000g\u001fh\u2028i\u2029j<>&k\ufffdl|m=n]o` + "\x7f" + `","component":""}`},
		{"colliding extras", event.Event{
			Extra: map[string]string{"host": "h", "extra_host": "x", "time": "t", "extra": "e", "component": "c", "zz": "z"},
		}, `{"time":"0001-01-01T00:00:00.000Z","metric_name":"","levelname":"","message":"","component":"",` +
			`"extra_component":"c","extra_extra":"e","extra_host":"x","extra_extra_host":"h","extra_time":"t","zz":"z"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := formatOne(t, c.e)
			if string(got) != c.want {
				t.Fatalf("got\n%s\nwant\n%s", got, c.want)
			}
			if !json.Valid(got) {
				t.Fatal("not valid JSON")
			}
		})
	}
}

// TestKeysAreTheSchemas checks the hand-written field list against the
// event schema's JSON tags, so a field added to event.Event is not silently
// left out.
func TestKeysAreTheSchemas(t *testing.T) {
	var e event.Event
	schema := map[string]bool{}
	v := reflect.ValueOf(&e).Elem()
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		schema[name] = true
		switch f.Type.Kind() {
		case reflect.String:
			v.Field(i).SetString("v")
		case reflect.Uint64:
			v.Field(i).SetUint(1)
		}
	}
	if !maps.Equal(schema, schemaKeys) {
		t.Fatalf("schemaKeys %v, the schema's JSON keys are %v", slices.Sorted(maps.Keys(schemaKeys)), slices.Sorted(maps.Keys(schema)))
	}
	var got map[string]any
	if err := json.Unmarshal(formatOne(t, e), &got); err != nil {
		t.Fatal(err)
	}
	delete(schema, "extra") // flattened, never a key of its own
	if !maps.Equal(boolKeys(got), schema) {
		t.Fatalf("a fully set event has keys %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(schema)))
	}
}

func boolKeys(m map[string]any) map[string]bool {
	out := map[string]bool{}
	for k := range m {
		out[k] = true
	}
	return out
}

// oracle is what encoding/json makes of s: the decoded value our line must
// decode to.
func oracle(t testing.TB, s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkLine asserts that line is one line of valid JSON whose values decode
// to what encoding/json would have made of the event's.
func checkLine(t testing.TB, e event.Event, line []byte) {
	t.Helper()
	if bytes.ContainsAny(line, "\n\r") || bytes.Contains(line, []byte("\u2028")) || bytes.Contains(line, []byte("\u2029")) {
		t.Fatalf("line holds a line break: %q", line)
	}
	var got map[string]string
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	var raw map[string]any
	if err := d.Decode(&raw); err != nil {
		t.Fatalf("not JSON: %v: %q", err, line)
	}
	got = map[string]string{}
	for k, v := range raw {
		got[k] = fmt.Sprint(v)
	}
	for k, want := range map[string]string{"message": e.Message, "user_name": e.UserName, "metric_name": e.MetricName} {
		if want == "" && k != "message" && k != "metric_name" {
			continue
		}
		if got[k] != oracle(t, want) {
			t.Fatalf("%s decodes to %q, want %q", k, got[k], oracle(t, want))
		}
	}
	for k, v := range e.Extra {
		if schemaKeys[k] {
			continue
		}
		// An invalid key may collapse onto another once its bytes are
		// replaced; only valid ones are checked.
		if got[oracle(t, k)] != oracle(t, v) && utf8.ValidString(k) {
			t.Fatalf("extra %q decodes to %q, want %q", k, got[oracle(t, k)], oracle(t, v))
		}
	}
}

func TestHostileValuesDecodeLikeEncodingJSON(t *testing.T) {
	for i, v := range sdktest.HostileValues {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			e := event.Event{Message: v, UserName: v, MetricName: v, Extra: map[string]string{"note": v, "k" + v: "x"}}
			checkLine(t, e, formatOne(t, e))
		})
	}
}

func FuzzFormat(f *testing.F) {
	for _, v := range sdktest.HostileValues {
		if len(v) < 100 {
			f.Add(v, "k", v)
		}
	}
	f.Fuzz(func(t *testing.T, message, key, value string) {
		e := event.Event{Message: message, UserName: value, MetricName: key, Extra: map[string]string{key: value, "fixed": message}}
		checkLine(t, e, formatOne(t, e))
	})
}

func TestConformance(t *testing.T) {
	t.Run("direct", func(t *testing.T) { sdktest.LogFormatConformance(t, newFormatter()) })
	t.Run("grpc", func(t *testing.T) {
		sdktest.LogFormatConformance(t, sdktest.ServeLogFormatter(t, newFormatter(), nil))
	})
	t.Run("process", func(t *testing.T) {
		bin := sdktest.PluginBinary(t, ".", "vigil-plugin-logformat-json")
		sdktest.LogFormatConformance(t, sdktest.LaunchLogFormatter(t, bin, []byte(`{}`)))
	})
}

func TestConfigure(t *testing.T) {
	for _, c := range []struct {
		config string
		ok     bool
	}{
		{"", true}, {"{}", true}, {" null ", true}, {"{\n}", true},
		{`{"pretty": true}`, false}, {"[1]", false}, {"{", false},
	} {
		err := newFormatter().Configure(context.Background(), []byte(c.config))
		if c.ok != (err == nil) {
			t.Errorf("Configure(%q) = %v, want ok=%v", c.config, err, c.ok)
		}
		if err != nil && (!errors.Is(err, sdk.ErrInvalidConfig) || !strings.HasPrefix(err.Error(), "logformat-json: config: ")) {
			t.Errorf("Configure(%q) = %v", c.config, err)
		}
	}
}

func TestLinesDoNotShareTail(t *testing.T) {
	lines, err := newFormatter().Format(context.Background(), []event.Event{{Message: "a"}, {Message: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	first := string(lines[1])
	_ = append(lines[0], "XXXXXXXX"...) // a caller appending a newline must not clobber the next line
	if string(lines[1]) != first {
		t.Fatalf("appending to line 0 changed line 1: %q", lines[1])
	}
}
