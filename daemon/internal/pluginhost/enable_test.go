package pluginhost

import (
	"context"
	"testing"

	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

func all(string) bool { return true }

// runsAndFormats waits for logformat-<name> to run and checks that its
// handle formats an event.
func runsAndFormats(t *testing.T, h *harness, name string) {
	t.Helper()
	sdktest.WaitFor(t, waitTimeout, "logformat-"+name+" running", func() bool {
		return h.status(t, "logformat-"+name).State == StateRunning
	})
	f, err := h.m.LogFormatter(name)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := f.Format(context.Background(), []event.Event{{MetricName: "m", Message: "x"}})
	if err != nil || len(lines) != 1 || string(lines[0]) != `"m x"` {
		t.Fatalf("Format through %s = %q, %v", name, lines, err)
	}
}

func (h *harness) startsOf(id string) int {
	n := 0
	for _, e := range h.eventsNamed("plugin.start") {
		if e.Extra["plugin"] == id {
			n++
		}
	}
	return n
}

// TestEnableStartsAPluginNowUsed: a plugin the configuration did not use
// at Start (a sink format added by a reload) runs once Enable says it is
// used, and only once.
func TestEnableStartsAPluginNowUsed(t *testing.T) {
	dir := install(t, map[string]string{
		"vigil-plugin-logformat-test":  testPlugin(t),
		"vigil-plugin-logformat-other": testPlugin(t),
	})
	h := start(t, Config{Dir: dir, Enabled: func(id string) bool { return id == "logformat-test" }})
	if s := h.status(t, "logformat-other"); s.State != StateDisabled {
		t.Fatalf("Health of the unused plugin = %+v, want disabled", s)
	}

	h.m.Enable(func(id string) bool { return id == "logformat-test" })
	if s := h.status(t, "logformat-other"); s.State != StateDisabled {
		t.Fatalf("Enable without the plugin started it: %+v", s)
	}

	h.m.Enable(all)
	runsAndFormats(t, h, "other")
	h.m.Enable(all)
	if s := h.status(t, "logformat-other"); s.State != StateRunning || s.Restarts != 0 {
		t.Fatalf("a second Enable disturbed the running plugin: %+v", s)
	}
	if n, m := h.startsOf("logformat-other"), h.startsOf("logformat-test"); n != 1 || m != 1 {
		t.Fatalf("plugin.start events: %d for the enabled plugin, %d for the first; want 1 each", n, m)
	}
}

// TestEnableRetriesAFixedConfiguration: a plugin that refused its
// configuration stays refused until it is given another one; then Enable
// launches it with that one.
func TestEnableRetriesAFixedConfiguration(t *testing.T) {
	dir := install(t, map[string]string{"vigil-plugin-logformat-picky": testPlugin(t)})
	h := start(t, Config{Dir: dir, Configs: map[string][]byte{"logformat-picky": []byte(`{"ok":false}`)}})
	if s := h.status(t, "logformat-picky"); s.State != StateRefused {
		t.Fatalf("Health with a configuration it refuses = %+v, want refused", s)
	}
	h.m.Enable(all)
	if s := h.status(t, "logformat-picky"); s.State != StateRefused {
		t.Fatalf("Enable with the same refused configuration relaunched it: %+v", s)
	}

	f, err := h.m.LogFormatter("picky")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Configure(context.Background(), []byte(`{"ok":true}`)); err != nil {
		t.Fatalf("Configure with no live process = %v, want it kept for the next launch", err)
	}
	h.m.Enable(func(string) bool { return false })
	if s := h.status(t, "logformat-picky"); s.State != StateRefused {
		t.Fatalf("Enable of a plugin no longer used relaunched it: %+v", s)
	}
	h.m.Enable(all)
	runsAndFormats(t, h, "picky")
	if n := len(h.eventsNamed("plugin.refused")); n != 1 {
		t.Fatalf("%d plugin.refused events, want the first launch's only", n)
	}
}

// TestEnableAfterStop starts nothing.
func TestEnableAfterStop(t *testing.T) {
	dir := install(t, map[string]string{"vigil-plugin-logformat-test": testPlugin(t)})
	h := start(t, Config{Dir: dir, Enabled: func(string) bool { return false }})
	h.m.Stop()
	h.m.Enable(all)
	if s := h.status(t, "logformat-test"); s.State != StateDisabled {
		t.Fatalf("Enable after Stop = %+v, want it left disabled", s)
	}
}
