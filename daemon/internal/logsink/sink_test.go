package logsink

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/vigilgw/vigil/daemon/internal/events"
	"github.com/vigilgw/vigil/daemon/internal/logsink/internal/rsyslogtest"
	"github.com/vigilgw/vigil/daemon/internal/logsink/syslog"
	"github.com/vigilgw/vigil/daemon/internal/pluginhost"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// jsonFormatter is a small JSON log format for these tests (the real ones
// are plugins). It fails its first failures calls.
type jsonFormatter struct {
	failures atomic.Int32
	calls    atomic.Int32
}

func (*jsonFormatter) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Kind: sdk.KindLogFormat, Name: "json", Version: "test", APIVersions: []int{1}}, nil
}

func (*jsonFormatter) Configure(context.Context, []byte) error { return nil }

var errPluginDown = errors.New("plugin restarting")

func (f *jsonFormatter) Format(_ context.Context, evs []event.Event) ([][]byte, error) {
	if f.calls.Add(1) <= f.failures.Load() {
		return nil, errPluginDown
	}
	out := make([][]byte, len(evs))
	for i := range evs {
		b, err := json.Marshal(&evs[i])
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

var _ sdk.LogFormatter = (*jsonFormatter)(nil)

func openBus(t testing.TB, dir string, cfg events.Config) *events.Bus {
	t.Helper()
	cfg.Dir = dir
	if cfg.MaintainInterval == 0 {
		cfg.MaintainInterval = 50 * time.Millisecond
	}
	b, err := events.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// runSink starts s and stops it (waiting for Run to return) at cleanup.
func runSink(t testing.TB, s *Sink) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("sink run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func publish(t testing.TB, b *events.Bus, from, n int, comp string) {
	t.Helper()
	if err := publishEvents(b, from, n, comp); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// publishEvents publishes events from..from+n-1 in batches of 100.
func publishEvents(b *events.Bus, from, n int, comp string) error {
	batch := make([]event.Event, 0, 100)
	for i := from; i < from+n; i++ {
		batch = append(batch, event.Event{MetricName: "session.create", Component: comp,
			Message: "event " + strconv.Itoa(i), SessionID: "s-" + strconv.Itoa(i)})
		if len(batch) == cap(batch) || i == from+n-1 {
			if err := b.PublishBatch(batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return nil
}

// received parses rsyslogd's lines and returns how often each Seq came,
// and the log.sink.dropped events among them.
func received(t testing.TB, lines []string) (map[uint64]int, []event.Event) {
	t.Helper()
	p := rfc5424.NewParser()
	seen := map[uint64]int{}
	var drops []event.Event
	for _, l := range lines {
		m, err := p.Parse([]byte(l))
		if err != nil {
			t.Fatalf("rsyslogd wrote an unparsable message %q: %v", l, err)
		}
		sm := m.(*rfc5424.SyslogMessage)
		seq, err := strconv.ParseUint((*sm.StructuredData)[syslog.SDID]["seq"], 10, 64)
		if err != nil {
			t.Fatalf("no seq in %q", l)
		}
		seen[seq]++
		var e event.Event
		if err := json.Unmarshal([]byte(*sm.Message), &e); err != nil || e.Seq != seq {
			t.Fatalf("message of seq %d is not its event: %q (%v)", seq, *sm.Message, err)
		}
		if e.MetricName == events.MetricSinkDropped {
			drops = append(drops, e)
		}
	}
	return seen, drops
}

// checkAllArrived fails unless every seq from 1 to head came at least once.
func checkAllArrived(t testing.TB, seen map[uint64]int, head uint64) (dups int) {
	t.Helper()
	for s := uint64(1); s <= head; s++ {
		switch n := seen[s]; {
		case n == 0:
			t.Fatalf("seq %d never arrived (of %d)", s, head)
		case n > 1:
			dups += n - 1
		}
	}
	return dups
}

func TestConfigDefaultsAndErrors(t *testing.T) {
	good := Config{Name: "siem", Type: TypeSyslog, Format: "cef", Address: "127.0.0.1:514"}
	if err := good.CheckAndSetDefaults(); err != nil || good.Facility != "local0" {
		t.Fatalf("good config: %v %+v", err, good)
	}
	f := Config{Name: "json", Type: TypeFile, Format: "json"}
	if err := f.CheckAndSetDefaults(); err != nil || f.Path != "{component}_json.log" {
		t.Fatalf("file defaults: %v %q", err, f.Path)
	}
	tests := []struct {
		cfg Config
		key string
	}{
		{Config{Name: "a b", Type: TypeFile, Format: "json"}, "name"},
		{Config{Name: "x", Type: TypeFile}, "format"},
		{Config{Name: "x", Type: "kafka", Format: "json"}, "type"},
		{Config{Name: "x", Type: TypeSyslog, Format: "json"}, "address"},
		{Config{Name: "x", Type: TypeSyslog, Format: "json", Address: "h:1", Facility: "local9"}, "facility"},
		{Config{Name: "x", Type: TypeSyslog, Format: "json", Address: "h:1", Path: "p"}, "path"},
		{Config{Name: "x", Type: TypeFile, Format: "json", Components: []string{" "}}, "components"},
	}
	for _, tt := range tests {
		err := tt.cfg.CheckAndSetDefaults()
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), ": "+tt.key+":") {
			t.Errorf("%+v: %v, want an error naming %s", tt.cfg, err, tt.key)
		}
	}
}

func TestFileSinkPerComponentWithFilterAndRetries(t *testing.T) {
	logDir := t.TempDir()
	b := openBus(t, t.TempDir(), events.Config{})
	f := &jsonFormatter{}
	f.failures.Store(2)
	s, err := New(Config{Name: "json", Type: TypeFile, Format: "json", Components: []string{"ssh", "WUI"}},
		b, f, Options{LogDir: logDir, MaxBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, b, 0, 50, "ssh")
	publish(t, b, 50, 30, "core")
	publish(t, b, 80, 20, "wui")
	runSink(t, s)
	sdktest.WaitFor(t, 10*time.Second, "backlog drained", func() bool { return s.Status().Backlog == 0 })
	tests := []struct {
		file  string
		first uint64
		n     int
	}{
		{"ssh_json.log", 1, 50},
		{"wui_json.log", 81, 20},
	}
	for _, tt := range tests {
		raw, err := os.ReadFile(filepath.Join(logDir, tt.file))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
		if len(lines) != tt.n {
			t.Fatalf("%s: %d lines, want %d", tt.file, len(lines), tt.n)
		}
		for i, l := range lines {
			var e event.Event
			if err := json.Unmarshal([]byte(l), &e); err != nil || e.Seq != tt.first+uint64(i) {
				t.Fatalf("%s line %d: %q (%v)", tt.file, i, l, err)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(logDir, "core_json.log")); !os.IsNotExist(err) {
		t.Fatalf("filtered component written: %v", err)
	}
	st := s.Status()
	if !st.Connected || !strings.Contains(st.LastError, errPluginDown.Error()) || st.Delivered != 100 {
		t.Fatalf("status %+v", st)
	}
}

func TestForgetRemoved(t *testing.T) {
	b := openBus(t, t.TempDir(), events.Config{})
	logDir := t.TempDir()
	var cfgs []Config
	for _, name := range []string{"kept", "removed"} {
		cfg := Config{Name: name, Type: TypeFile, Format: "json"}
		s, err := New(cfg, b, &jsonFormatter{}, Options{LogDir: logDir})
		if err != nil {
			t.Fatal(err)
		}
		runSink(t, s)()
		if name == "kept" {
			cfgs = append(cfgs, cfg)
		}
	}
	other, err := b.Consumer("index", events.ConsumerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	if err := ForgetRemoved(b, cfgs); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, st := range b.Consumers() {
		names = append(names, st.Name)
	}
	if strings.Join(names, " ") != "index sink.kept" {
		t.Fatalf("consumers left: %v", names)
	}
}

// TestSyslogSinkSurvivesRsyslogRestart stops rsyslogd under a steady stream
// of events and starts it again later: every event arrives.
func TestSyslogSinkSurvivesRsyslogRestart(t *testing.T) {
	srv := rsyslogtest.Start(t)
	b := openBus(t, t.TempDir(), events.Config{})
	s, err := New(Config{Name: "siem", Type: TypeSyslog, Format: "json", Address: srv.TCPAddr},
		b, &jsonFormatter{}, Options{Settle: time.Second, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runSink(t, s)

	const total = 30000
	var published atomic.Int64
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < total; i += 50 {
			<-tick.C // a steady stream: 10k events/s
			publish(t, b, i, 50, "ssh")
			published.Add(50)
		}
	}()
	srv.WaitLines(3000, 20*time.Second)
	srv.Stop()
	stoppedAt := published.Load()
	sdktest.WaitFor(t, 20*time.Second, "sink to notice the outage", func() bool {
		st := s.Status()
		return !st.Connected && st.LastError != ""
	})
	sdktest.WaitFor(t, 20*time.Second, "5000 more events published during the outage", func() bool {
		return published.Load() >= stoppedAt+5000
	})
	if st := s.Status(); st.Backlog == 0 {
		t.Fatalf("no backlog during the outage: %+v", st)
	}
	srv.Start()
	<-pubDone
	sdktest.WaitFor(t, 60*time.Second, "every event at rsyslogd", func() bool {
		return srv.CountLines() >= total
	})
	sdktest.WaitFor(t, 60*time.Second, "every seq at rsyslogd", func() bool {
		seen, _ := received(t, srv.Lines())
		for s := uint64(1); s <= total; s++ {
			if seen[s] == 0 {
				return false
			}
		}
		return true
	})
	seen, _ := received(t, srv.Lines())
	dups := checkAllArrived(t, seen, total)
	t.Logf("%d events, all arrived; %d duplicates (resent after the outage)", total, dups)
	sdktest.WaitFor(t, 20*time.Second, "backlog drained", func() bool { return s.Status().Backlog == 0 })
	if st := s.Status(); st.Dropped != 0 || !st.Connected {
		t.Fatalf("status %+v", st)
	}
}

const crashChildEnv = "VIGIL_LOGSINK_CRASH_CHILD"

// TestMain runs this test binary as the process TestSyslogSinkSurvivesKill9
// kills when crashChildEnv is set, and as the tests otherwise.
func TestMain(m *testing.M) {
	if spec := os.Getenv(crashChildEnv); spec != "" {
		crashChild(spec)
	}
	os.Exit(m.Run())
}

// crashChild is the process killed by TestSyslogSinkSurvivesKill9: it
// holds the bus and a syslog sink, publishes, and is killed.
func crashChild(spec string) {
	dir, addr, _ := strings.Cut(spec, ",")
	b, err := events.Open(events.Config{Dir: dir, MaintainInterval: 20 * time.Millisecond})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	s, err := New(Config{Name: "siem", Type: TypeSyslog, Format: "json", Address: addr},
		b, &jsonFormatter{}, Options{Settle: 200 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	go s.Run(context.Background())
	in := bufio.NewScanner(os.Stdin)
	if err := publishEvents(b, 0, 2000, "ssh"); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("phase1")
	in.Scan() // the parent stopped rsyslogd
	if err := publishEvents(b, 2000, 3000, "ssh"); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("published 5000")
	in.Scan() // never: killed
	os.Exit(0)
}

func TestSyslogSinkSurvivesKill9(t *testing.T) {
	srv := rsyslogtest.Start(t)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir+","+srv.TCPAddr)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	out := bufio.NewScanner(stdout)
	expect := func(want string) {
		t.Helper()
		for out.Scan() {
			if out.Text() == want {
				return
			}
			if strings.HasPrefix(out.Text(), "error") {
				t.Fatal(out.Text())
			}
		}
		t.Fatalf("child ended before %q", want)
	}
	expect("phase1")
	srv.WaitLines(2000, 30*time.Second)
	// The SIEM goes away; the child goes on publishing into its journal,
	// then dies without any chance to clean up.
	srv.Stop()
	fmt.Fprintln(stdin, "go")
	expect("published 5000")
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	srv.Start()
	b := openBus(t, dir, events.Config{})
	s, err := New(Config{Name: "siem", Type: TypeSyslog, Format: "json", Address: srv.TCPAddr},
		b, &jsonFormatter{}, Options{Settle: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runSink(t, s)
	sdktest.WaitFor(t, 60*time.Second, "all 5000 events at rsyslogd", func() bool {
		seen, _ := received(t, srv.Lines())
		for s := uint64(1); s <= 5000; s++ {
			if seen[s] == 0 {
				return false
			}
		}
		return true
	})
	seen, _ := received(t, srv.Lines())
	t.Logf("all 5000 arrived after kill -9; %d duplicates", checkAllArrived(t, seen, 5000))
}

// TestSyslogSinkDropsOldestOverBuffer: a sink whose SIEM is down longer
// than its buffer holds loses its oldest events, says how many in a
// log.sink.dropped event that reaches the SIEM, and loses nothing else.
func TestSyslogSinkDropsOldestOverBuffer(t *testing.T) {
	srv := rsyslogtest.Start(t)
	srv.Stop()
	b := openBus(t, t.TempDir(), events.Config{SegmentMaxBytes: 8 << 10, MaintainInterval: 20 * time.Millisecond})
	s, err := New(Config{Name: "siem", Type: TypeSyslog, Format: "json", Address: srv.TCPAddr, BufferMaxBytes: 64 << 10},
		b, &jsonFormatter{}, Options{Settle: 100 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runSink(t, s)
	publish(t, b, 0, 3000, "ssh")
	sdktest.WaitFor(t, 10*time.Second, "drops counted", func() bool { return s.Status().Dropped > 0 })
	srv.Start()
	sdktest.WaitFor(t, 30*time.Second, "backlog drained", func() bool { return s.Status().Backlog == 0 })
	dropped := s.Status().Dropped
	seen, drops := received(t, srv.WaitLines(1, time.Second))
	// A drop event can itself be among the events a later drop skips;
	// dropped_total, cumulative, makes the last one tell the whole loss.
	var reported uint64
	for _, d := range drops {
		if d.Extra["sink"] != "siem" || d.Level != event.LevelError {
			t.Fatalf("drop event %+v", d)
		}
		n, _ := strconv.ParseUint(d.Extra["dropped_total"], 10, 64)
		reported = max(reported, n)
	}
	head := b.Head()
	var missing uint64
	for q := uint64(1); q <= head; q++ {
		if seen[q] == 0 {
			missing++
		}
	}
	// Dropped counts what was skipped before it was confirmed delivered: an
	// event in flight when the limit struck may still have arrived, so the
	// count bounds the loss from above and is never below it.
	if reported != dropped || missing > dropped || missing == 0 {
		t.Fatalf("dropped %d, reported in events %d, missing at rsyslogd %d (of %d)", dropped, reported, missing, head)
	}
	if len(drops) == 0 {
		t.Fatal("no log.sink.dropped event arrived")
	}
	t.Logf("%d of %d events counted dropped (%d missing), all reported; the rest arrived", dropped, head, missing)
}

// jsonPlugin launches the real logformat-json plugin as a process.
func jsonPlugin(t testing.TB) sdk.LogFormatter {
	t.Helper()
	path := sdktest.PluginBinary(t, "github.com/vigilgw/vigil/plugins/logformat-json", "vigil-plugin-logformat-json")
	return sdktest.LaunchLogFormatter(t, path, []byte("{}"))
}

// TestPluginEndToEnd runs the real JSON plugin process behind a file sink
// and a syslog sink on one bus.
func TestPluginEndToEnd(t *testing.T) {
	srv := rsyslogtest.Start(t)
	f := jsonPlugin(t)
	b := openBus(t, t.TempDir(), events.Config{})
	logDir := t.TempDir()
	for _, cfg := range []Config{
		{Name: "files", Type: TypeFile, Format: "json"},
		{Name: "siem", Type: TypeSyslog, Format: "json", Address: srv.TCPAddr, Components: []string{"ssh"}},
	} {
		s, err := New(cfg, b, f, Options{LogDir: logDir, Settle: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		runSink(t, s)
	}
	publish(t, b, 0, 1500, "ssh")
	publish(t, b, 1500, 500, "wui")
	lines := srv.WaitLines(1500, 30*time.Second)
	seen, _ := received(t, lines)
	if dups := checkAllArrived(t, seen, 1500); dups != 0 || len(seen) != 1500 {
		t.Fatalf("%d distinct, %d duplicates at rsyslogd", len(seen), dups)
	}
	for comp, want := range map[string]int{"ssh": 1500, "wui": 500} {
		path := filepath.Join(logDir, comp+"_json.log")
		sdktest.WaitFor(t, 10*time.Second, path, func() bool {
			raw, _ := os.ReadFile(path)
			return strings.Count(string(raw), "\n") == want
		})
	}
}

// TestSyslogSinkSurvivesPluginKill9: the real JSON plugin, supervised as
// vigild supervises it, is killed with SIGKILL twice under a steady event
// stream; the Format calls it had in flight fail, the sink retries those
// batches once the plugin is back, and every event reaches rsyslogd.
func TestSyslogSinkSurvivesPluginKill9(t *testing.T) {
	srv := rsyslogtest.Start(t)
	bin := sdktest.PluginBinary(t, "github.com/vigilgw/vigil/plugins/logformat-json", "vigil-plugin-logformat-json")
	dir := t.TempDir()
	raw, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(bin)), raw, 0o755); err != nil {
		t.Fatal(err)
	}
	m, err := pluginhost.New(pluginhost.Config{Dir: dir, Logger: sdktest.TestLogger(t, "pluginhost"),
		Backoff: pluginhost.Backoff{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond, StableAfter: time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	f, err := m.LogFormatter("json")
	if err != nil {
		t.Fatal(err)
	}
	b := openBus(t, t.TempDir(), events.Config{})
	s, err := New(Config{Name: "siem", Type: TypeSyslog, Format: "json", Address: srv.TCPAddr}, b, f,
		Options{Settle: 100 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runSink(t, s)
	pid := func() int {
		for _, st := range m.Health() {
			if st.Kind == sdk.KindLogFormat && st.Name == "json" && st.State == pluginhost.StateRunning {
				return st.PID
			}
		}
		return 0
	}
	const batches, per = 300, 100
	kills := 0
	for i := range batches {
		publish(t, b, i*per, per, "ssh")
		time.Sleep(5 * time.Millisecond)
		if i == batches/3 || i == 2*batches/3 {
			var p int
			sdktest.WaitFor(t, 30*time.Second, "the plugin running", func() bool { p = pid(); return p > 0 })
			if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
				t.Fatalf("kill -9 the plugin (pid %d): %v", p, err)
			}
			kills++
		}
	}
	sdktest.WaitFor(t, 60*time.Second, "every event at rsyslogd", func() bool { return srv.CountLines() >= batches*per })
	sdktest.WaitFor(t, 10*time.Second, "every event confirmed", func() bool { return s.Status().Backlog == 0 })
	seen, _ := received(t, srv.Lines())
	dups := checkAllArrived(t, seen, batches*per)
	if st := s.Status(); st.LastError == "" {
		t.Errorf("the sink saw no failure across %d kills of its plugin: %+v", kills, st)
	} else {
		t.Logf("%d events arrived across %d kills of the plugin (%d duplicates); the sink's last error: %s",
			batches*per, kills, dups, st.LastError)
	}
}
