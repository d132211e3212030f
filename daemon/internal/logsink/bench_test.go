package logsink

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/events"
	"github.com/vigilgw/vigil/daemon/internal/logsink/internal/rsyslogtest"
	"github.com/vigilgw/vigil/daemon/internal/logsink/syslog"
	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// e2eEvents is how many events one iteration of BenchmarkSyslogEndToEnd
// sends: enough for a sustained rate (seconds, dozens of journal
// segments and hundreds of Format calls) even at `make bench`'s
// -benchtime 1x.
const e2eEvents = 200_000

// e2ePublishers publish concurrently, as sessions do.
const e2ePublishers = 1024

// BenchmarkSyslogEndToEnd measures, for every log format, the sustained
// events/s from Publish through the event bus (durable journal), the real
// logformat plugin process (gRPC) and TCP syslog (RFC 5424, octet
// counting) into a real rsyslogd's file (vigil), against rsyslogd fed the
// same lines, already formatted, by the same syslog writer without bus or
// plugin (baseline): what the peer and the transport alone take in.
// Either side fails unless every event arrived, which it checks by the seq
// in each line rsyslogd wrote; duplicates (allowed, at least once) are
// reported.
func BenchmarkSyslogEndToEnd(b *testing.B) {
	for _, format := range []string{"json", "cef", "espaaa", "userlog"} {
		b.Run("format="+format, func(b *testing.B) {
			c := formatPlugin(b, format)
			f, err := c.LogFormatter()
			if err != nil {
				b.Fatal(err)
			}
			b.Run("baseline", func(b *testing.B) { benchSyslogDirect(b, f) })
			b.Run("vigil", func(b *testing.B) { benchEndToEnd(b, format, f, c.PID()) })
		})
	}
}

// formatPlugin launches the real logformat plugin of format.
func formatPlugin(t testing.TB, format string) *sdk.Client {
	t.Helper()
	name := "logformat-" + format
	path := sdktest.PluginBinary(t, "github.com/vigilgw/vigil/plugins/"+name, "vigil-plugin-"+name)
	return sdktest.Launch(t, sdk.KindLogFormat, path, []byte("{}"))
}

// benchEvent is the i-th event of the benchmark: logins, sessions,
// requests and recordings by many users, with the fields the core fills
// in (the bus sets Seq, Time, Host and Level).
func benchEvent(i int) event.Event {
	metrics := [...]string{"account.login.successful", "session.create", "http.request",
		"session.destroy", "account.login.failed_invalid_password", "recording.play"}
	user := "user" + strconv.Itoa(i%1000)
	return event.Event{MetricName: metrics[i%len(metrics)], Component: "ssh", Process: "vigild",
		Message:   "session " + strconv.Itoa(i) + " for " + user + " on db-prod",
		RequestIP: "192.0.2." + strconv.Itoa(i%250+1), RequestPort: strconv.Itoa(40000 + i%20000),
		UserAgent: "SSH-2.0-OpenSSH_9.2p1 Debian-2", UserName: user, UserID: "u-" + strconv.Itoa(i%1000),
		TargetName: "db-prod", VS: "10.0.0.1:22", RS: "10.1.0.5:22", Protocol: "ssh",
		SessionID: "s-" + strconv.Itoa(i), Result: "success",
		Extra: map[string]string{"bytes": strconv.Itoa(i * 64), "uri": "/sessions/" + strconv.Itoa(i)}}
}

// benchEndToEnd publishes b.N×e2eEvents events and times them until the
// last is in rsyslogd's file.
func benchEndToEnd(b *testing.B, format string, f sdk.LogFormatter, pluginPID int) {
	total := b.N * e2eEvents
	// Publishers cycle through a few thousand events: that many events
	// held in memory would make the collector's work, not the pipeline's,
	// the figure.
	evs := make([]event.Event, 4096)
	for i := range evs {
		evs[i] = benchEvent(i)
	}
	srv := rsyslogtest.Start(b)
	bus := openBus(b, b.TempDir(), events.Config{})
	s, err := New(Config{Name: "siem", Type: TypeSyslog, Format: format, Address: srv.TCPAddr}, bus, f, Options{})
	if err != nil {
		b.Fatal(err)
	}
	runSink(b, s)
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTimes(b, pluginPID, srv.PID())
	var wg sync.WaitGroup
	for p := range e2ePublishers {
		wg.Go(func() {
			for i := p; i < total; i += e2ePublishers {
				if err := bus.Publish(evs[i%len(evs)]); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	published := time.Since(start)
	waitLines(b, srv, total)
	elapsed, cpu := time.Since(start), cpuTimes(b, pluginPID, srv.PID())
	b.StopTimer()
	dups := checkSeqs(b, srv, total)
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(total)/published.Seconds(), "published/s")
	reportCPU(b, total, cpu0, cpu, "vigild", "plugin", "rsyslogd")
	b.ReportMetric(float64(dups), "duplicates")
}

// benchSyslogDirect formats the same events once, outside the timer, and
// times their lines written by a syslog writer, in batches as large as a
// sink's, until the last is in rsyslogd's file.
func benchSyslogDirect(b *testing.B, f sdk.LogFormatter) {
	total := b.N * e2eEvents
	t0 := time.Now()
	evs := make([]event.Event, total)
	for i := range evs {
		evs[i] = benchEvent(i)
		evs[i].Seq, evs[i].Time, evs[i].Host, evs[i].Level = uint64(i+1), t0, "vigil1", event.LevelInfo
	}
	lines := make([][]byte, 0, total)
	for start := 0; start < total; start += defaultBatch {
		l, err := f.Format(context.Background(), evs[start:min(start+defaultBatch, total)])
		if err != nil {
			b.Fatal(err)
		}
		lines = append(lines, l...)
	}
	srv := rsyslogtest.Start(b)
	cfg := Config{Name: "siem", Type: TypeSyslog, Format: "json", Address: srv.TCPAddr}
	if err := cfg.CheckAndSetDefaults(); err != nil {
		b.Fatal(err)
	}
	w, err := syslog.New(cfg.syslogConfig(0, nil))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTimes(b, srv.PID())
	for i := 0; i < total; i += defaultBatch {
		end := min(i+defaultBatch, total)
		if err := w.Write(context.Background(), evs[i:end], lines[i:end]); err != nil {
			b.Fatal(err)
		}
	}
	waitLines(b, srv, total)
	elapsed, cpu := time.Since(start), cpuTimes(b, srv.PID())
	b.StopTimer()
	dups := checkSeqs(b, srv, total)
	b.ReportMetric(float64(total)/elapsed.Seconds(), "events/s")
	reportCPU(b, total, cpu0, cpu, "writer", "rsyslogd")
	b.ReportMetric(float64(dups), "duplicates")
}

// waitLines waits until rsyslogd wrote n lines, or fails after a minute
// without a new one.
func waitLines(b *testing.B, srv *rsyslogtest.Server, n int) {
	b.Helper()
	last, progress := 0, time.Now()
	for {
		got := srv.CountLines()
		if got >= n {
			return
		}
		if got > last {
			last, progress = got, time.Now()
		} else if time.Since(progress) > time.Minute {
			b.Fatalf("rsyslogd wrote %d of %d lines, and no more for a minute", got, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkSeqs reads rsyslogd's file and fails unless every seq from 1 to n
// is in it; it returns the number of duplicates.
func checkSeqs(b *testing.B, srv *rsyslogtest.Server, n int) (dups int) {
	b.Helper()
	seen := make([]uint8, n+1)
	const marker = "[" + syslog.SDID + ` seq="`
	for _, l := range srv.Lines() {
		_, rest, ok := strings.Cut(l, marker)
		end := strings.IndexByte(rest, '"')
		seq, err := strconv.Atoi(rest[:max(end, 0)])
		if !ok || err != nil || seq < 1 || seq > n {
			b.Fatalf("rsyslogd wrote a line without a seq from 1 to %d: %.200q", n, l)
		}
		if seen[seq] > 0 {
			dups++
		}
		seen[seq] = 1
	}
	for seq := 1; seq <= n; seq++ {
		if seen[seq] == 0 {
			b.Fatalf("event %d of %d never reached rsyslogd", seq, n)
		}
	}
	return dups
}

// cpuTimes are the CPU times, user and system, used so far by this
// process (the bus, the sink, the publishers; or the bare syslog writer)
// and by the processes pids (the plugin, rsyslogd), in that order. Unlike
// events/s, they hardly depend on what else the machine runs.
func cpuTimes(b *testing.B, pids ...int) []time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	out := []time.Duration{time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	for _, pid := range pids {
		raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			b.Fatal(err)
		}
		// Fields after the command (which may hold spaces): utime and
		// stime are the 12th and 13th, in clock ticks of 1/100 s.
		s := string(raw)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) < 13 {
			b.Fatalf("/proc/%d/stat: %q", pid, s)
		}
		var t time.Duration
		for _, v := range f[11:13] {
			ticks, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatalf("/proc/%d/stat: %v", pid, err)
			}
			t += time.Duration(ticks) * 10 * time.Millisecond
		}
		out = append(out, t)
	}
	return out
}

// reportCPU reports the CPU time per event of the whole pipeline
// (cpu-us/event, which benchratio compares) and of each process, named as
// cpuTimes ordered them.
func reportCPU(b *testing.B, events int, before, after []time.Duration, names ...string) {
	var total time.Duration
	for i, name := range names {
		d := after[i] - before[i]
		total += d
		b.ReportMetric(float64(d.Microseconds())/float64(events), name+"-cpu-us/event")
	}
	b.ReportMetric(float64(total.Microseconds())/float64(events), "cpu-us/event")
}
