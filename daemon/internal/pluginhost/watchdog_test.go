package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// stop sends SIGSTOP to pid, and SIGCONT when the test ends in case it
// failed before the process was killed.
func stop(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
}

func (h *harness) waitEvent(t *testing.T, metric string, match func(event.Event) bool) event.Event {
	t.Helper()
	var found event.Event
	sdktest.WaitFor(t, waitTimeout, metric, func() bool {
		for _, e := range h.eventsNamed(metric) {
			if match(e) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// TestHungPluginIsKilledAndRelaunched: a plugin that stops answering (here
// SIGSTOP) fails its health checks, is reported unresponsive, killed, and
// relaunched; the handle works again with the new process.
func TestHungPluginIsKilledAndRelaunched(t *testing.T) {
	dir := install(t, map[string]string{"vigil-plugin-logformat-test": testPlugin(t)})
	var mu sync.Mutex
	var atFirstFailure *Status // Health as the first failed check left it
	var manager atomic.Pointer[Manager]
	h := start(t, Config{
		Dir:     dir,
		Backoff: Backoff{Initial: 50 * time.Millisecond, Max: time.Second, StableAfter: time.Minute},
		// A stopped process never answers, whatever the deadline; one the
		// relaunched process meets even on a loaded machine keeps the
		// checks of Health after the relaunch steady.
		HealthInterval: 200 * time.Millisecond,
		HealthTimeout:  190 * time.Millisecond,
		HealthFailures: 3,
		checked: func(_ string, err error) {
			mu.Lock()
			defer mu.Unlock()
			if m := manager.Load(); m != nil && err != nil && atFirstFailure == nil {
				s := m.Health()[0]
				atFirstFailure = &s
			}
		},
	})
	manager.Store(h.m)
	first := h.status(t, "logformat-test")
	if first.State != StateRunning || first.PID <= 0 {
		t.Fatalf("Health after Start = %+v", first)
	}
	pid := first.PID
	stop(t, pid)

	hung := h.waitEvent(t, "plugin.unresponsive", func(event.Event) bool { return true })
	if hung.Level != event.LevelError || hung.Result != "failure" || hung.Component != "plugins" ||
		hung.Extra["plugin"] != "logformat-test" || hung.Extra["kind"] != "logformat" || hung.Extra["name"] != "test" ||
		hung.Extra["pid"] != fmt.Sprint(pid) || hung.Time.IsZero() ||
		!strings.HasPrefix(hung.Reason, "3 health checks in a row failed, the last: sdk: ping: ") {
		t.Errorf("plugin.unresponsive = %+v", hung)
	}
	exit := h.waitEvent(t, "plugin.exit", func(e event.Event) bool { return e.Extra["pid"] == fmt.Sprint(pid) })
	if !strings.HasPrefix(exit.Reason, "killed by vigild: it stopped answering health checks (3 health checks in a row failed") ||
		!strings.HasSuffix(exit.Reason, "; signal: killed") || exit.Result != "failure" {
		t.Errorf("plugin.exit = %+v, want a reason saying vigild killed it for failing its health checks", exit)
	}

	sdktest.WaitFor(t, waitTimeout, "a new process running", func() bool {
		s := h.status(t, "logformat-test")
		return s.State == StateRunning && s.PID > 0 && s.PID != pid
	})
	f, err := h.m.LogFormatter("test")
	if err != nil {
		t.Fatal(err)
	}
	lines, err := f.Format(context.Background(), []event.Event{{MetricName: "a", Message: "again"}})
	if err != nil || len(lines) != 1 || string(lines[0]) != `"a again"` {
		t.Fatalf("Format through the relaunched plugin = %q, %v", lines, err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the hung process %d still exists (kill -0: %v)", pid, err)
	}

	s := h.status(t, "logformat-test")
	if s.Restarts != 1 || s.FailedChecks != 0 || !strings.HasPrefix(s.LastError, "exited: killed by vigild: it stopped answering health checks") {
		t.Errorf("Health after the relaunch = %+v", s)
	}
	mu.Lock()
	defer mu.Unlock()
	if atFirstFailure == nil || atFirstFailure.FailedChecks != 1 || atFirstFailure.PID != pid ||
		!strings.HasPrefix(atFirstFailure.LastError, "health check 1 of 3 failed: sdk: ping: ") {
		t.Errorf("Health after the first failed check = %+v", atFirstFailure)
	}
	if n := len(h.eventsNamed("plugin.unresponsive")); n != 1 {
		t.Errorf("%d plugin.unresponsive events, want 1", n)
	}
}

// TestHealthyPluginIsLeftAlone: a plugin that answers is checked again and
// again and never killed.
func TestHealthyPluginIsLeftAlone(t *testing.T) {
	dir := install(t, map[string]string{"vigil-plugin-logformat-test": testPlugin(t)})
	var passed, failed atomic.Int64
	h := start(t, Config{
		Dir: dir,
		// Deadlines a loaded CI machine meets: three misses in a row would
		// kill the plugin, and that is not what this test is about.
		HealthInterval: 300 * time.Millisecond,
		HealthTimeout:  290 * time.Millisecond,
		HealthFailures: 3,
		checked: func(_ string, err error) {
			if err != nil {
				failed.Add(1)
			} else {
				passed.Add(1)
			}
		},
	})
	pid := h.status(t, "logformat-test").PID
	sdktest.WaitFor(t, waitTimeout, "ten health checks passed", func() bool { return passed.Load() >= 10 })

	s := h.status(t, "logformat-test")
	if s.State != StateRunning || s.PID != pid || s.Restarts != 0 {
		t.Errorf("Health after ten checks = %+v, want the first process still running", s)
	}
	for _, metric := range []string{"plugin.unresponsive", "plugin.exit", "plugin.restart"} {
		if n := len(h.eventsNamed(metric)); n != 0 {
			t.Errorf("%d %s events for a healthy plugin", n, metric)
		}
	}
	if n := failed.Load(); n != 0 {
		// A loaded machine may miss a deadline now and then; that is not
		// what this test is about, as long as it was not killed.
		t.Logf("%d health checks failed", n)
	}
}

// TestStopWithAHungPlugin: Stop does not wait forever for a plugin that
// cannot answer the request to exit.
func TestStopWithAHungPlugin(t *testing.T) {
	dir := install(t, map[string]string{"vigil-plugin-logformat-test": testPlugin(t)})
	h := start(t, Config{Dir: dir, HealthInterval: time.Hour, HealthTimeout: time.Minute})
	pid := h.status(t, "logformat-test").PID
	stop(t, pid)
	stopped := make(chan struct{})
	go func() {
		h.m.Stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(waitTimeout):
		t.Fatal("Stop did not return with a stopped plugin process")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("process %d still exists after Stop (kill -0: %v)", pid, err)
	}
	if s := h.status(t, "logformat-test"); s.State != StateStopped {
		t.Errorf("Health after Stop = %+v", s)
	}
}

func TestHealthConfig(t *testing.T) {
	m, err := New(Config{Dir: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	if c := m.cfg; c.HealthInterval != 10*time.Second || c.HealthTimeout != 5*time.Second || c.HealthFailures != 3 {
		t.Errorf("health defaults: interval %s, timeout %s, failures %d; want 10s, 5s, 3", c.HealthInterval, c.HealthTimeout, c.HealthFailures)
	}
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"timeout = interval", Config{Dir: "/x", HealthInterval: time.Second, HealthTimeout: time.Second},
			"pluginhost: config: health timeout 1s: need it shorter than the health interval 1s"},
		{"default timeout above interval", Config{Dir: "/x", HealthInterval: time.Second},
			"pluginhost: config: health timeout 5s: need it shorter than the health interval 1s"},
		{"negative interval", Config{Dir: "/x", HealthInterval: -time.Second},
			"pluginhost: config: health interval -1s, timeout 5s: need both > 0"},
		{"negative failures", Config{Dir: "/x", HealthFailures: -1}, "pluginhost: config: health failures -1: need > 0"},
	} {
		if _, err := New(c.cfg); err == nil || err.Error() != c.want {
			t.Errorf("%s: New = %v, want %q", c.name, err, c.want)
		}
	}
}
