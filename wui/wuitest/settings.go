package wuitest

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/vigilgw/vigil/wui"
)

// demoSinks are the log sinks the fake shows, as the settings page edits
// them: [[log.sink]] tables.
const demoSinks = `[[log.sink]]
name = "json"
type = "file"
format = "json"
path = "{component}_json.log"

[[log.sink]]
name = "siem"
type = "syslog"
format = "cef"
address = "siem.example.net:6514"
transport = "tls"
rfc = 5424`

func (f *Fake) seedSettings() {
	f.settings = []wui.Setting{
		{Key: "recording.storage_key", Value: "AKIAVIGILDEMO", Origin: "settings.toml"},
		{Key: "recording.storage_secret", Secret: true, IsSet: true, Origin: "settings.toml"},
		{Key: "recording.upload_location", Value: "s3://recordings@s3.example.net/vigil/{username}/{start_date}/{session_id}", Origin: "settings.toml"},
		{Key: "recording.bitrate", Value: "1200", Origin: "default"},
		{Key: "recording.framerate", Value: "12", Origin: "default"},
		{Key: "recording.width", Value: "1280", Origin: "default"},
		{Key: "recording.height", Value: "720", Origin: "default"},
		{Key: "recording.retention", Value: "168h", Origin: "vigil.toml"},
		{Key: "recording.queue_length", Value: "4", Origin: "default"},
		{Key: "recording.segment_max_bytes", Value: "157286400", Origin: "default"},
		{Key: "recording.min_free_bytes", Value: "524288000", Origin: "default"},
		{Key: "log.retention", Value: "168h", Origin: "default"},
		{Key: wui.SinksKey, Value: demoSinks, Origin: "vigil.toml"},
	}
	f.secrets["recording.storage_secret"] = "demo-secret-never-shown"
}

func (f *Fake) Settings(context.Context) ([]wui.Setting, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]wui.Setting(nil), f.settings...), nil
}

// SecretSetting returns a stored secret, for tests that check it was
// saved yet never shown.
func (f *Fake) SecretSetting(key string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.secrets[key]
}

// SaveSettings validates every change first and applies all or none.
func (f *Fake) SaveSettings(_ context.Context, changes map[string]string, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fe := wui.FieldErrors{}
	index := map[string]int{}
	for i, s := range f.settings {
		index[s.Key] = i
	}
	for k, v := range changes {
		if _, ok := index[k]; !ok {
			fe[k] = "unknown setting"
			continue
		}
		if msg := validSetting(k, v); msg != "" {
			fe[k] = msg
		}
	}
	if len(fe) > 0 {
		return fe
	}
	for k, v := range changes {
		s := &f.settings[index[k]]
		s.Origin = "settings.toml"
		if s.Secret {
			f.secrets[k], s.IsSet = v, v != ""
			continue
		}
		s.Value = v
	}
	return nil
}

func validSetting(key, v string) string {
	switch key {
	case "recording.bitrate", "recording.framerate", "recording.width", "recording.height", "recording.queue_length",
		"recording.segment_max_bytes", "recording.min_free_bytes":
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n <= 0 {
			return "must be a positive whole number"
		}
	case "recording.retention", "log.retention":
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			return "must be a duration such as 168h"
		}
	case "recording.upload_location":
		if !strings.HasPrefix(v, "s3://") && !strings.HasPrefix(v, "file://") {
			return "must start with s3:// or file://"
		}
	case wui.SinksKey:
		if v != "" && !strings.HasPrefix(v, "[[log.sink]]") {
			return "must be [[log.sink]] tables"
		}
	}
	return ""
}

// Status reports a plausible appliance.
func (f *Fake) Status(context.Context) (wui.StatusInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return wui.StatusInfo{
		Version: "0.9.0-demo", StartedAt: f.started, Hostname: "vigil-gw1.example.net",
		CPUs: 4, CPUPercent: 37.5, MemTotal: 16 << 30, MemUsed: 6<<30 + 400<<20,
		Disks: []wui.DiskUsage{
			{Name: "spool", Path: "/var/lib/vigil/spool", Total: 200 << 30, Free: 112 << 30},
			{Name: "state", Path: "/var/lib/vigil", Total: 200 << 30, Free: 112 << 30},
			{Name: "logs", Path: "/var/log/vigil", Total: 40 << 30, Free: 3 << 30},
		},
		Plugins: []wui.PluginHealth{
			{Name: "vigil-plugin-recorder-ssh", Kind: "recorder", Version: "0.9.0", Healthy: true},
			{Name: "vigil-plugin-recorder-vnc", Kind: "recorder", Version: "0.9.0", Healthy: true, Restarts: 1},
			{Name: "vigil-plugin-storage-s3", Kind: "storage", Version: "0.9.0", Healthy: false, Detail: "endpoint s3.example.net: connection refused; retrying in 30s", Restarts: 3},
			{Name: "vigil-plugin-logformat-cef", Kind: "logformat", Version: "0.9.0", Healthy: true},
		},
		Queues: []wui.QueueDepth{
			{Name: "encode", Waiting: 3, Running: 2, Capacity: 4},
			{Name: "upload", Waiting: 17, Running: 1, Capacity: 2},
			{Name: "events", Waiting: 0, Running: 0},
		},
	}, nil
}
