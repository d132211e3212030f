package pluginhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// waitTimeout is a safety net against hangs, never an assertion about
// speed.
const waitTimeout = 60 * time.Second

// binDir holds the plugin executables the tests build once per run.
var (
	binDir string
	builds sync.Map // package -> *buildResult
)

type buildResult struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pluginhost-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binary builds the main package pkg once per test run.
func binary(t *testing.T, pkg string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &buildResult{})
	b := v.(*buildResult)
	b.once.Do(func() {
		b.path = filepath.Join(binDir, strings.ReplaceAll(strings.Trim(pkg, "./"), "/", "_"))
		out, err := exec.Command("go", "build", "-o", b.path, pkg).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func testPlugin(t *testing.T) string { return binary(t, "./testdata/testplugin") }

func storageLocal(t *testing.T) string { return binary(t, "../../../plugins/storage-local") }

// install copies executables into a fresh plugin directory: name -> source.
func install(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// harness is a started Manager with its log and events captured.
type harness struct {
	m    *Manager
	logs *sdktest.SyncBuffer

	mu     sync.Mutex
	events []event.Event
}

func start(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{logs: &sdktest.SyncBuffer{}}
	cfg.Logger = hclog.New(&hclog.LoggerOptions{Output: h.logs, JSONFormat: true, Level: hclog.Debug})
	cfg.Emit = func(e event.Event) {
		h.mu.Lock()
		h.events = append(h.events, e)
		h.mu.Unlock()
	}
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.m = m
	t.Cleanup(func() {
		m.Stop()
		if t.Failed() {
			t.Logf("host log:\n%s", h.logs.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) status(t *testing.T, id string) Status {
	t.Helper()
	for _, s := range h.m.Health() {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no plugin %s in Health()", id)
	return Status{}
}

func (h *harness) eventsNamed(metric string) []event.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []event.Event
	for _, e := range h.events {
		if e.MetricName == metric {
			out = append(out, e)
		}
	}
	return out
}

// logged reports whether the host log holds an entry with all of fields.
func (h *harness) logged(fields map[string]any) bool {
	for line := range strings.SplitSeq(h.logs.String(), "\n") {
		var entry map[string]any
		if json.Unmarshal([]byte(line), &entry) != nil {
			continue
		}
		match := true
		for k, v := range fields {
			if entry[k] != v {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func TestRestartAfterKill(t *testing.T) {
	dir := install(t, map[string]string{"vigil-plugin-logformat-test": testPlugin(t)})
	h := start(t, Config{
		Dir:     dir,
		Configs: map[string][]byte{"logformat-test": []byte(`{"greeting":"first"}`)},
		Backoff: Backoff{Initial: time.Second, Max: 4 * time.Second, StableAfter: time.Minute},
	})
	ctx := context.Background()

	first := h.status(t, "logformat-test")
	if first.State != StateRunning || first.PID <= 0 || first.Restarts != 0 || first.Version != "0.1.0-test" ||
		first.APIVersion != 1 || first.StartedAt.IsZero() || first.Kind != sdk.KindLogFormat || first.Name != "test" {
		t.Fatalf("Health after Start = %+v", first)
	}
	f, err := h.m.LogFormatter("test")
	if err != nil {
		t.Fatal(err)
	}
	lines, err := f.Format(ctx, []event.Event{{MetricName: "a", Message: "one"}, {MetricName: "b", Message: "two"}})
	if err != nil || len(lines) != 2 || string(lines[1]) != `"b two"` {
		t.Fatalf("Format = %q, %v", lines, err)
	}

	// The plugin's log line arrives in the host's log under its name.
	sdktest.WaitFor(t, waitTimeout, "the plugin's log line under plugin.logformat-test", func() bool {
		return h.logged(map[string]any{
			"@module": "plugin.logformat-test", "@message": "test plugin configured",
			"plugin": "logformat-test", "config": `{"greeting":"first"}`,
		})
	})

	// A new configuration through the handle holds for later launches too.
	if err := f.Configure(ctx, []byte(`{"greeting":"second"}`)); err != nil {
		t.Fatal(err)
	}

	// A call in flight when the plugin dies.
	inflight := make(chan error, 1)
	go func() {
		_, err := f.Format(ctx, []event.Event{{Message: "block"}})
		inflight <- err
	}()
	sdktest.WaitFor(t, waitTimeout, "the blocking call to reach the plugin", func() bool {
		return h.logged(map[string]any{"@module": "plugin.logformat-test", "@message": "blocking format"})
	})
	if err := syscall.Kill(first.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-inflight:
		if !errors.Is(err, ErrPluginUnavailable) || !strings.HasPrefix(err.Error(), "pluginhost: logformat-test: ") {
			t.Fatalf("the call in flight ended with %v, want a pluginhost: logformat-test: error wrapping ErrPluginUnavailable", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("the call in flight did not end when the plugin died")
	}

	// While the supervisor waits out the backoff, calls fail fast.
	sdktest.WaitFor(t, waitTimeout, "state restarting", func() bool {
		return h.status(t, "logformat-test").State == StateRestarting
	})
	if _, err := f.Format(ctx, []event.Event{{Message: "x"}}); !errors.Is(err, ErrPluginUnavailable) ||
		!strings.Contains(err.Error(), "exited: signal: killed") {
		t.Fatalf("Format while restarting = %v", err)
	}

	sdktest.WaitFor(t, waitTimeout, "the plugin running again after one restart", func() bool {
		s := h.status(t, "logformat-test")
		return s.State == StateRunning && s.Restarts == 1 && s.PID > 0 && s.PID != first.PID
	})
	// The same handle works again.
	lines, err = f.Format(ctx, []event.Event{{MetricName: "c", Message: "three"}})
	if err != nil || len(lines) != 1 || string(lines[0]) != `"c three"` {
		t.Fatalf("Format after the restart = %q, %v", lines, err)
	}
	sdktest.WaitFor(t, waitTimeout, "the relaunch configured with the handle's configuration", func() bool {
		return h.logged(map[string]any{"@module": "plugin.logformat-test", "@message": "test plugin configured", "config": `{"greeting":"second"}`})
	})

	exits := h.eventsNamed("plugin.exit")
	restarts := h.eventsNamed("plugin.restart")
	starts := h.eventsNamed("plugin.start")
	if len(exits) != 1 || len(restarts) != 1 || len(starts) != 2 {
		t.Fatalf("events: %d exit, %d restart, %d start; want 1, 1, 2", len(exits), len(restarts), len(starts))
	}
	for _, e := range []event.Event{exits[0], restarts[0], starts[0], starts[1]} {
		if e.Component != "plugins" || e.Extra["plugin"] != "logformat-test" || e.Extra["kind"] != "logformat" || e.Time.IsZero() {
			t.Errorf("event %s = %+v", e.MetricName, e)
		}
	}
	if e := exits[0]; e.Reason != "signal: killed" || e.Level != event.LevelWarning || e.Extra["pid"] != fmt.Sprint(first.PID) {
		t.Errorf("plugin.exit = %+v", e)
	}
	if e := restarts[0]; e.Extra["attempt"] != "1" || e.Extra["backoff"] != "1s" {
		t.Errorf("plugin.restart = %+v", e)
	}
	if e := starts[1]; e.Extra["pid"] == fmt.Sprint(first.PID) || e.Extra["version"] != "0.1.0-test" || e.Extra["api_version"] != "1" {
		t.Errorf("second plugin.start = %+v", e)
	}
}

func TestRefused(t *testing.T) {
	bin := testPlugin(t)
	for _, c := range []struct {
		name string
		want string // LastError and the event's reason; %s is the plugin dir
	}{
		{"badinfo", "pluginhost: logformat-badinfo: plugin speaks API versions [99], host accepts [1]"},
		{"v99", "pluginhost: logformat-v99: plugin speaks API versions [99], host accepts [1]"},
		{"wrongkind", `pluginhost: logformat-wrongkind: plugin reports kind "storage", launched as "logformat"`},
		{"badconfig", "pluginhost: logformat-badconfig: configure: logformat-badconfig: config: no configuration pleases me: invalid config"},
		{"evil", "pluginhost: logformat-evil: %s/vigil-plugin-logformat-evil is world-writable (-rwxrwxrwx): refusing to run it"},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := "logformat-" + c.name
			dir := install(t, map[string]string{"vigil-plugin-" + id: bin, "vigil-plugin-logformat-good": bin})
			if c.name == "evil" {
				if err := os.Chmod(filepath.Join(dir, "vigil-plugin-"+id), 0o777); err != nil {
					t.Fatal(err)
				}
			}
			want := c.want
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, dir)
			}
			h := start(t, Config{Dir: dir, Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond, StableAfter: time.Minute}})

			s := h.status(t, id)
			if s.State != StateRefused || s.LastError != want || s.Restarts != 0 || s.PID != 0 {
				t.Fatalf("Health = %+v\nwant state refused, last error %q", s, want)
			}
			if good := h.status(t, "logformat-good"); good.State != StateRunning {
				t.Fatalf("a good plugin next to a refused one: %+v", good)
			}
			refusals := h.eventsNamed("plugin.refused")
			if len(refusals) != 1 || refusals[0].Reason != want || refusals[0].Level != event.LevelError ||
				refusals[0].Component != "plugins" || refusals[0].Extra["plugin"] != id {
				t.Fatalf("plugin.refused events = %+v", refusals)
			}
			if n := len(h.eventsNamed("plugin.restart")); n != 0 {
				t.Fatalf("a refused plugin was restarted %d times", n)
			}
			f, err := h.m.LogFormatter(c.name)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Format(context.Background(), []event.Event{{Message: "x"}}); !errors.Is(err, ErrPluginUnavailable) ||
				!strings.Contains(err.Error(), "refused: "+want) {
				t.Fatalf("Format through a refused plugin's handle = %v", err)
			}
		})
	}
}

func TestCrashLoopBacksOff(t *testing.T) {
	dir := install(t, map[string]string{"vigil-plugin-logformat-crash": testPlugin(t)})
	h := start(t, Config{Dir: dir, Backoff: Backoff{Initial: 20 * time.Millisecond, Max: 80 * time.Millisecond, StableAfter: time.Minute}})
	sdktest.WaitFor(t, waitTimeout, "five relaunches", func() bool { return h.status(t, "logformat-crash").Restarts >= 5 })
	h.m.Stop()

	var backoffs []string
	for _, e := range h.eventsNamed("plugin.restart")[:5] {
		backoffs = append(backoffs, e.Extra["backoff"])
	}
	if want := []string{"20ms", "40ms", "80ms", "80ms", "80ms"}; !slices.Equal(backoffs, want) {
		t.Errorf("backoffs %v, want %v", backoffs, want)
	}
	s := h.status(t, "logformat-crash")
	if s.State != StateStopped || !strings.HasPrefix(s.LastError, "pluginhost: logformat-crash: start ") {
		t.Errorf("Health after Stop = %+v", s)
	}
	if len(h.eventsNamed("plugin.start")) != 0 {
		t.Error("a plugin that never served was reported started")
	}
	if !h.logged(map[string]any{"@module": "plugin.logformat-crash", "@message": "testplugin: crashing on purpose"}) {
		t.Error("the plugin's stderr did not reach the host log")
	}
}

func TestStorageThroughTheManager(t *testing.T) {
	root := filepath.Join(t.TempDir(), "objects")
	dir := install(t, map[string]string{"vigil-plugin-storage-local": storageLocal(t)})
	h := start(t, Config{
		Dir:     dir,
		Configs: map[string][]byte{"storage-local": fmt.Appendf(nil, `{"root": %q}`, root)},
		Backoff: Backoff{Initial: 50 * time.Millisecond, Max: time.Second, StableAfter: time.Minute},
	})
	s, err := h.m.Storage("local")
	if err != nil {
		t.Fatal(err)
	}
	// The stable handle is a conforming sdk.Storage.
	sdktest.StorageConformance(t, func(*testing.T) sdk.Storage { return s })

	ctx := context.Background()
	if _, err := s.Put(ctx, "kept/across/restarts", strings.NewReader("still here"), -1, sdk.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	pid := h.status(t, "storage-local").PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	sdktest.WaitFor(t, waitTimeout, "storage-local running again", func() bool {
		st := h.status(t, "storage-local")
		return st.State == StateRunning && st.Restarts == 1 && st.PID != pid
	})
	rc, info, err := s.Get(ctx, "kept/across/restarts", 6, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(b) != "here" || info.Size != 10 {
		t.Fatalf("Get after restart = %q (size %d), %v", b, info.Size, err)
	}
}

func TestRecorderThroughTheManager(t *testing.T) {
	dir := install(t, map[string]string{"vigil-plugin-recorder-test": testPlugin(t)})
	h := start(t, Config{Dir: dir})
	r, err := h.m.Recorder("test")
	if err != nil {
		t.Fatal(err)
	}
	var progress []int
	res, err := r.Render(context.Background(), sdk.RenderRequest{SessionID: "s1"}, func(p int) { progress = append(progress, p) })
	if err != nil || !slices.Equal(progress, []int{0, 50, 100}) || len(res.Files) != 1 || res.Files[0].Path != "s1.cast" {
		t.Fatalf("Render = %+v (progress %v), %v", res, progress, err)
	}
	info, err := r.Info(context.Background())
	if err != nil || info.Kind != sdk.KindRecorder || info.Name != "test" {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if got := h.m.Names(sdk.KindRecorder); !slices.Equal(got, []string{"test"}) {
		t.Fatalf("Names(recorder) = %v", got)
	}
}

func TestStopEndsEveryProcess(t *testing.T) {
	bin := testPlugin(t)
	dir := install(t, map[string]string{"vigil-plugin-logformat-a": bin, "vigil-plugin-recorder-b": bin})
	h := start(t, Config{Dir: dir})
	var pids []int
	for _, s := range h.m.Health() {
		if s.State != StateRunning {
			t.Fatalf("%+v", s)
		}
		pids = append(pids, s.PID)
	}
	h.m.Stop()
	h.m.Stop() // again: nothing happens
	for _, s := range h.m.Health() {
		if s.State != StateStopped || s.PID != 0 {
			t.Errorf("after Stop: %+v", s)
		}
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d still exists after Stop (kill -0: %v)", pid, err)
		}
	}
	for _, e := range h.eventsNamed("plugin.exit") {
		if e.Result != "stopped" {
			t.Errorf("exit on Stop reported as %+v", e)
		}
	}
	if n := len(h.eventsNamed("plugin.exit")); n != 2 {
		t.Errorf("%d plugin.exit events, want 2", n)
	}
}

func TestUnknownPluginsAndConfig(t *testing.T) {
	h := start(t, Config{Dir: t.TempDir()})
	if _, err := h.m.Storage("s3"); !errors.Is(err, ErrUnknownPlugin) || !strings.Contains(err.Error(), "vigil-plugin-storage-s3") {
		t.Errorf("Storage(s3) = %v", err)
	}
	if _, err := h.m.LogFormatter("json"); !errors.Is(err, ErrUnknownPlugin) {
		t.Errorf("LogFormatter(json) = %v", err)
	}
	if err := h.m.Start(context.Background()); err == nil {
		t.Error("a second Start succeeded")
	}
	for _, c := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no dir", Config{}, "pluginhost: config: no plugin dir"},
		{"unspoken version", Config{Dir: "/x", Accept: map[sdk.Kind][]int{sdk.KindStorage: {2}}},
			"pluginhost: config: accept: storage API version 2 is not one this build speaks [1]"},
		{"unknown kind", Config{Dir: "/x", Accept: map[sdk.Kind][]int{"video": {1}}}, `pluginhost: config: accept: unknown plugin kind "video"`},
		{"bad backoff", Config{Dir: "/x", Backoff: Backoff{Initial: time.Second}}, "pluginhost: config: backoff"},
	} {
		if _, err := New(c.cfg); err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: New = %v, want %q", c.name, err, c.want)
		}
	}
}

func TestOnlyEnabledPluginsRun(t *testing.T) {
	bin := testPlugin(t)
	dir := install(t, map[string]string{"vigil-plugin-logformat-a": bin, "vigil-plugin-storage-b": bin})
	h := start(t, Config{Dir: dir, Enabled: func(id string) bool { return id == "logformat-a" }})
	if s := h.status(t, "logformat-a"); s.State != StateRunning || s.PID == 0 {
		t.Errorf("enabled plugin: %+v", s)
	}
	if s := h.status(t, "storage-b"); s.State != StateDisabled || s.PID != 0 {
		t.Errorf("disabled plugin: %+v", s)
	}
	if n := len(h.eventsNamed("plugin.start")); n != 1 {
		t.Errorf("%d plugin.start events, want 1 (only the enabled plugin)", n)
	}
}
