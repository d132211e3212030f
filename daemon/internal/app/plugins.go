package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/vigilgw/vigil/daemon/internal/config"
	"github.com/vigilgw/vigil/daemon/internal/pipeline"
	"github.com/vigilgw/vigil/daemon/internal/pluginhost"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// startPlugins discovers, launches and supervises the plugins in
// plugin_dir. Each gets its [plugins.<kind>-<name>] table as JSON, merged
// with what the appliance's own settings imply for it (formatSettings).
func (d *Daemon) startPlugins(ctx context.Context) error {
	cfg := d.Config()
	m, err := pluginhost.New(pluginhost.Config{
		Dir:            cfg.PluginDir,
		Configs:        pluginConfigs(cfg),
		Logger:         d.log,
		Emit:           d.publish,
		Enabled:        pluginsUsed(cfg),
		HealthInterval: cfg.PluginHealthInterval, // read once: a change waits for a restart (restartPending)
		HealthTimeout:  cfg.PluginHealthTimeout,
	})
	if err != nil {
		return err
	}
	if err := m.Start(ctx); err != nil {
		return err
	}
	d.plugins = m
	d.onStop("plugins", func(context.Context) error { m.Stop(); return nil })
	d.reloaders = append(d.reloaders, func(cfg *config.Config) error {
		for id, js := range pluginConfigs(cfg) {
			if err := d.configurePlugin(ctx, id, js); err != nil {
				return err
			}
		}
		// A sink with a format nothing used before, or a plugin whose
		// refused settings were fixed, starts now rather than at the next
		// restart.
		m.Enable(pluginsUsed(cfg))
		return nil
	})
	return nil
}

// configurePlugin hands a running plugin its new configuration; through the
// host's stable handle it also applies to every later relaunch.
func (d *Daemon) configurePlugin(ctx context.Context, id string, js []byte) error {
	kind, name, ok := strings.Cut(id, "-")
	if !ok {
		return fmt.Errorf("plugins: %q is not <kind>-<name>", id)
	}
	var p sdk.Plugin
	var err error
	switch sdk.Kind(kind) {
	case sdk.KindLogFormat:
		p, err = d.plugins.LogFormatter(name)
	case sdk.KindStorage:
		p, err = d.plugins.Storage(name)
	case sdk.KindRecorder:
		p, err = d.plugins.Recorder(name)
	default:
		return fmt.Errorf("plugins: [plugins.%s]: unknown kind %q", id, kind)
	}
	if errors.Is(err, pluginhost.ErrUnknownPlugin) {
		return nil // configured but not installed: nothing to apply it to
	}
	if err != nil {
		return err
	}
	if err := p.Configure(ctx, js); err != nil {
		return fmt.Errorf("plugins: %s: %w", id, err)
	}
	return nil
}

// storagePlugin is the storage backend the upload location names.
func storagePlugin(cfg *config.Config) string {
	name, _, _ := pipeline.StoragePlugin(&cfg.Recording, nil)
	if name == "" {
		return "local"
	}
	return name
}

// pluginsUsed says which plugins the configuration needs: every recorder,
// the storage backend of the upload location, the formats of the sinks.
func pluginsUsed(cfg *config.Config) func(id string) bool {
	used := map[string]bool{"storage-" + storagePlugin(cfg): true}
	for _, s := range cfg.Log.Sinks {
		used["logformat-"+s.Format] = true
	}
	return func(id string) bool { return used[id] || strings.HasPrefix(id, "recorder-") }
}

// pluginConfigs is each plugin's configuration: its own table, plus what
// the appliance's settings imply for it (the recording storage, the
// log-format settings of the sinks that use it).
func pluginConfigs(cfg *config.Config) map[string][]byte {
	out := cfg.PluginConfigJSON()
	merge := func(id string, extra map[string]any) {
		cur := map[string]any{}
		if js, ok := out[id]; ok {
			_ = json.Unmarshal(js, &cur)
		}
		for k, v := range extra {
			if _, set := cur[k]; !set { // the plugin's own table wins
				cur[k] = v
			}
		}
		js, _ := json.Marshal(cur)
		out[id] = js
	}
	// The storage backend's settings come from [recording]; the pipeline
	// owns that mapping (and refuses a table that tries to override it).
	if name, js, err := pipeline.StoragePlugin(&cfg.Recording, out); err == nil {
		out["storage-"+name] = js
	}
	for _, s := range cfg.Log.Sinks {
		switch s.Format {
		case "cef":
			merge("logformat-cef", map[string]any{"vendor": s.CEFVendor, "product": s.CEFProduct})
		case "espaaa":
			merge("logformat-espaaa", map[string]any{"cef": s.ESPAAACEF})
		}
	}
	return out
}

// pluginsHealth is vigilctl's and the WUI's view of the plugins.
func (d *Daemon) pluginsHealth(context.Context, json.RawMessage) (any, error) {
	type row struct {
		Name       string `json:"name"`
		Kind       string `json:"kind"`
		Version    string `json:"version"`
		APIVersion int    `json:"api_version"`
		State      string `json:"state"`
		Restarts   int    `json:"restarts"`
		PID        int    `json:"pid"`
		StartedAt  any    `json:"started_at"`
		LastError  string `json:"last_error"`
		// FailedChecks counts the health checks failed in a row.
		FailedChecks int `json:"failed_checks"`
	}
	out := []row{}
	if d.plugins == nil {
		return out, nil
	}
	for _, s := range d.plugins.Health() {
		out = append(out, row{s.ID, string(s.Kind), s.Version, s.APIVersion, string(s.State), s.Restarts, s.PID, s.StartedAt, s.LastError, s.FailedChecks})
	}
	return out, nil
}

// requirePlugin fails start-up clearly when a configured feature has no
// plugin to do it.
func (d *Daemon) requirePlugin(id, why string) error {
	for _, s := range d.plugins.Health() {
		if s.ID == id {
			return nil
		}
	}
	d.publish(event.Event{MetricName: "plugin.missing", Level: event.LevelError, Component: "plugins",
		Message: fmt.Sprintf("plugin %s is not installed in %s; %s", id, d.Config().PluginDir, why)})
	return fmt.Errorf("plugins: vigil-plugin-%s is not installed in %s (needed: %s)", id, d.Config().PluginDir, why)
}
