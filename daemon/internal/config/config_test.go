package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/pathtmpl"
)

// writeConfig writes a configuration file whose first line puts state_dir
// in the test's directory (so no real settings.toml is read): the body
// starts on line 2.
func writeConfig(t *testing.T, body string) (path, dir string) {
	t.Helper()
	dir = t.TempDir()
	path = filepath.Join(dir, "vigil.toml")
	if err := os.WriteFile(path, []byte("state_dir = \"state\"\n"+body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, dir
}

func writeSettings(t *testing.T, dir, body string) string {
	t.Helper()
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(state, SettingsFile)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, path string) (*Config, Origins) {
	t.Helper()
	c, o, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c, o
}

func TestDefaults(t *testing.T) {
	path, dir := writeConfig(t, "")
	c, origins := mustLoad(t, path)
	state := filepath.Join(dir, "state")
	host, _ := os.Hostname()
	want := map[string]string{
		"team":                               `"vigil"`,
		"server_id":                          `"` + host + `"`,
		"state_dir":                          `"` + state + `"`,
		"log_dir":                            `"/var/log/vigil"`,
		"plugin_dir":                         `"/usr/lib/vigil/plugins"`,
		"plugin_health_interval":             `"10s"`,
		"plugin_health_timeout":              `"5s"`,
		"shutdown_grace":                     `"30s"`,
		"log_level":                          `"info"`,
		"ssh.enabled":                        `true`,
		"ssh.listen":                         `"127.0.0.1:2222"`,
		"ssh.host_key":                       `"` + state + `/keys/ssh_host_ed25519_key"`,
		"ssh.banner":                         `"This session is recorded."`,
		"ssh.env_allow":                      `["LANG", "LC_*", "TERM", "TZ"]`,
		"ssh.login_grace":                    `"30s"`,
		"ssh.max_auth_tries":                 `6`,
		"ssh.idle_timeout":                   `"0"`,
		"vnc.enabled":                        `true`,
		"vnc.listen":                         `"127.0.0.1:5900"`,
		"vnc.tls_cert":                       `""`,
		"vnc.tls_key":                        `""`,
		"vnc.login_grace":                    `"1m"`,
		"vnc.idle_timeout":                   `"0"`,
		"wui.enabled":                        `true`,
		"wui.listen":                         `"127.0.0.1:8443"`,
		"wui.tls_cert":                       `""`,
		"wui.tls_key":                        `""`,
		"wui.session_timeout":                `"8h"`,
		"wui.lockout_attempts":               `5`,
		"wui.lockout_duration":               `"15m"`,
		"control.socket":                     `"` + state + `/vigild.sock"`,
		"recording.min_free_bytes":           `"500MB"`,
		"recording.segment_max_bytes":        `"150MB"`,
		"recording.queue_length":             fmt.Sprint(runtime.NumCPU()),
		"recording.upload_location":          `"file://` + state + `/recordings/{username}/{session_id}/{segment}.{ext}"`,
		"recording.storage_key":              `""`,
		"recording.storage_secret":           `""`,
		"recording.allow_http":               `false`,
		"recording.s3_region":                `""`,
		"recording.s3_path_style":            `true`,
		"recording.s3_tls_verify":            `true`,
		"recording.bitrate":                  `1000`,
		"recording.framerate":                `10`,
		"recording.width":                    `1280`,
		"recording.height":                   `720`,
		"recording.thumbnail_every":          `"10s"`,
		"recording.retention":                `"24h"`,
		"recording.record_input":             `false`,
		"recording.checkpoint_interval":      `"1s"`,
		"recording.checkpoint_bytes":         `"1MiB"`,
		"recording.upload_retry_max_backoff": `"5m"`,
		"log.retention":                      `"7d"`,
		"log.sink[0].name":                   `"json-files"`,
		"log.sink[0].type":                   `"file"`,
		"log.sink[0].format":                 `"json"`,
		"log.sink[0].components":             `[]`,
		"log.sink[0].path":                   `"/var/log/vigil/{component}_json.log"`,
		"log.sink[0].retention":              `"7d"`,
		"log.sink[0].max_size":               `"100MB"`,
		"log.sink[0].max_age":                `"24h"`,
		"log.sink[0].transport":              `"tcp"`,
		"log.sink[0].framing":                `"octet"`,
		"log.sink[0].rfc":                    `5424`,
		"log.sink[0].facility":               `"local0"`,
		"log.sink[0].app_name":               `"vigil"`,
		"log.sink[0].udp_oversize":           `"truncate"`,
		"log.sink[0].buffer_max_bytes":       `"256MB"`,
		"log.sink[0].buffer_max_age":         `"7d"`,
		"log.sink[0].espaaa_cef":             `false`,
		"log.sink[0].cef_vendor":             `"Vigil"`,
		"log.sink[0].cef_product":            `"Gateway"`,
	}
	got := map[string]Entry{}
	for _, e := range Show(c) {
		got[e.Key] = e
	}
	for k, v := range want {
		e, ok := got[k]
		if !ok {
			t.Errorf("Show lacks %s", k)
			continue
		}
		if e.Value != v {
			t.Errorf("%s = %s, want %s", k, e.Value, v)
		}
		wantOrigin := OriginDefault
		if k == "state_dir" {
			wantOrigin = OriginFile
		}
		if e.Origin != wantOrigin || origins[k] != wantOrigin {
			t.Errorf("%s origin = %s (Origins: %s), want %s", k, e.Origin, origins[k], wantOrigin)
		}
	}
	if c.Recording.Upload == nil || c.Recording.Upload.Scheme() != "file" || c.Recording.Upload.Root() != state+"/recordings" {
		t.Errorf("Recording.Upload = %v", c.Recording.Upload)
	}
	if c.Path() != path || c.SettingsPath() != filepath.Join(state, SettingsFile) {
		t.Errorf("Path() = %q, SettingsPath() = %q", c.Path(), c.SettingsPath())
	}
	if len(c.PluginConfigJSON()) != 0 {
		t.Errorf("PluginConfigJSON() = %v, want none", c.PluginConfigJSON())
	}
}

// TestInvalid checks that each bad value is reported at its key and line,
// with the whole message in the documented form.
func TestInvalid(t *testing.T) {
	tests := []struct {
		name string
		body string // starts on line 2
		line int
		key  string
		msg  string
		err  error
	}{
		{"negative queue", "[recording]\nqueue_length = -3\n", 3, "recording.queue_length", "must be >= 0, got -3", ErrInvalid},
		{"unknown key", "[wui]\nenabled = true\nlisen = \"x\"\n", 4, "wui.lisen", "did you mean wui.listen?", ErrUnknownKey},
		{"unknown table", "[recordings]\nbitrate = 1\n", 2, "recordings", "did you mean recording?", ErrUnknownKey},
		{"unknown top key", "colour = 1\n", 2, "colour", "", ErrUnknownKey},
		{"team", "team = \"Blue Team\"\n", 2, "team", `got "Blue Team"`, ErrInvalid},
		{"log level", "log_level = \"loud\"\n", 2, "log_level", `must be one of "trace", "debug", "info", "warn", "error", got "loud"`, ErrInvalid},
		{"negative duration", "shutdown_grace = \"-5s\"\n", 2, "shutdown_grace", "must be >= 0, got -5s", ErrInvalid},
		{"bare duration", "shutdown_grace = 30\n", 2, "shutdown_grace", "a bare number is only allowed for 0", ErrInvalid},
		{"bad duration", "shutdown_grace = \"soon\"\n", 2, "shutdown_grace", `bad duration "soon"`, ErrInvalid},
		{"health interval zero", "plugin_health_interval = 0\n", 2, "plugin_health_interval", "must be >= 1ms, got 0", ErrInvalid},
		{"health timeout negative", "plugin_health_timeout = \"-1s\"\n", 2, "plugin_health_timeout", "must be >= 0, got -1s", ErrInvalid},
		{"health timeout = interval", "plugin_health_interval = \"30s\"\nplugin_health_timeout = \"30s\"\n", 3, "plugin_health_timeout",
			"must be shorter than plugin_health_interval (30s), got 30s", ErrInvalid},
		{"health interval below default timeout", "plugin_health_interval = \"2s\"\n", 2, "plugin_health_interval",
			"must be longer than plugin_health_timeout (5s), got 2s", ErrInvalid},
		{"wrong type bool", "[ssh]\nenabled = \"yes\"\n", 3, "ssh.enabled", `must be true or false, got string "yes"`, ErrInvalid},
		{"wrong type int", "[ssh]\nmax_auth_tries = 1.5\n", 3, "ssh.max_auth_tries", "must be an integer, got float 1.5", ErrInvalid},
		{"wrong type list", "[ssh]\nenv_allow = \"LANG\"\n", 3, "ssh.env_allow", "must be a list of strings", ErrInvalid},
		{"list item", "[ssh]\nenv_allow = [\"LANG\", 3]\n", 3, "ssh.env_allow", "item 2 is integer 3", ErrInvalid},
		{"table as value", "ssh = 5\n", 2, "ssh", "must be a table, got integer 5", ErrInvalid},
		{"listen", "[ssh]\n\nlisten = \"nope\"\n", 4, "ssh.listen", `must be host:port, got "nope"`, ErrInvalid},
		{"port", "[vnc]\nlisten = \"0.0.0.0:99999\"\n", 3, "vnc.listen", "port must be 1-65535", ErrInvalid},
		{"listen clash", "[wui]\nlisten = \"127.0.0.1:2222\"\n", 3, "wui.listen", "127.0.0.1:2222 is already used by ssh.listen", ErrInvalid},
		{"auth tries", "[ssh]\nmax_auth_tries = 0\n", 3, "ssh.max_auth_tries", "must be between 1 and 100, got 0", ErrInvalid},
		{"env pattern", "[ssh]\nenv_allow = [\"A B\"]\n", 3, "ssh.env_allow", `item 1: "A B"`, ErrInvalid},
		{"tls pair", "[vnc]\ntls_cert = \"/c.pem\"\n", 3, "vnc.tls_cert", "needs vnc.tls_key as well", ErrInvalid},
		{"relative socket in code", "[wui]\nsession_timeout = \"10s\"\n", 3, "wui.session_timeout", "must be >= 1m, got 10s", ErrInvalid},
		{"lockout", "[wui]\nlockout_attempts = -1\n", 3, "wui.lockout_attempts", "must be >= 0, got -1", ErrInvalid},
		{"size unit", "[recording]\nsegment_max_bytes = \"5XB\"\n", 3, "recording.segment_max_bytes", `unknown unit "XB"`, ErrInvalid},
		{"size negative", "[recording]\nmin_free_bytes = -1\n", 3, "recording.min_free_bytes", "must be >= 0, got -1", ErrInvalid},
		{"size small", "[recording]\nsegment_max_bytes = 1000\n", 3, "recording.segment_max_bytes", "must be >= 1MiB, got 1KB", ErrInvalid},
		{"checkpoint", "[recording]\ncheckpoint_bytes = \"200MB\"\n", 3, "recording.checkpoint_bytes", "must be <= recording.segment_max_bytes (150MB), got 200MB", ErrInvalid},
		{"unknown variable", "[recording]\nupload_location = \"s3://b/{user}/{session_id}/{segment}.{ext}\"\n", 3, "recording.upload_location", "unknown variable {user}", pathtmpl.ErrUnknownVariable},
		{"unclosed brace", "[recording]\nupload_location = \"s3://b/{session_id\"\n", 3, "recording.upload_location", "unclosed {", pathtmpl.ErrBrace},
		{"empty bucket", "[recording]\nupload_location = \"s3:///{session_id}/{segment}.{ext}\"\n", 3, "recording.upload_location", "empty bucket", pathtmpl.ErrBucket},
		{"scheme", "[recording]\nupload_location = \"ftp://h/{session_id}/{segment}.{ext}\"\n", 3, "recording.upload_location", `unsupported scheme "ftp"`, pathtmpl.ErrScheme},
		{"needs vars", "[recording]\nupload_location = \"s3://b/{session_id}.mp4\"\n", 3, "recording.upload_location", "must use {segment}, {ext}", ErrInvalid},
		{"plain http", "[recording]\nupload_location = \"s3://b@http://minio:9000/{session_id}/{segment}.{ext}\"\n", 3, "recording.upload_location", "set recording.allow_http = true", pathtmpl.ErrPlainHTTP},
		{"storage pair", "[recording]\nstorage_key = \"AKIA\"\n", 3, "recording.storage_key", "needs recording.storage_secret", ErrInvalid},
		{"odd width", "[recording]\nwidth = 1281\n", 3, "recording.width", "must be even", ErrInvalid},
		{"framerate", "[recording]\nframerate = 0\n", 3, "recording.framerate", "must be between 1 and 60, got 0", ErrInvalid},
		{"dotted key", "recording.bitrate = 0\n", 2, "recording.bitrate", "must be between 1 and 100000, got 0", ErrInvalid},
		{"log retention", "[log]\nretention = \"10m\"\n", 3, "log.retention", "must be >= 1h", ErrInvalid},
		{"sink as table", "[log.sink]\nname = \"a\"\n", 2, "log.sink", "must be an array of tables ([[log.sink]])", ErrInvalid},
		{"sink name missing", "[[log.sink]]\ntype = \"file\"\n", 2, "log.sink[0].name", "is required", ErrInvalid},
		{"sink name", "[[log.sink]]\nname = \"My Sink\"\ntype = \"file\"\n", 3, "log.sink[0].name", `got "My Sink"`, ErrInvalid},
		{"sink type missing", "[[log.sink]]\nname = \"a\"\n", 2, "log.sink[0].type", `is required: "file", "syslog"`, ErrInvalid},
		{"sink type", "[[log.sink]]\nname = \"a\"\ntype = \"kafka\"\n", 4, "log.sink[0].type", `got "kafka"`, ErrInvalid},
		{"sink format", "[[log.sink]]\nname = \"a\"\ntype = \"file\"\nformat = \"xml\"\n", 5, "log.sink[0].format", `got "xml"`, ErrInvalid},
		{"sink dup", "[[log.sink]]\nname = \"a\"\ntype = \"file\"\n[[log.sink]]\nname = \"a\"\ntype = \"file\"\n", 6, "log.sink[1].name", `"a" is already the name of log.sink[0]`, ErrInvalid},
		{"sink unknown key", "[[log.sink]]\nname = \"a\"\ntype = \"file\"\n\n[[log.sink]]\nname = \"b\"\ntype = \"file\"\npth = \"b.log\"\n", 9, "log.sink[1].pth", "did you mean log.sink[1].path?", ErrUnknownKey},
		{"address on file sink", "[[log.sink]]\nname = \"a\"\ntype = \"file\"\naddress = \"h:514\"\n", 5, "log.sink[0].address", `only applies to type = "syslog"`, ErrInvalid},
		{"path on syslog sink", "[[log.sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"h:514\"\npath = \"x.log\"\n", 6, "log.sink[0].path", `only applies to type = "file"`, ErrInvalid},
		{"syslog address", "[[log.sink]]\nname = \"a\"\ntype = \"syslog\"\n", 2, "log.sink[0].address", "is required for syslog sinks", ErrInvalid},
		{"syslog bad address", "[[log.sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"siem\"\n", 5, "log.sink[0].address", `must be host:port, got "siem"`, ErrInvalid},
		{"framing on udp", "[[log.sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"h:514\"\ntransport = \"udp\"\nframing = \"lf\"\n", 7, "log.sink[0].framing", `only applies to transport = "tcp" or "tls"`, ErrInvalid},
		{"tls key on tcp", "[[log.sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"h:514\"\ntls_ca = \"/ca.pem\"\n", 6, "log.sink[0].tls_ca", `only applies to transport = "tls"`, ErrInvalid},
		{"udp size on tcp", "[[log.sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"h:514\"\nudp_max_size = 1024\n", 6, "log.sink[0].udp_max_size", `only applies to transport = "udp"`, ErrInvalid},
		{"udp size 3164", "[[log.sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"h:514\"\ntransport = \"udp\"\nrfc = 3164\nudp_max_size = 2000\n", 8, "log.sink[0].udp_max_size", "must be between 480 and 1024, got 2000", ErrInvalid},
		{"rfc", "[[log.sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"h:514\"\nrfc = 5425\n", 6, "log.sink[0].rfc", "must be 5424 or 3164, got 5425", ErrInvalid},
		{"facility", "[[log.sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"h:514\"\nfacility = \"local9\"\n", 6, "log.sink[0].facility", `got "local9"`, ErrInvalid},
		{"app name", "[[log.sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"h:514\"\napp_name = \"my app\"\n", 6, "log.sink[0].app_name", "printable ASCII", ErrInvalid},
		{"tls pair sink", "[[log.sink]]\nname = \"a\"\ntype = \"syslog\"\naddress = \"h:6514\"\ntransport = \"tls\"\ntls_key = \"/k.pem\"\n", 7, "log.sink[0].tls_key", "needs tls_cert as well", ErrInvalid},
		{"cef vendor on json", "[[log.sink]]\nname = \"a\"\ntype = \"file\"\ncef_vendor = \"X\"\n", 5, "log.sink[0].cef_vendor", "only applies to CEF output", ErrInvalid},
		{"espaaa_cef on cef", "[[log.sink]]\nname = \"a\"\ntype = \"file\"\nformat = \"cef\"\nespaaa_cef = true\n", 6, "log.sink[0].espaaa_cef", `only applies to format = "espaaa"`, ErrInvalid},
		{"sink path variable", "[[log.sink]]\nname = \"a\"\ntype = \"file\"\npath = \"{date}.log\"\n", 5, "log.sink[0].path", "the only variable a sink path may use is {component}", ErrInvalid},
		{"component", "[[log.sink]]\nname = \"a\"\ntype = \"file\"\ncomponents = [\"ssh\", \"ssh\"]\n", 5, "log.sink[0].components", `item 2: "ssh" is listed twice`, ErrInvalid},
		{"inline sink", "[log]\nsink = [{name = \"a\", type = \"file\", max_sise = 1}]\n", 3, "log.sink[0].max_sise", "did you mean log.sink[0].max_size?", ErrUnknownKey},
		{"plugin name", "[plugins.storage]\nbucket = \"b\"\n", 2, "plugins.storage", "plugin tables are named [plugins.<kind>-<name>]", ErrInvalid},
		{"plugin kind", "[plugins.transport-s3]\nbucket = \"b\"\n", 2, "plugins.transport-s3", `kind "recorder", "storage", "logformat"`, ErrInvalid},
		{"plugin nan", "[plugins.storage-s3]\nratio = nan\n", 2, "plugins.storage-s3", "cannot be passed to the plugin as JSON", ErrInvalid},
		{"plugin not table", "[plugins]\nstorage-s3 = 1\n", 3, "plugins.storage-s3", "must be a table, got integer 1", ErrInvalid},
		{"relative path in file is fine", "[wui]\ntls_cert = \"c.pem\"\n", 3, "wui.tls_cert", "needs wui.tls_key as well", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := writeConfig(t, tt.body)
			_, _, err := Load(path)
			var list Errors
			if !errors.As(err, &list) {
				t.Fatalf("Load = %v, want Errors", err)
			}
			if len(list) != 1 {
				t.Errorf("want exactly one issue, got:\n%v", err)
			}
			is := list[0]
			if is.File != path || is.Line != tt.line || is.Key != tt.key || !strings.Contains(is.Msg, tt.msg) {
				t.Fatalf("got %s:%d %s %q; want %s:%d %s %q", is.File, is.Line, is.Key, is.Msg, path, tt.line, tt.key, tt.msg)
			}
			want := fmt.Sprintf("config: %s:%d: %s: %s", path, tt.line, tt.key, is.Msg)
			if tt.err == ErrUnknownKey {
				want = fmt.Sprintf("config: %s:%d: unknown key %s", path, tt.line, tt.key)
				if is.Msg != "" {
					want += " (" + is.Msg + ")"
				}
			}
			if err.Error() != want {
				t.Errorf("message\n got %s\nwant %s", err, want)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.err)
			}
			if t.Failed() {
				t.Logf("config:\n%s", tt.body)
			}
		})
	}
}

func TestBriefExample(t *testing.T) {
	path, _ := writeConfig(t, strings.Repeat("\n", 9)+"[recording]\nqueue_length = -3\n")
	_, _, err := Load(path)
	want := "config: " + path + ":12: recording.queue_length: must be >= 0, got -3"
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v, want %s", err, want)
	}
}

func TestAllErrorsCollected(t *testing.T) {
	body := `team = "A"
[ssh]
max_auth_tries = 0
lisen = "x"
[recording]
queue_length = -3
width = "wide"
[[log.sink]]
name = "s"
type = "syslog"
`
	path, _ := writeConfig(t, body)
	_, _, err := Load(path)
	var list Errors
	if !errors.As(err, &list) {
		t.Fatalf("Load = %v", err)
	}
	want := []string{
		path + ":2: team: ",
		path + ":4: ssh.max_auth_tries: ",
		path + ":5: unknown key ssh.lisen",
		path + ":7: recording.queue_length: ",
		path + ":8: recording.width: must be an integer",
		path + ":9: log.sink[0].address: is required",
	}
	if len(list) != len(want) {
		t.Fatalf("got %d issues, want %d:\n%v", len(list), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(list[i].Error(), w) {
			t.Errorf("issue %d = %q, want it to contain %q", i, list[i], w)
		}
	}
	if !errors.Is(err, ErrUnknownKey) || !errors.Is(err, ErrInvalid) {
		t.Errorf("errors.Is should find both ErrUnknownKey and ErrInvalid in %v", err)
	}
}

func TestSyntaxError(t *testing.T) {
	path, _ := writeConfig(t, "[ssh]\nlisten = \"127.0.0.1:22\n")
	_, _, err := Load(path)
	if !errors.Is(err, ErrSyntax) {
		t.Fatalf("Load = %v, want ErrSyntax", err)
	}
	var list Errors
	errors.As(err, &list)
	if len(list) != 1 || list[0].Line != 3 || list[0].Col == 0 {
		t.Fatalf("issues = %+v", list)
	}
	if want := fmt.Sprintf("config: %s:3:%d: syntax error: ", path, list[0].Col); !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q, want prefix %q", err, want)
	}
	if _, _, err := Load(filepath.Join(t.TempDir(), "missing.toml")); err == nil || !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("missing file: %v", err)
	}
}

func TestRelativePaths(t *testing.T) {
	body := `log_dir = "logs"
plugin_dir = "../plugins"
[ssh]
host_key = "keys/host"
[wui]
tls_cert = "certs/wui.pem"
tls_key = "/abs/wui.key"
[[log.sink]]
name = "cef"
type = "file"
format = "cef"
path = "cef/{component}.cef"
[[log.sink]]
name = "siem"
type = "syslog"
address = "siem:6514"
transport = "tls"
tls_ca = "ca.pem"
[[log.sink]]
name = "abs"
type = "file"
path = "/var/abs.log"
`
	path, dir := writeConfig(t, body)
	writeSettings(t, dir, "[vnc]\ntls_cert = \"vnc.pem\"\ntls_key = \"vnc.key\"\n")
	c, _ := mustLoad(t, path)
	state := filepath.Join(dir, "state")
	tests := []struct{ name, got, want string }{
		{"state_dir", c.StateDir, state},
		{"log_dir", c.LogDir, filepath.Join(dir, "logs")},
		{"plugin_dir", c.PluginDir, filepath.Join(filepath.Dir(dir), "plugins")},
		{"ssh.host_key", c.SSH.HostKey, filepath.Join(dir, "keys/host")},
		{"wui.tls_cert", c.WUI.TLSCert, filepath.Join(dir, "certs/wui.pem")},
		{"wui.tls_key", c.WUI.TLSKey, "/abs/wui.key"},
		{"vnc.tls_cert (settings: state_dir)", c.VNC.TLSCert, filepath.Join(state, "vnc.pem")},
		{"vnc.tls_key (settings: state_dir)", c.VNC.TLSKey, filepath.Join(state, "vnc.key")},
		{"control.socket", c.Control.Socket, filepath.Join(state, "vigild.sock")},
		{"sink path (log_dir)", c.Log.Sinks[0].Path, filepath.Join(dir, "logs/cef/{component}.cef")},
		{"sink tls_ca", c.Log.Sinks[1].TLSCA, filepath.Join(dir, "ca.pem")},
		{"sink absolute path", c.Log.Sinks[2].Path, "/var/abs.log"},
		{"default sink path", c.Log.Sinks[2].Name + ":" + c.Log.Sinks[0].Name, "abs:cef"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}

	// A relative path to the file itself works from the working directory.
	t.Chdir(dir)
	c2, _ := mustLoad(t, "vigil.toml")
	if c2.StateDir != state {
		t.Errorf("state_dir from a relative config path = %q, want %q", c2.StateDir, state)
	}
}

func TestSinkDefaults(t *testing.T) {
	body := `[[log.sink]]
name = "cef-files"
type = "file"
format = "cef"
[[log.sink]]
name = "udp5424"
type = "syslog"
address = "h:514"
transport = "udp"
[[log.sink]]
name = "udp3164"
type = "syslog"
address = "h:514"
transport = "udp"
rfc = 3164
`
	path, _ := writeConfig(t, body)
	c, o := mustLoad(t, path)
	s := c.Log.Sinks
	if len(s) != 3 {
		t.Fatalf("sinks = %d", len(s))
	}
	if s[0].Path != "/var/log/vigil/cef-files.log" || s[0].Retention != 7*24*time.Hour || s[0].MaxSize != 100*MB {
		t.Errorf("file sink defaults: %+v", s[0])
	}
	if s[1].UDPMaxSize != 2048 || s[2].UDPMaxSize != 1024 || s[1].Framing != "octet" || s[1].Facility != "local0" {
		t.Errorf("syslog sink defaults: %+v / %+v", s[1], s[2])
	}
	if o["log.sink[0].name"] != OriginFile || o["log.sink[0].retention"] != OriginDefault || o["log.sink[2].rfc"] != OriginFile {
		t.Errorf("sink origins: %v", o)
	}
}

func TestPluginConfigJSON(t *testing.T) {
	body := `[plugins.storage-s3]
part_size = "16MiB"
max_concurrency = 4
tags = ["a", "b"]
[plugins.storage-s3.sse]
kind = "AES256"
[plugins.recorder-vnc]
[plugins.storage-local.empty]
`
	path, _ := writeConfig(t, body)
	c, _ := mustLoad(t, path)
	got := c.PluginConfigJSON()
	shown := map[string]string{}
	for _, e := range Show(c) {
		shown[e.Key] = e.Value
	}
	if shown["plugins.recorder-vnc"] != "{}" || shown["plugins.storage-local.empty"] != "{}" || shown["plugins.storage-s3.sse.kind"] != `"AES256"` {
		t.Errorf("Show of plugin tables: %v", shown)
	}
	want := map[string]string{
		"storage-s3":    `{"max_concurrency":4,"part_size":"16MiB","sse":{"kind":"AES256"},"tags":["a","b"]}`,
		"recorder-vnc":  `{}`,
		"storage-local": `{"empty":{}}`,
	}
	if len(got) != len(want) {
		t.Fatalf("PluginConfigJSON = %v", got)
	}
	for k, v := range want {
		if string(got[k]) != v {
			t.Errorf("%s = %s, want %s", k, got[k], v)
		}
	}
}

func TestCheckAndSetDefaultsInCode(t *testing.T) {
	c := Default()
	c.StateDir = "/srv/vigil"
	c.Recording.QueueLength = 3
	if err := c.CheckAndSetDefaults(); err != nil {
		t.Fatal(err)
	}
	if c.SSH.HostKey != "/srv/vigil/keys/ssh_host_ed25519_key" || c.Recording.QueueLength != 3 || len(c.Log.Sinks) != 1 {
		t.Errorf("derived defaults: host_key=%q queue=%d sinks=%d", c.SSH.HostKey, c.Recording.QueueLength, len(c.Log.Sinks))
	}
	if err := c.CheckAndSetDefaults(); err != nil {
		t.Errorf("second CheckAndSetDefaults: %v", err)
	}
	c.LogDir = "relative"
	c.Recording.Framerate = 0
	err := c.CheckAndSetDefaults()
	if err == nil || !strings.Contains(err.Error(), `config: log_dir: must be an absolute path, got "relative"`) ||
		!strings.Contains(err.Error(), "config: recording.framerate: must be between 1 and 60, got 0") {
		t.Errorf("CheckAndSetDefaults = %v", err)
	}
}
