package app

import (
	"slices"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/config"
)

// TestPluginHealthNeedsRestart: the plugin watchdog's pace is read when the
// plugins start, so a reload that changes it says it waits for a restart.
func TestPluginHealthNeedsRestart(t *testing.T) {
	old := config.Default()
	cfg := config.Default()
	cfg.PluginHealthInterval = time.Minute
	cfg.PluginHealthTimeout = 20 * time.Second
	got := restartPending(old, cfg)
	if want := []string{"plugin_health_interval", "plugin_health_timeout"}; !slices.Equal(got, want) {
		t.Errorf("restartPending = %v, want %v", got, want)
	}
	if got := restartPending(old, config.Default()); len(got) != 0 {
		t.Errorf("restartPending with nothing changed = %v", got)
	}
}
