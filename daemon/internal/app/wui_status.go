package app

import (
	"context"
	"errors"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shirou/gopsutil/v3/disk"
	"github.com/shirou/gopsutil/v3/mem"

	"github.com/vigilgw/vigil/daemon/internal/config"
	"github.com/vigilgw/vigil/daemon/internal/pluginhost"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/daemon/internal/version"
	"github.com/vigilgw/vigil/plugins/sdk/event"
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

func (b *wuiBackend) Settings(context.Context) ([]wui.Setting, error) {
	var out []wui.Setting
	for _, e := range config.Show(b.d.Config()) {
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
	return out, nil
}

func isSecretKey(k string) bool {
	return k == "recording.storage_key" || k == "recording.storage_secret"
}

// SaveSettings validates the changes against the whole configuration,
// writes settings.toml (0600) and applies it by reloading; a value the
// reload refuses is reported like a bad field.
func (b *wuiBackend) SaveSettings(ctx context.Context, changes map[string]string, by string) error {
	ch := make(map[string]any, len(changes))
	keys := make([]string, 0, len(changes))
	for k, v := range changes {
		ch[k] = v
		keys = append(keys, k)
	}
	slices.Sort(keys)
	err := b.d.Config().SaveSettings(ch)
	var fe config.FieldErrors
	if errors.As(err, &fe) {
		return wui.FieldErrors(fe)
	}
	if err != nil {
		return err
	}
	b.d.publish(event.Event{MetricName: "settings.change", Component: "wui", UserName: by,
		Message: "User " + by + " changed settings: " + strings.Join(keys, ", ")})
	if err := b.d.reload(); err != nil {
		return wui.FieldErrors{"": "saved, but the reload refused it: " + err.Error()}
	}
	return nil
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
				Healthy: p.State == pluginhost.StateRunning || p.State == pluginhost.StateDisabled, Detail: healthDetail(p), Restarts: p.Restarts})
		}
	}
	info.Queues = append(info.Queues, d.queueDepths(ctx)...)
	return info, nil
}

func healthDetail(p pluginhost.Status) string {
	if p.State == pluginhost.StateRunning {
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
