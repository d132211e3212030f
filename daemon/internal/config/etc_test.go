package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The documented file, from this package's directory.
const etcFile = "../../../etc/vigil.toml"

// docLine is a commented-out key or table header of etc/vigil.toml:
// "# key = value" or "# [table]". Prose comments never start that way.
var docLine = regexp.MustCompile(`^# ([A-Za-z0-9_]+ = |\[)`)

// uncomment activates every documented key and example of etc/vigil.toml,
// with state_dir moved to dir so no real settings.toml is read. It reports
// false if the file does not document state_dir.
func uncomment(src, dir string) (string, bool) {
	var out []string
	moved := false
	for _, line := range strings.Split(src, "\n") {
		if docLine.MatchString(line) {
			line = strings.TrimPrefix(line, "# ")
		}
		if strings.HasPrefix(line, "state_dir = ") {
			line, moved = `state_dir = "`+dir+`"`, true
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n"), moved
}

// schemaKey strips array indices: log.sink[1].address -> log.sink.address.
var indexRE = regexp.MustCompile(`\[\d+\]`)

func schemaKey(key string) string { return indexRE.ReplaceAllString(key, "") }

// TestEtcFile keeps etc/vigil.toml true: as shipped it parses and leaves
// every value at its default; with every documented line uncommented it
// still loads (no unknown keys, examples valid), it names every key of the
// schema, and every value it shows outside the examples is the default.
func TestEtcFile(t *testing.T) {
	src, err := os.ReadFile(etcFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	// As shipped, with state_dir moved (it sets nothing else).
	shipped := filepath.Join(dir, "shipped.toml")
	if err := os.WriteFile(shipped, []byte(`state_dir = "`+dir+`"`+"\n"+string(src)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, origins := mustLoad(t, shipped)
	for k, o := range origins {
		if o != OriginDefault && k != "state_dir" {
			t.Errorf("etc/vigil.toml sets %s; it should only document it", k)
		}
	}
	defaults := map[string]string{}
	for _, e := range Show(c) {
		defaults[e.Key] = e.Value
	}

	// Uncommented.
	uncommented, ok := uncomment(string(src), dir)
	if !ok {
		t.Fatal("etc/vigil.toml does not document state_dir")
	}
	full := filepath.Join(dir, "full.toml")
	if err := os.WriteFile(full, []byte(uncommented), 0o600); err != nil {
		t.Fatal(err)
	}
	cf, originsF, err := Load(full)
	if err != nil {
		t.Fatalf("etc/vigil.toml with every documented line uncommented does not load:\n%v", err)
	}

	documented := map[string]bool{}
	for k, o := range originsF {
		if o == OriginFile {
			documented[schemaKey(k)] = true
		}
	}
	schema := Default()
	schema.Log.Sinks = []Sink{{}}
	walk(schema, func(key string, _ fieldInfo, _ any) {
		if !documented[schemaKey(key)] {
			t.Errorf("etc/vigil.toml does not document %s", schemaKey(key))
		}
	})
	if len(cf.Plugins) == 0 {
		t.Error("etc/vigil.toml has no [plugins.<kind>-<name>] example")
	}

	// Outside the examples, every value shown is the default.
	for _, e := range Show(cf) {
		if strings.HasPrefix(e.Key, "log.sink") || strings.HasPrefix(e.Key, "plugins.") {
			continue
		}
		if defaults[e.Key] != e.Value {
			t.Errorf("etc/vigil.toml documents %s = %s, but the default is %s", e.Key, e.Value, defaults[e.Key])
		}
	}

	// The examples the brief promises.
	var syslog, cef30 bool
	for _, s := range cf.Log.Sinks {
		syslog = syslog || s.Type == "syslog"
		cef30 = cef30 || s.Type == "file" && s.Format == "cef" && FormatDuration(s.Retention) == "30d"
	}
	if !syslog || !cef30 || cf.Plugins["storage-s3"] == nil {
		t.Errorf("examples: syslog sink %v, 30-day CEF file sink %v, [plugins.storage-s3] %v", syslog, cef30, cf.Plugins["storage-s3"] != nil)
	}
}
