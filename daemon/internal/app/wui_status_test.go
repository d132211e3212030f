package app

import (
	"testing"

	"github.com/vigilgw/vigil/daemon/internal/pluginhost"
)

// TestPluginHealth: the status page calls a running plugin that fails its
// health checks unhealthy, with why, before the watchdog kills it.
func TestPluginHealth(t *testing.T) {
	tests := []struct {
		s       pluginhost.Status
		healthy bool
		detail  string
	}{
		{pluginhost.Status{State: pluginhost.StateRunning}, true, ""},
		{pluginhost.Status{State: pluginhost.StateDisabled}, true, ""},
		{pluginhost.Status{State: pluginhost.StateRunning, FailedChecks: 2, LastError: "health check 2 of 3 failed: sdk: ping: context deadline exceeded"},
			false, "running: health check 2 of 3 failed: sdk: ping: context deadline exceeded"},
		{pluginhost.Status{State: pluginhost.StateRestarting, LastError: "exited: signal: killed"}, false, "restarting: exited: signal: killed"},
		{pluginhost.Status{State: pluginhost.StateStarting}, false, "starting"},
	}
	for _, tt := range tests {
		if got, detail := pluginHealthy(tt.s), healthDetail(tt.s); got != tt.healthy || detail != tt.detail {
			t.Errorf("%+v: healthy %v, detail %q; want %v, %q", tt.s, got, detail, tt.healthy, tt.detail)
		}
	}
}
