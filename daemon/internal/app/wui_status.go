package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/shirou/gopsutil/v3/disk"
	"github.com/shirou/gopsutil/v3/mem"

	"github.com/vigilgw/vigil/daemon/internal/config"
	"github.com/vigilgw/vigil/daemon/internal/pluginhost"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/daemon/internal/version"
	"github.com/vigilgw/vigil/wui"
)

const metricResources = "scaling.status.resources"

func (b *wuiBackend) Report(ctx context.Context, q wui.ReportQuery) (wui.Report, error) {
	st := b.d.store
	out := wui.Report{Since: q.Since, Bucket: q.Bucket, Series: map[string][]float64{}}
	add := func(s store.Series, err error, pairs map[string]string) error {
		if err != nil {
			return err
		}
		for from, to := range pairs {
			vals := make([]float64, len(s.Counts[from]))
			for i, v := range s.Counts[from] {
				vals[i] = float64(v)
			}
			out.Series[to] = vals
		}
		return nil
	}
	s, err := st.LoginActivity(ctx, q.Since, q.Until, q.Bucket)
	if err := add(s, err, map[string]string{"successful": wui.SeriesLoginsOK, "failed": wui.SeriesLoginsFailed}); err != nil {
		return out, wuiErr(err)
	}
	s, err = st.SessionActivity(ctx, q.Since, q.Until, q.Bucket)
	if err := add(s, err, map[string]string{"created": wui.SeriesSessionsCreated, "destroyed": wui.SeriesSessionsDestroyed,
		"concurrent": wui.SeriesSessionsConcurrent}); err != nil {
		return out, wuiErr(err)
	}
	s, err = st.RecordingActivity(ctx, q.Since, q.Until, q.Bucket)
	if err := add(s, err, map[string]string{"encoded": wui.SeriesRecordingsEncoded, "uploaded": wui.SeriesRecordingsUploaded,
		"failed": wui.SeriesRecordingsFailed}); err != nil {
		return out, wuiErr(err)
	}
	// Disk free and busy encode slots come from the minutely
	// scaling.status.resources events: lowest free, highest busy per bucket.
	n := len(out.Series[wui.SeriesLoginsOK])
	free, busy := make([]float64, n), make([]float64, n)
	evs, err := st.QueryEvents(ctx, store.EventFilter{MetricName: metricResources, Since: q.Since, Until: q.Until, Limit: 10000})
	if err != nil {
		return out, wuiErr(err)
	}
	for _, e := range evs {
		i := int(e.Time.Sub(q.Since) / q.Bucket)
		if i < 0 || i >= n {
			continue
		}
		if v, err := strconv.ParseFloat(e.Extra["spool_free_bytes"], 64); err == nil && (free[i] == 0 || v < free[i]) {
			free[i] = v
		}
		if v, err := strconv.ParseFloat(e.Extra["encode_slots_busy"], 64); err == nil && v > busy[i] {
			busy[i] = v
		}
	}
	out.Series[wui.SeriesDiskFreeBytes], out.Series[wui.SeriesEncodeSlotsInUse] = free, busy
	return out, nil
}

// settingsOrigins are the WUI's words for where a value comes from.
var settingsOrigins = map[config.Origin]string{config.OriginDefault: "default", config.OriginFile: "vigil.toml", config.OriginSettings: "settings.toml"}

// Settings are the keys the settings page edits: the [recording] table
// and the log sinks (log.retention, and every [[log.sink]] at once as
// TOML text under wui.SinksKey). Other keys stay with vigil.toml.
func (b *wuiBackend) Settings(context.Context) ([]wui.Setting, error) {
	var out []wui.Setting
	var sinks strings.Builder
	sinksOrigin, lastSink := settingsOrigins[config.OriginDefault], -1
	for _, e := range config.Show(b.d.Config()) {
		if i, field, ok := sinkField(e.Key); ok {
			if i != lastSink {
				if lastSink >= 0 {
					sinks.WriteString("\n")
				}
				sinks.WriteString("[[log.sink]]\n")
				lastSink = i
			}
			// Defaults filled in for the sink's type stay out (written
			// back, some would not apply to it): only what was set, and
			// what names the sink.
			if e.Origin != config.OriginDefault || sinkCore[field] && e.Value != `""` && e.Value != "[]" {
				fmt.Fprintf(&sinks, "%s = %s\n", field, sinkValue(field, e.Value, b.d.Config().LogDir))
			}
			if e.Origin != config.OriginDefault {
				sinksOrigin = settingsOrigins[e.Origin]
			}
			continue
		}
		if !strings.HasPrefix(e.Key, "recording.") && e.Key != "log.retention" {
			continue
		}
		s := wui.Setting{Key: e.Key, Value: e.Value, Origin: settingsOrigins[e.Origin]}
		if isSecretKey(e.Key) || e.Value == config.Masked {
			s.Secret, s.IsSet, s.Value = true, e.Value == config.Masked, ""
		}
		// Show gives TOML literals; the form edits plain values.
		if uq, err := strconv.Unquote(s.Value); err == nil {
			s.Value = uq
		}
		out = append(out, s)
	}
	return append(out, wui.Setting{Key: wui.SinksKey, Value: strings.TrimSpace(sinks.String()), Origin: sinksOrigin}), nil
}

// sinkCore are the fields that say what a sink is, even when it is a
// default one.
var sinkCore = map[string]bool{"name": true, "type": true, "format": true, "components": true, "path": true, "address": true}

// sinkValue is a sink field's TOML literal as the form shows it: a file
// path under log_dir relative to it (how vigil.toml writes it; Load
// resolves it), so that saving the sinks does not pin today's log_dir.
func sinkValue(field, literal, logDir string) string {
	p, err := strconv.Unquote(literal)
	if field != "path" || err != nil || !filepath.IsAbs(p) {
		return literal
	}
	rel, err := filepath.Rel(logDir, p)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") || strings.ContainsAny(rel, "\"\\") {
		return literal
	}
	return `"` + rel + `"`
}

// sinkField splits a Show key such as log.sink[2].address.
func sinkField(key string) (int, string, bool) {
	rest, ok := strings.CutPrefix(key, wui.SinksKey+"[")
	if !ok {
		return 0, "", false
	}
	n, field, ok := strings.Cut(rest, "].")
	i, err := strconv.Atoi(n)
	return i, field, ok && err == nil
}

func isSecretKey(k string) bool {
	return k == "recording.storage_key" || k == "recording.storage_secret"
}

// SaveSettings validates the changes against the whole configuration,
// writes settings.toml (0600) and applies it by reloading; a value the
// reload refuses is reported like a bad field. The sinks arrive as TOML
// text: [[log.sink]] tables, or nothing to fall back to vigil.toml's.
// The WUI logs the change (settings.update).
func (b *wuiBackend) SaveSettings(ctx context.Context, changes map[string]string, by string) error {
	ch := make(map[string]any, len(changes))
	for k, v := range changes {
		ch[k] = v
	}
	if text, ok := changes[wui.SinksKey]; ok {
		sinks, err := parseSinks(text)
		if err != nil {
			return wui.FieldErrors{wui.SinksKey: err.Error()}
		}
		ch[wui.SinksKey] = sinks
	}
	err := b.d.Config().SaveSettings(ch)
	var fe config.FieldErrors
	if errors.As(err, &fe) {
		return wui.FieldErrors(fe)
	}
	if err != nil {
		return err
	}
	if err := b.d.reload(); err != nil {
		return wui.FieldErrors{"": "saved, but the reload refused it: " + err.Error()}
	}
	return nil
}

// parseSinks reads [[log.sink]] tables; empty text is nil (the key is
// removed from settings.toml).
func parseSinks(text string) (any, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var doc map[string]any
	md, err := toml.Decode(text, &doc)
	if err != nil {
		return nil, fmt.Errorf("not TOML: %w", err)
	}
	for _, k := range md.Keys() {
		if top := k.String(); top != "log" && top != "log.sink" && !strings.HasPrefix(top, "log.sink.") {
			return nil, fmt.Errorf("only [[log.sink]] tables belong here, not %s", top)
		}
	}
	log, _ := doc["log"].(map[string]any)
	sinks, ok := log["sink"].([]map[string]any)
	if !ok {
		return nil, errors.New("must be [[log.sink]] tables")
	}
	return sinks, nil
}

func (b *wuiBackend) Status(ctx context.Context) (wui.StatusInfo, error) {
	d := b.d
	cfg := d.Config()
	host, _ := os.Hostname()
	info := wui.StatusInfo{Version: version.Version, StartedAt: d.started, Hostname: host, CPUs: runtime.NumCPU()}
	if vm, err := mem.VirtualMemoryWithContext(ctx); err == nil {
		info.MemTotal, info.MemUsed = vm.Total, vm.Used
	}
	for _, dd := range []struct{ name, path string }{{"spool", d.layout.SpoolActive()}, {"state", cfg.StateDir}, {"logs", cfg.LogDir}} {
		if u, err := disk.UsageWithContext(ctx, dd.path); err == nil {
			info.Disks = append(info.Disks, wui.DiskUsage{Name: dd.name, Path: dd.path, Total: u.Total, Free: u.Free})
		}
	}
	if evs, err := d.store.QueryEvents(ctx, store.EventFilter{MetricName: metricResources, Since: time.Now().Add(-5 * time.Minute), Limit: 1}); err == nil && len(evs) > 0 {
		info.CPUPercent, _ = strconv.ParseFloat(evs[0].Extra["cpu_percent"], 64)
	}
	if d.plugins != nil {
		for _, p := range d.plugins.Health() {
			info.Plugins = append(info.Plugins, wui.PluginHealth{Name: p.ID, Kind: string(p.Kind), Version: p.Version,
				Healthy: pluginHealthy(p), Detail: healthDetail(p), Restarts: p.Restarts})
		}
	}
	info.Queues = append(info.Queues, d.queueDepths(ctx)...)
	return info, nil
}

// pluginHealthy: running and answering its health checks, or not needed.
func pluginHealthy(p pluginhost.Status) bool {
	return p.State == pluginhost.StateRunning && p.FailedChecks == 0 || p.State == pluginhost.StateDisabled
}

// healthDetail says what is wrong with a plugin that is not healthy: its
// state and last error ("running: health check 2 of 3 failed: ..." for one
// that stopped answering and is about to be killed).
func healthDetail(p pluginhost.Status) string {
	if pluginHealthy(p) {
		return ""
	}
	if p.LastError != "" {
		return string(p.State) + ": " + p.LastError
	}
	return string(p.State)
}

// queueDepths are the event consumers' backlogs (sinks, index, history);
// the pipeline adds its encode and upload queues.
func (d *Daemon) queueDepths(ctx context.Context) []wui.QueueDepth {
	var out []wui.QueueDepth
	for _, c := range d.bus.Consumers() {
		out = append(out, wui.QueueDepth{Name: "events: " + c.Name, Waiting: int(c.Backlog)})
	}
	if d.pipeline != nil {
		out = append(out, d.pipeline.queues(ctx)...)
	}
	return out
}
