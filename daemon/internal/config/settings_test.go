package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSaveSettingsRejects(t *testing.T) {
	tests := []struct {
		name    string
		changes map[string]any
		want    FieldErrors // key -> substring of the message
	}{
		{"range", map[string]any{"recording.bitrate": -1}, FieldErrors{"recording.bitrate": "must be between 1 and 100000, got -1"}},
		{"not a number", map[string]any{"recording.width": "wide"}, FieldErrors{"recording.width": `must be an integer, got "wide"`}},
		{"odd", map[string]any{"recording.width": "1281"}, FieldErrors{"recording.width": "must be even"}},
		{"fixed", map[string]any{"state_dir": "/x", "plugin_dir": "/y", "control.socket": "/z"}, FieldErrors{
			"state_dir": "may only be set in the configuration file", "plugin_dir": "may only be set", "control.socket": "may only be set",
		}},
		{"unknown", map[string]any{"wui.lisen": "x", "log.sink[0].name": "x", "recording": 5}, FieldErrors{
			"wui.lisen": "unknown key", "log.sink[0].name": "unknown key", "recording": "must be a table",
		}},
		{"all at once", map[string]any{"state_dir": "/x", "recording.bitrate": 0, "wui.lisen": 1}, FieldErrors{
			"state_dir": "may only be set", "recording.bitrate": "must be between 1 and 100000, got 0", "wui.lisen": "unknown key",
		}},
		{"template", map[string]any{"recording.upload_location": "s3://b/{user}/{session_id}/{segment}.{ext}"}, FieldErrors{
			"recording.upload_location": "unknown variable {user}",
		}},
		{"cross field", map[string]any{"recording.storage_key": "AKIA"}, FieldErrors{"recording.storage_key": "needs recording.storage_secret"}},
		{"duration", map[string]any{"wui.session_timeout": "forever"}, FieldErrors{"wui.session_timeout": `bad duration "forever"`}},
		{"bool", map[string]any{"recording.allow_http": "maybe"}, FieldErrors{"recording.allow_http": `must be true or false, got "maybe"`}},
		{"sink list", map[string]any{"log.sink": []map[string]any{{"name": "s", "type": "syslog"}}}, FieldErrors{
			"log.sink": "log.sink[0].address: is required",
		}},
		{"plugin name", map[string]any{"plugins.storage": map[string]any{"a": 1}}, FieldErrors{"plugins.storage": "plugin tables are named"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := t.TempDir()
			err := SaveSettings(state, tt.changes)
			var fe FieldErrors
			if !errors.As(err, &fe) {
				t.Fatalf("SaveSettings = %v, want FieldErrors", err)
			}
			if len(fe) != len(tt.want) {
				t.Errorf("field errors = %v, want keys of %v", fe, tt.want)
			}
			for k, sub := range tt.want {
				if !strings.Contains(fe[k], sub) {
					t.Errorf("field %s: %q, want it to contain %q", k, fe[k], sub)
				}
			}
			if !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "config: settings: ") {
				t.Errorf("error %q: want ErrInvalid and the component prefix", err)
			}
			if _, err := os.Stat(filepath.Join(state, SettingsFile)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("settings written despite errors: %v", err)
			}
		})
	}
}

func TestSaveSettingsWrites(t *testing.T) {
	path, dir := writeConfig(t, "[recording]\nframerate = 12\n")
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	c, _ := mustLoad(t, path)
	err := c.SaveSettings(map[string]any{
		"recording.bitrate":         "2500",
		"recording.record_input":    "true",
		"wui.session_timeout":       2 * time.Hour,
		"recording.min_free_bytes":  GB,
		"ssh.env_allow":             "LANG, TERM",
		"recording.storage_key":     "AKIA",
		"recording.storage_secret":  "secret",
		"recording.upload_location": "s3://rec@minio.lan:9000/{username}/{session_id}/{segment}.{ext}",
		"plugins.storage-s3.part":   16,
		"log.sink": []any{
			map[string]any{"name": "siem", "type": "syslog", "address": "siem:514", "rfc": "3164", "transport": "udp"},
		},
	})
	if err != nil {
		t.Fatalf("SaveSettings: %v", err)
	}
	name := filepath.Join(state, SettingsFile)
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("settings mode = %v, want 0600", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(state)
	if len(entries) != 1 {
		t.Errorf("state dir holds %d entries, want only settings.toml (no temp files)", len(entries))
	}

	c, o := mustLoad(t, path)
	if c.Recording.Bitrate != 2500 || !c.Recording.RecordInput || c.WUI.SessionTimeout != 2*time.Hour ||
		c.Recording.MinFreeBytes != GB || strings.Join(c.SSH.EnvAllow, ",") != "LANG,TERM" ||
		c.Recording.Upload.Endpoint() != "minio.lan:9000" || c.Log.Sinks[0].RFC != 3164 || c.Log.Sinks[0].UDPMaxSize != 1024 {
		t.Errorf("saved values not effective: %+v", c.Recording)
	}
	for _, k := range []string{"recording.bitrate", "wui.session_timeout", "log.sink[0].name", "plugins.storage-s3.part"} {
		if o[k] != OriginSettings {
			t.Errorf("origin of %s = %s, want settings", k, o[k])
		}
	}
	if o["recording.framerate"] != OriginFile {
		t.Errorf("framerate origin = %s", o["recording.framerate"])
	}

	// A second save keeps what the first wrote; nil removes a key.
	if err := c.SaveSettings(map[string]any{"recording.bitrate": nil, "recording.width": 1920, "recording.height": int32(1080)}); err != nil {
		t.Fatalf("second SaveSettings: %v", err)
	}
	c, o = mustLoad(t, path)
	if c.Recording.Bitrate != 1000 || o["recording.bitrate"] != OriginDefault || c.Recording.Width != 1920 ||
		c.Recording.Height != 1080 || !c.Recording.RecordInput {
		t.Errorf("after second save: bitrate %d (%s), width %d, record_input %v", c.Recording.Bitrate, o["recording.bitrate"], c.Recording.Width, c.Recording.RecordInput)
	}
	data, _ := os.ReadFile(name)
	if strings.Contains(string(data), "bitrate") {
		t.Errorf("removed key still in the file:\n%s", data)
	}
}

// TestSaveSettingsChecksAgainstFile: the method checks the overlay over the
// configuration file, so a change that only breaks together with a value
// of the file is refused.
func TestSaveSettingsChecksAgainstFile(t *testing.T) {
	body := "[recording]\nallow_http = true\nupload_location = \"s3://b@http://minio:9000/{session_id}/{segment}.{ext}\"\n"
	path, dir := writeConfig(t, body)
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	c, _ := mustLoad(t, path)
	err := c.SaveSettings(map[string]any{"recording.allow_http": false})
	var fe FieldErrors
	if !errors.As(err, &fe) || !strings.Contains(fe["recording.upload_location"], "plain HTTP") {
		t.Fatalf("SaveSettings = %v, want a field error on recording.upload_location", err)
	}
	if _, err := os.Stat(c.SettingsPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("settings written despite errors")
	}
}

func TestSaveSettingsBadStateDir(t *testing.T) {
	if err := SaveSettings("relative", map[string]any{"recording.bitrate": 1}); err == nil || errors.As(err, new(FieldErrors)) {
		t.Errorf("relative state dir: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if err := SaveSettings(missing, map[string]any{"recording.bitrate": 1}); err == nil || !strings.HasPrefix(err.Error(), "config: settings: ") {
		t.Errorf("missing state dir: %v", err)
	}
	state := t.TempDir()
	if err := os.WriteFile(filepath.Join(state, SettingsFile), []byte("[broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := SaveSettings(state, map[string]any{"recording.bitrate": 1}); err == nil || errors.As(err, new(FieldErrors)) {
		t.Errorf("broken settings file: %v", err)
	}
}
