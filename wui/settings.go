package wui

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/valyala/fasthttp"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// settingField is how the settings page presents one setting key. The
// page shows the settings the backend returns, in this order; a key not
// listed here appears under "Other" with its key as label.
type settingField struct {
	Key     string
	Section string
	Label   string
	Help    string
	Kind    string // text, number, select, textarea (secrets are always write-only password fields)
	Choices []string
}

// SinksKey is the setting that holds every log sink at once: its value is
// TOML text, one [[log.sink]] table per sink, as in the configuration file.
const SinksKey = "log.sink"

var settingFields = []settingField{
	{"recording.storage_key", "Recording", "Object storage key", "Access key of the S3-compatible bucket recordings are uploaded to.", "text", nil},
	{"recording.storage_secret", "Recording", "Object storage secret", "Write-only: it is never shown. Leave blank to keep the stored secret.", "text", nil},
	{"recording.upload_location", "Recording", "Upload location", "Where clips are uploaded, e.g. s3://bucket@endpoint/recordings/{username}/{session_id}-{start_date}.mp4 or file:///srv/recordings/{username}/.", "text", nil},
	{"recording.bitrate", "Recording", "Bitrate", "Video bitrate of screen recordings, in kbit/s.", "number", nil},
	{"recording.framerate", "Recording", "Framerate", "Frames per second of screen recordings.", "number", nil},
	{"recording.width", "Recording", "Width", "Width of screen recordings, in pixels.", "number", nil},
	{"recording.height", "Recording", "Height", "Height of screen recordings, in pixels.", "number", nil},
	{"recording.retention", "Recording", "Retention period", "How long local copies are kept after upload (e.g. 168h).", "text", nil},
	{"recording.queue_length", "Recording", "Queue length", "Recordings encoded at once; each takes about one CPU core.", "number", nil},
	{"recording.segment_max_bytes", "Recording", "Segment size", "Bytes after which a capture segment is sealed and queued (150 MB by default).", "number", nil},
	{"recording.min_free_bytes", "Recording", "Minimum free space", "Recorded sessions are refused when the spool has less free space than this (500 MB by default).", "number", nil},
	{"recording.thumbnail_every", "Recording, advanced", "Thumbnail interval", "A still of screen recordings this often (e.g. 10s); 0 for none.", "text", nil},
	{"recording.record_input", "Recording, advanced", "Record keystrokes", "Also record what users type in terminal sessions (passwords typed at prompts included).", "select", []string{"false", "true"}},
	{"recording.checkpoint_interval", "Recording, advanced", "Checkpoint interval", "How often a capture is signed and flushed while it records (e.g. 1s).", "text", nil},
	{"recording.checkpoint_bytes", "Recording, advanced", "Checkpoint size", "Bytes after which a capture is signed and flushed (at most the segment size).", "text", nil},
	{"recording.s3_region", "Recording, advanced", "S3 region", "Region of the bucket; empty for the storage's default.", "text", nil},
	{"recording.s3_path_style", "Recording, advanced", "S3 path-style URLs", "Address the bucket as endpoint/bucket rather than bucket.endpoint.", "select", []string{"true", "false"}},
	{"recording.s3_tls_verify", "Recording, advanced", "Verify the storage's certificate", "", "select", []string{"true", "false"}},
	{"recording.allow_http", "Recording, advanced", "Allow plain HTTP storage", "Uploads over http:// instead of https:// (only for storage on a trusted network).", "select", []string{"false", "true"}},
	{"recording.upload_retry_max_backoff", "Recording, advanced", "Upload retry backoff", "Longest wait between retries of a failed upload (e.g. 5m).", "text", nil},
	{"log.retention", "Log sinks", "Log file retention", "How long rotated event log files are kept (e.g. 7d); a sink's own retention overrides it.", "text", nil},
	{SinksKey, "Log sinks", "Sinks", "Where events go, as [[log.sink]] tables of the configuration file: name, type (file or syslog), format (json, cef, espaaa, userlog), components; path for files; address, transport (udp, tcp, tls), rfc (5424 or 3164) for syslog. Empty: the configuration file's sinks apply again.", "textarea", nil},
}

type settingRow struct {
	settingField
	Value  string
	Secret bool
	IsSet  bool
	Origin string
	Error  string
}

type settingsSection struct {
	Name string
	Rows []settingRow
}

type settingsView struct {
	Sections []settingsSection
	Saved    bool
	Error    string
}

// settingsLayout arranges the backend's settings into the page's sections.
func settingsLayout(settings []Setting, errs FieldErrors, submitted map[string]string) []settingsSection {
	byKey := map[string]Setting{}
	for _, st := range settings {
		byKey[st.Key] = st
	}
	var sections []settingsSection
	add := func(section string, row settingRow) {
		for i := range sections {
			if sections[i].Name == section {
				sections[i].Rows = append(sections[i].Rows, row)
				return
			}
		}
		sections = append(sections, settingsSection{Name: section, Rows: []settingRow{row}})
	}
	row := func(f settingField, st Setting) settingRow {
		r := settingRow{settingField: f, Value: st.Value, Secret: st.Secret, IsSet: st.IsSet, Origin: st.Origin, Error: errs[st.Key]}
		if v, ok := submitted[st.Key]; ok && !st.Secret {
			r.Value = v
		}
		return r
	}
	known := map[string]bool{}
	for _, f := range settingFields {
		known[f.Key] = true
		if st, ok := byKey[f.Key]; ok {
			add(f.Section, row(f, st))
		}
	}
	var others []Setting
	for _, st := range settings {
		if !known[st.Key] {
			others = append(others, st)
		}
	}
	sort.Slice(others, func(i, j int) bool { return others[i].Key < others[j].Key })
	for _, st := range others {
		add("Other", row(settingField{Key: st.Key, Section: "Other", Label: st.Key, Kind: "text"}, st))
	}
	return sections
}

func (s *Server) settingsPage(ctx *fasthttp.RequestCtx) {
	settings, err := s.b.Settings.Settings(ctx)
	if err != nil {
		s.backendError(ctx, "read the settings", err)
		return
	}
	v := settingsView{Sections: settingsLayout(settings, nil, nil), Saved: ctx.QueryArgs().Has("saved")}
	s.render(ctx, fasthttp.StatusOK, "settings", pageData{Title: "Global settings", Section: "settings", Data: v})
}

// settingsSubmit saves what changed. A secret changes only when a new
// value is typed or its "clear" box is ticked.
func (s *Server) settingsSubmit(ctx *fasthttp.RequestCtx) {
	settings, err := s.b.Settings.Settings(ctx)
	if err != nil {
		s.backendError(ctx, "read the settings", err)
		return
	}
	args := ctx.PostArgs()
	changes, submitted := map[string]string{}, map[string]string{}
	for _, st := range settings {
		if !args.Has(st.Key) {
			continue
		}
		// A textarea's lines arrive as CRLF.
		v := strings.TrimSpace(strings.ReplaceAll(string(args.Peek(st.Key)), "\r\n", "\n"))
		submitted[st.Key] = v
		switch {
		case st.Secret && v != "":
			changes[st.Key] = v
		case st.Secret && args.Has("clear:"+st.Key):
			changes[st.Key] = ""
		case !st.Secret && v != st.Value:
			changes[st.Key] = v
		}
	}
	if len(changes) > 0 {
		if err := s.saveSettings(ctx, changes); err != nil {
			var fe FieldErrors
			if !errors.As(err, &fe) {
				s.backendError(ctx, "save the settings", err)
				return
			}
			v := settingsView{Sections: settingsLayout(settings, fe, submitted), Error: "Nothing was saved: correct the values marked below."}
			s.render(ctx, fasthttp.StatusBadRequest, "settings", pageData{Title: "Global settings", Section: "settings", Data: v})
			return
		}
	}
	redirect(ctx, "/settings?saved=1", fasthttp.StatusSeeOther)
}

// saveSettings saves changes and reports which keys changed (never the
// values: some are secrets).
func (s *Server) saveSettings(ctx *fasthttp.RequestCtx, changes map[string]string) error {
	name := reqOf(ctx).principal.Name
	if err := s.b.Settings.SaveSettings(ctx, changes, name); err != nil {
		return err
	}
	keys := make([]string, 0, len(changes))
	for k := range changes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	ev := s.newEvent(ctx, "settings.update", event.LevelInfo, fmt.Sprintf("User %s changed settings: %s", name, strings.Join(keys, ", ")))
	ev.Result = "success"
	ev.Extra = map[string]string{"keys": strings.Join(keys, ",")}
	s.note(ctx, ev)
	return nil
}
