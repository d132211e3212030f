package app

import (
	"reflect"
	"strings"
	"testing"
)

// TestParseSinks: the settings page's sinks field takes [[log.sink]]
// tables and nothing else; empty text removes the override.
func TestParseSinks(t *testing.T) {
	got, err := parseSinks("[[log.sink]]\nname = \"a\"\ntype = \"file\"\n\n[[log.sink]]\nname = \"b\"\ntype = \"syslog\"\nrfc = 5424\n")
	want := []map[string]any{{"name": "a", "type": "file"}, {"name": "b", "type": "syslog", "rfc": int64(5424)}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("two sinks: %#v, %v", got, err)
	}
	if got, err := parseSinks(" \n "); got != nil || err != nil {
		t.Errorf("empty: %#v, %v", got, err)
	}
	for text, wantErr := range map[string]string{
		"[[log.sink]]\nname = ":                             "not TOML",
		"[recording]\nbitrate = 1\n":                        "not recording",
		"[[log.sink]]\nname = \"a\"\n[wui]\nenabled = true": "not wui",
		"[log]\nretention = \"1d\"\n":                       "not log.retention",
		"name = \"a\"\n":                                    "not name",
		"[log]\n":                                           "must be [[log.sink]] tables",
	} {
		if _, err := parseSinks(text); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: %v, want an error with %q", text, err, wantErr)
		}
	}
}

func TestSinkValue(t *testing.T) {
	for _, c := range []struct{ field, literal, want string }{
		{"path", `"/var/log/vigil/{component}_json.log"`, `"{component}_json.log"`},
		{"path", `"/var/log/vigil/sub/x.log"`, `"sub/x.log"`},
		{"path", `"/srv/elsewhere/x.log"`, `"/srv/elsewhere/x.log"`},
		{"path", `"/var/log/vigil-other/x.log"`, `"/var/log/vigil-other/x.log"`},
		{"path", `"relative.log"`, `"relative.log"`},
		{"name", `"/var/log/vigil/x"`, `"/var/log/vigil/x"`},
	} {
		if got := sinkValue(c.field, c.literal, "/var/log/vigil"); got != c.want {
			t.Errorf("sinkValue(%s, %s) = %s, want %s", c.field, c.literal, got, c.want)
		}
	}
}
