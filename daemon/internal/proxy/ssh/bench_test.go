package sshproxy

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vigilgw/vigil/daemon/internal/admission"
	"github.com/vigilgw/vigil/daemon/internal/sessions"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// The benchmarks pair a "baseline" (a Go SSH client straight to the real
// sshd) with "vigil" (the same client through the gateway to the same
// sshd), with the same cipher and key exchange on every hop, so that
// `make bench` can print vigil/baseline ratios. The gateway records through
// the real capture writer (plugins/sdk/capture: hash chain, signed
// checkpoints, file writes, fsync at the end), so the cost of recording is
// in the figures; sealed segments are deleted so long runs do not fill the
// disk.

type discardEvents struct{}

func (discardEvents) Publish(event.Event) error { return nil }

// bulkFile is a file of printable lines on the target, made once.
var (
	bulkOnce  sync.Once
	bulkPaths = map[int]string{}
	bulkErr   error
)

func bulkFile(b testing.TB, s *targetSSHD, mib int) string {
	b.Helper()
	bulkOnce.Do(func() {
		for _, size := range []int{10, 64} {
			path := filepath.Join(s.dir, fmt.Sprintf("bulk-%dm.txt", size))
			f, err := os.Create(path)
			if err != nil {
				bulkErr = err
				return
			}
			w := bufio.NewWriter(f)
			rng := mrand.New(mrand.NewPCG(1, 2))
			raw := make([]byte, 57)
			line := make([]byte, 77)
			for written := 0; written < size<<20; written += len(line) {
				for i := range raw {
					raw[i] = byte(rng.Uint32())
				}
				base64.StdEncoding.Encode(line, raw)
				line[76] = '\n'
				w.Write(line)
			}
			if err := w.Flush(); err != nil {
				bulkErr = err
			}
			f.Close()
			bulkPaths[size] = path
		}
	})
	if bulkErr != nil {
		b.Fatal(bulkErr)
	}
	return bulkPaths[mib]
}

func fileSize(b testing.TB, path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return st.Size()
}

// benchAlgorithms is the one cipher and key exchange used on every hop.
var benchAlgorithms = ssh.Config{
	Ciphers:      []string{ssh.CipherAES128GCM},
	KeyExchanges: []string{ssh.KeyExchangeCurve25519},
}

type benchSide struct {
	addr    string
	user    string
	key     ssh.Signer
	hostKey ssh.PublicKey
}

func (s benchSide) dial(b testing.TB) *ssh.Client {
	b.Helper()
	c, err := ssh.Dial("tcp", s.addr, &ssh.ClientConfig{
		User: s.user, Auth: []ssh.AuthMethod{ssh.PublicKeys(s.key)},
		HostKeyCallback: ssh.FixedHostKey(s.hostKey), Config: benchAlgorithms, Timeout: 30 * time.Second,
	})
	if err != nil {
		b.Fatalf("dial %s as %s: %v", s.addr, s.user, err)
	}
	return c
}

// warmUp runs an untimed session on each side, so neither measurement
// pays for first use (page cache, pools, sshd's first fork).
func warmUp(b *testing.B, path string, sides ...benchSide) {
	b.Helper()
	for _, side := range sides {
		c := side.dial(b)
		catOnce(b, c, path, true)
		c.Close()
	}
}

// benchSides starts a recording gateway and returns both sides.
func benchSides(b *testing.B) (baseline, vigil benchSide, s *targetSSHD) {
	baseline, vigil, s, _ = benchSidesRecorder(b)
	return baseline, vigil, s
}

// benchSidesRecorder is benchSides that also returns the gateway's recorder.
func benchSidesRecorder(b *testing.B) (baseline, vigil benchSide, s *targetSSHD, rec *captureRecorder) {
	b.Helper()
	rec = newCaptureRecorder(b, true)
	g := newGateway(b, func(cfg *Config, g *gateway) {
		cfg.Recorder = rec
		cfg.Events = discardEvents{}
		g.targets.pins["id-web01"] = ssh.MarshalAuthorizedKey(g.sshd.hostKey)
	})
	baseline = benchSide{addr: g.sshd.addr(), user: "root", key: g.sshd.clientKey, hostKey: g.sshd.hostKey}
	vigil = benchSide{addr: g.addr, user: "alice:web01", key: g.aliceKey, hostKey: g.srv.HostKey()}
	return baseline, vigil, g.sshd, rec
}

// catOnce runs "cat path" in a new session, with a PTY or not, and returns
// the bytes received.
func catOnce(b testing.TB, c *ssh.Client, path string, pty bool) int64 {
	sess, err := c.NewSession()
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	if pty {
		if err := sess.RequestPty("xterm", 50, 200, ssh.TerminalModes{ssh.ECHO: 0}); err != nil {
			b.Fatal(err)
		}
	}
	out, err := sess.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var tail, stderr tailWriter
	sess.Stderr = &stderr
	if err := sess.Start("cat " + path); err != nil {
		b.Fatal(err)
	}
	n, err := io.Copy(&tail, out)
	if err != nil {
		b.Fatal(err)
	}
	if err := sess.Wait(); err != nil {
		b.Fatalf("cat: %v; output ends with %q, stderr %q", err, tail.b, stderr.b)
	}
	return n
}

// tailWriter keeps the last bytes written to it, for error messages.
type tailWriter struct{ b []byte }

func (w *tailWriter) Write(p []byte) (int, error) {
	const keep = 200
	if len(p) >= keep {
		w.b = append(w.b[:0], p[len(p)-keep:]...)
	} else {
		w.b = append(w.b, p...)
		if len(w.b) > keep {
			w.b = w.b[len(w.b)-keep:]
		}
	}
	return len(p), nil
}

// benchBulk runs "cat path" on both sides, b.N times on one connection.
// On the vigil side it also reports capture-B/output-B: the bytes of the
// sealed capture per byte of output (the session's records of commands,
// metadata and exit status included).
func benchBulk(b *testing.B, pty bool, path func(testing.TB, *targetSSHD) string) {
	baseline, vigil, s, rec := benchSidesRecorder(b)
	file := path(b, s)
	size := fileSize(b, file)
	warmUp(b, file, baseline, vigil)
	for _, side := range []struct {
		name string
		s    benchSide
	}{{"baseline", baseline}, {"vigil", vigil}} {
		b.Run(side.name, func(b *testing.B) {
			sealed0 := rec.settledSealedBytes(b)
			c := side.s.dial(b)
			b.SetBytes(size)
			b.ResetTimer()
			cpu0 := processCPU(b)
			for i := 0; i < b.N; i++ {
				if n := catOnce(b, c, file, pty); n < size {
					b.Fatalf("received %d of %d bytes", n, size)
				}
			}
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
			b.StopTimer()
			c.Close()
			if side.name == "vigil" {
				captured := rec.settledSealedBytes(b) - sealed0
				b.ReportMetric(float64(captured)/float64(int64(b.N)*size), "capture-B/output-B")
			}
		})
	}
}

// processCPU is the user and system CPU time this process has used. In
// the bulk benchmarks it is the client's alone on the baseline side, the
// client's and the gateway's on the vigil side: a figure the load of the
// machine does not skew the way it skews throughput.
func processCPU(b testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func textFile(b testing.TB, s *targetSSHD) string { return bulkFile(b, s, 64) }

// BenchmarkPTYBulk: 64 MiB of terminal output through a PTY, recorded.
// cpu-ms/op is this process's CPU time per op (see processCPU).
func BenchmarkPTYBulk(b *testing.B) { benchBulk(b, true, textFile) }

// BenchmarkExecBulk: 64 MiB of command output without a PTY, recorded.
func BenchmarkExecBulk(b *testing.B) { benchBulk(b, false, textFile) }

// BenchmarkExecBulkNUL: 64 MiB of NUL bytes without a PTY, recorded:
// binary output must not cost more capture bytes than text.
func BenchmarkExecBulkNUL(b *testing.B) {
	benchBulk(b, false, func(b testing.TB, s *targetSSHD) string {
		path := filepath.Join(s.dir, "bulk-64m.nul")
		if err := os.WriteFile(path, make([]byte, 64<<20), 0o644); err != nil {
			b.Fatal(err)
		}
		return path
	})
}

// BenchmarkEchoRTT: one keystroke to a raw-mode "cat" on a PTY and back.
// Each op is 200 round trips; p50 and p99 are over all of them.
func BenchmarkEchoRTT(b *testing.B) {
	baseline, vigil, s := benchSides(b)
	warmUp(b, bulkFile(b, s, 10), baseline, vigil)
	const perOp = 200
	for _, side := range []struct {
		name string
		s    benchSide
	}{{"baseline", baseline}, {"vigil", vigil}} {
		b.Run(side.name, func(b *testing.B) {
			c := side.s.dial(b)
			defer c.Close()
			sess, err := c.NewSession()
			if err != nil {
				b.Fatal(err)
			}
			defer sess.Close()
			if err := sess.RequestPty("xterm", 24, 80, ssh.TerminalModes{ssh.ECHO: 0}); err != nil {
				b.Fatal(err)
			}
			in, _ := sess.StdinPipe()
			out, _ := sess.StdoutPipe()
			if err := sess.Start("stty raw -echo; echo READY; exec cat"); err != nil {
				b.Fatal(err)
			}
			r := bufio.NewReader(out)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					b.Fatalf("waiting for READY: %v", err)
				}
				if strings.Contains(line, "READY") {
					break
				}
			}
			var samples []time.Duration
			buf := []byte{'x'}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := 0; j < perOp; j++ {
					t0 := time.Now()
					if _, err := in.Write(buf); err != nil {
						b.Fatal(err)
					}
					if _, err := r.ReadByte(); err != nil {
						b.Fatal(err)
					}
					samples = append(samples, time.Since(t0))
				}
			}
			b.StopTimer()
			sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
			p := func(q float64) float64 {
				return float64(samples[int(q*float64(len(samples)-1))]) / float64(time.Microsecond)
			}
			b.ReportMetric(p(0.50), "p50-µs")
			b.ReportMetric(p(0.99), "p99-µs")
			in.Close()
		})
	}
}

// BenchmarkConnect: dial, key exchange, authentication, a session running
// "true", close. Through the gateway this includes the gateway's own login
// to the target, the admission check and opening the capture. Each op is
// 10 connections in a row.
func BenchmarkConnect(b *testing.B) {
	baseline, vigil, s := benchSides(b)
	warmUp(b, bulkFile(b, s, 10), baseline, vigil)
	const perOp = 10
	for _, side := range []struct {
		name string
		s    benchSide
	}{{"baseline", baseline}, {"vigil", vigil}} {
		b.Run(side.name, func(b *testing.B) {
			var samples []time.Duration
			for i := 0; i < b.N; i++ {
				for j := 0; j < perOp; j++ {
					t0 := time.Now()
					c := side.s.dial(b)
					sess, err := c.NewSession()
					if err != nil {
						b.Fatal(err)
					}
					if err := sess.Run("true"); err != nil {
						b.Fatal(err)
					}
					c.Close()
					samples = append(samples, time.Since(t0))
				}
			}
			sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
			b.ReportMetric(float64(samples[len(samples)/2])/float64(time.Millisecond), "ms/connect")
		})
	}
}

// BenchmarkConcurrent100: 100 sessions at once, each with its own
// connection, each printing 10 MiB through a PTY. ns/op is the wall time
// of the whole batch. On the vigil side the gateway runs in a child
// process (this test binary in helper mode) so that its memory can be
// measured alone: rss-KiB/session is (peak RSS during the batches - RSS of
// the fresh gateway) / 100, sampled from /proc every 10 ms, and
// peak-rss-MiB the peak itself. The clients and sshd are not counted.
func BenchmarkConcurrent100(b *testing.B) {
	const sessions = 100
	s := requireSSHD(b)
	path := bulkFile(b, s, 10)
	size := fileSize(b, path)
	run := func(b *testing.B, side benchSide, sample func() int64) {
		b.SetBytes(size * sessions)
		var before, peak int64
		if sample != nil {
			before = sample() // the fresh gateway, before any session
			peak = before
		}
		for i := 0; i < b.N; i++ {
			stop := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				if sample == nil {
					return
				}
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						peak = max(peak, sample())
					}
				}
			}()
			var wg sync.WaitGroup
			errs := make(chan error, sessions)
			for j := 0; j < sessions; j++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := side.dial(b)
					defer c.Close()
					if n := catOnce(b, c, path, true); n < size {
						errs <- fmt.Errorf("session got %d of %d bytes", n, size)
					}
				}()
			}
			wg.Wait()
			close(stop)
			<-sampled
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
		}
		if sample != nil {
			b.ReportMetric(float64(peak-before)/sessions, "rss-KiB/session")
			b.ReportMetric(float64(peak)/1024, "peak-rss-MiB")
		}
	}
	b.Run("baseline", func(b *testing.B) {
		run(b, benchSide{addr: s.addr(), user: "root", key: s.clientKey, hostKey: s.hostKey}, nil)
	})
	b.Run("vigil", func(b *testing.B) {
		h := startGatewayHelper(b, s)
		run(b, h.side, h.rssKiB)
	})
}

// --- the gateway as a child process, for memory measurement ---

const gatewayHelperEnv = "VIGIL_SSHPROXY_GATEWAY_HELPER"

type helperConfig struct {
	TargetPort int    `json:"target_port"`
	TargetKey  []byte `json:"target_key"`
	TargetPin  []byte `json:"target_pin"`
	UserKey    []byte `json:"user_key"` // authorized_keys line
	Dir        string `json:"dir"`
}

type gatewayHelper struct {
	side benchSide
	cmd  *exec.Cmd
}

func (h *gatewayHelper) rssKiB() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", h.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

func startGatewayHelper(b *testing.B, s *targetSSHD) *gatewayHelper {
	b.Helper()
	dir := b.TempDir()
	userKey, _ := newKeyFile(b, "")
	cfg := helperConfig{TargetPort: s.port, TargetKey: s.clientPEM, TargetPin: ssh.MarshalAuthorizedKey(s.hostKey),
		UserKey: ssh.MarshalAuthorizedKey(userKey.PublicKey()), Dir: dir}
	raw, _ := json.Marshal(cfg)
	cfgPath := filepath.Join(dir, "helper.json")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), gatewayHelperEnv+"="+cfgPath)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close() // the helper exits when its stdin closes
		if err := cmd.Wait(); err != nil {
			b.Errorf("gateway helper: %v", err)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	fields := strings.SplitN(strings.TrimSpace(line), " ", 3)
	if err != nil || len(fields) != 3 || fields[0] != "ADDR" {
		b.Fatalf("gateway helper did not start: %q %v", line, err)
	}
	hostKey, _, _, _, err := ssh.ParseAuthorizedKey([]byte(fields[2]))
	if err != nil {
		b.Fatalf("gateway helper host key: %v", err)
	}
	addr := fields[1]
	return &gatewayHelper{cmd: cmd, side: benchSide{addr: addr, user: "bench:web01", key: userKey, hostKey: hostKey}}
}

// runGatewayHelper is the child process: a recording gateway with the
// helper config's single user and target. It prints "ADDR ip:port KEY" and
// serves until its stdin closes.
func runGatewayHelper() int {
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "gateway helper:", err)
		return 1
	}
	raw, err := os.ReadFile(os.Getenv(gatewayHelperEnv))
	if err != nil {
		return fail(err)
	}
	var hc helperConfig
	if err := json.Unmarshal(raw, &hc); err != nil {
		return fail(err)
	}
	userKey, _, _, _, err := ssh.ParseAuthorizedKey(hc.UserKey)
	if err != nil {
		return fail(err)
	}
	user := User{ID: "u-bench", Name: "bench", RecordSessions: true}
	auth := &fakeAuth{users: map[string]*fakeUser{"bench": {user: user, keys: []ssh.PublicKey{userKey}}}}
	tgt := Target{ID: "id-web01", Name: "web01", Host: "127.0.0.1", Port: hc.TargetPort, Username: "root", PrivateKey: hc.TargetKey}
	targets := &fakeTargets{byUser: map[string][]Target{"bench": {tgt}}, pins: map[string][]byte{"id-web01": hc.TargetPin}}
	adm, err := admission.New(admission.Config{SpoolDir: hc.Dir, MinFreeBytes: 1})
	if err != nil {
		return fail(err)
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return fail(err)
	}
	rec := &captureRecorder{active: filepath.Join(hc.Dir, "active"), sealed: filepath.Join(hc.Dir, "sealed"), key: key, removeSealed: true}
	srv, err := New(Config{
		HostKeyPath: filepath.Join(hc.Dir, "hostkey"), Authenticator: auth, Targets: targets,
		Recorder: rec, Admission: adm, Events: discardEvents{}, Sessions: sessions.New(),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(err)
	}
	go srv.Serve(ln)
	fmt.Printf("ADDR %s %s", ln.Addr(), ssh.MarshalAuthorizedKey(srv.HostKey()))
	io.Copy(io.Discard, os.Stdin)
	srv.Close()
	return 0
}
