package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestOverlayOrigins(t *testing.T) {
	body := `[wui]
session_timeout = "4h"
[recording]
bitrate = 2000
[[log.sink]]
name = "from-file"
type = "file"
[plugins.storage-s3]
part_size = "16MiB"
region_hint = "eu"
`
	path, dir := writeConfig(t, body)
	writeSettings(t, dir, `[recording]
bitrate = 3000
framerate = 15
[plugins.storage-s3]
region_hint = "us"
`)
	c, o := mustLoad(t, path)
	tests := []struct {
		key    string
		origin Origin
		value  string
	}{
		{"state_dir", OriginFile, ""},
		{"wui.session_timeout", OriginFile, `"4h"`},
		{"recording.bitrate", OriginSettings, "3000"},
		{"recording.framerate", OriginSettings, "15"},
		{"recording.width", OriginDefault, "1280"},
		{"log.sink[0].name", OriginFile, `"from-file"`},
		{"log.sink[0].retention", OriginDefault, `"7d"`},
		{"plugins.storage-s3.part_size", OriginFile, `"16MiB"`},
		{"plugins.storage-s3.region_hint", OriginSettings, `"us"`},
	}
	shown := map[string]Entry{}
	for _, e := range Show(c) {
		shown[e.Key] = e
	}
	for _, tt := range tests {
		if o[tt.key] != tt.origin {
			t.Errorf("origin of %s = %q, want %q", tt.key, o[tt.key], tt.origin)
		}
		if e := shown[tt.key]; e.Origin != tt.origin || (tt.value != "" && e.Value != tt.value) {
			t.Errorf("Show %s = %+v, want %s from %s", tt.key, e, tt.value, tt.origin)
		}
	}
	if c.Recording.Bitrate != 3000 || c.WUI.SessionTimeout != 4*time.Hour {
		t.Errorf("effective values: bitrate %d, session_timeout %v", c.Recording.Bitrate, c.WUI.SessionTimeout)
	}
	// Every key Show lists has an origin, and Origins lists nothing else.
	for _, e := range Show(c) {
		if _, ok := o[e.Key]; !ok {
			t.Errorf("%s has no origin", e.Key)
		}
	}
	if len(Show(c)) != len(o) {
		t.Errorf("Show lists %d keys, Origins %d", len(Show(c)), len(o))
	}
}

func TestOverlayReplacesSinks(t *testing.T) {
	body := "[[log.sink]]\nname = \"a\"\ntype = \"file\"\n[[log.sink]]\nname = \"b\"\ntype = \"file\"\n"
	path, dir := writeConfig(t, body)
	writeSettings(t, dir, "[[log.sink]]\nname = \"c\"\ntype = \"syslog\"\naddress = \"h:514\"\n")
	c, o := mustLoad(t, path)
	if len(c.Log.Sinks) != 1 || c.Log.Sinks[0].Name != "c" {
		t.Fatalf("sinks = %+v", c.Log.Sinks)
	}
	if o["log.sink[0].name"] != OriginSettings || o["log.sink[0].transport"] != OriginDefault {
		t.Errorf("origins: name %s, transport %s", o["log.sink[0].name"], o["log.sink[0].transport"])
	}
	if _, ok := o["log.sink[1].name"]; ok {
		t.Error("origin of the replaced second sink remains")
	}
}

func TestOverlayNotSettable(t *testing.T) {
	tests := []struct {
		settings string
		line     int
		key      string
	}{
		{"state_dir = \"/elsewhere\"\n", 1, "state_dir"},
		{"\nplugin_dir = \"/tmp/evil\"\n", 2, "plugin_dir"},
		{"[control]\nsocket = \"/tmp/s.sock\"\n", 2, "control.socket"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			path, dir := writeConfig(t, "")
			spath := writeSettings(t, dir, tt.settings)
			_, _, err := Load(path)
			if !errors.Is(err, ErrNotSettable) {
				t.Fatalf("Load = %v, want ErrNotSettable", err)
			}
			want := fmt.Sprintf("config: %s:%d: %s: may only be set in the configuration file, not in settings.toml", spath, tt.line, tt.key)
			if err.Error() != want {
				t.Errorf("got  %s\nwant %s", err, want)
			}
		})
	}
}

func TestOverlayErrorsNameSettingsFile(t *testing.T) {
	path, dir := writeConfig(t, "[recording]\nqueue_length = -1\n")
	spath := writeSettings(t, dir, "[recording]\nbitrate = 0\n")
	_, _, err := Load(path)
	if err == nil {
		t.Fatal("Load succeeded")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		"config: " + path + ":3: recording.queue_length: must be >= 0, got -1",
		"config: " + spath + ":2: recording.bitrate: must be between 1 and 100000, got 0",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", err, strings.Join(want, "\n"))
	}

	writeSettings(t, dir, "[recording\n")
	_, _, err = Load(path)
	if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), spath+":2:11: syntax error: ") {
		t.Errorf("settings syntax error: %v", err)
	}
}
