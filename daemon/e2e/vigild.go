package e2e

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/capture"
)

// Vigild is one appliance under test: its own directory with vigil.toml,
// state and logs, and free 127.0.0.1 ports. The process is started by
// Start and may be restarted; it is stopped (SIGTERM, then SIGKILL) and
// waited for when the test ends. Its methods report failures to the test
// that made it: call them from that test, not from its subtests.
type Vigild struct {
	t          testing.TB
	Dir        string
	ConfigPath string
	StateDir   string
	LogDir     string
	SSHPort    int
	// Env is added to vigild's environment at each start (NOTIFY_SOCKET=...).
	Env []string

	vncPort, wuiPort int
	stderrPath       string

	cmd    *exec.Cmd
	done   chan struct{}
	stdout *SyncBuffer
	runs   int
}

// NewVigild prepares an appliance in a fresh temporary directory with the
// configuration of ConfigText(extra). It does not start it.
func NewVigild(t testing.TB, extra string) *Vigild {
	t.Helper()
	v := newVigild(t)
	v.WriteConfig(extra)
	return v
}

// newVigild is an appliance in a fresh temporary directory, with free
// ports and no configuration yet, stopped when the test ends.
func newVigild(t testing.TB) *Vigild {
	t.Helper()
	dir := t.TempDir()
	v := &Vigild{
		t:          t,
		Dir:        dir,
		ConfigPath: filepath.Join(dir, "vigil.toml"),
		StateDir:   filepath.Join(dir, "state"),
		LogDir:     filepath.Join(dir, "log"),
		SSHPort:    FreePort(t),
		vncPort:    FreePort(t),
		wuiPort:    FreePort(t),
		stderrPath: filepath.Join(dir, "vigild.stderr"),
	}
	t.Cleanup(v.cleanup)
	return v
}

// NewDevVigild prepares an appliance the way `make run` does: vigil.toml
// is etc/vigil-dev.toml (relative state and log directories beside it),
// with only plugin_dir and the listeners' ports changed, to the binaries
// and to free ports. It does not start it.
func NewDevVigild(t testing.TB) *Vigild {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dev, err := os.ReadFile(filepath.Join(root, "etc", "vigil-dev.toml"))
	if err != nil {
		t.Fatal(err)
	}
	v := newVigild(t)
	text := string(dev)
	for _, r := range []struct{ old, new string }{
		{`plugin_dir = "../bin"`, fmt.Sprintf("plugin_dir = %q", BinDir())},
		{`listen = "127.0.0.1:2222"`, fmt.Sprintf(`listen = "127.0.0.1:%d"`, v.SSHPort)},
		{`listen = "127.0.0.1:5900"`, fmt.Sprintf(`listen = "127.0.0.1:%d"`, v.vncPort)},
		{`listen = "127.0.0.1:8443"`, fmt.Sprintf(`listen = "127.0.0.1:%d"`, v.wuiPort)},
	} {
		if strings.Count(text, r.old) != 1 {
			t.Fatalf("e2e: etc/vigil-dev.toml no longer has one %s line", r.old)
		}
		text = strings.Replace(text, r.old, r.new, 1)
	}
	v.WriteRawConfig(text)
	return v
}

// VNCPort and WUIPort are the ports the configuration gives VNC and the
// web UI.
func (v *Vigild) VNCPort() int { return v.vncPort }
func (v *Vigild) WUIPort() int { return v.wuiPort }

// SSHAddr is the gateway's address.
func (v *Vigild) SSHAddr() string { return "127.0.0.1:" + strconv.Itoa(v.SSHPort) }

// ConfigText is the test configuration: absolute paths in the test's
// directory, the SSH gateway on its free port, VNC and the web UI off (on
// free ports, should a build turn them on), a short shutdown grace, then
// extra (top-level keys are not allowed in extra: it follows tables).
func (v *Vigild) ConfigText(extra string) string {
	return fmt.Sprintf(`# vigild end-to-end test configuration
team = "e2e"
server_id = "e2e"
state_dir = %q
log_dir = %q
plugin_dir = %q
shutdown_grace = "5s"
log_level = "debug"

[ssh]
listen = "127.0.0.1:%d"

[vnc]
enabled = false
listen = "127.0.0.1:%d"

[wui]
enabled = false
listen = "127.0.0.1:%d"
%s`, v.StateDir, v.LogDir, BinDir(), v.SSHPort, v.vncPort, v.wuiPort, extra)
}

// WriteConfig replaces vigil.toml with ConfigText(extra).
func (v *Vigild) WriteConfig(extra string) {
	v.t.Helper()
	v.WriteRawConfig(v.ConfigText(extra))
}

// WriteRawConfig replaces vigil.toml with text.
func (v *Vigild) WriteRawConfig(text string) {
	v.t.Helper()
	if err := os.WriteFile(v.ConfigPath, []byte(text), 0o640); err != nil {
		v.t.Fatal(err)
	}
}

// readyLine is the line vigild prints once it accepts:
// "vigild <version> ready; ssh 127.0.0.1:2222".
var readyLine = regexp.MustCompile(`(?m)^vigild \S+ ready\b.*$`)

// Start starts vigild and waits until it prints its ready line.
func (v *Vigild) Start() {
	v.t.Helper()
	v.StartProcess()
	v.WaitReady()
}

// StartProcess starts vigild without waiting for it to be ready.
func (v *Vigild) StartProcess() {
	v.t.Helper()
	if v.Running() {
		v.t.Fatal("e2e: vigild is already running")
	}
	v.runs++
	stderr, err := os.OpenFile(v.stderrPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		v.t.Fatal(err)
	}
	fmt.Fprintf(stderr, "=== vigild run %d ===\n", v.runs)
	cmd := exec.Command(Bin("vigild"), "--config", v.ConfigPath)
	cmd.Env = append(cleanEnv(), v.Env...)
	v.stdout = &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = v.stdout, stderr
	if err := cmd.Start(); err != nil {
		stderr.Close()
		v.t.Fatalf("e2e: start vigild: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		stderr.Close()
		close(done)
	}()
	v.cmd, v.done = cmd, done
}

// cleanEnv is the test's environment without what would change vigild's
// or vigilctl's behaviour behind the test's back.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "INVOCATION_ID", "LISTEN_FDS", "LISTEN_PID", "VIGIL_CONFIG":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// WaitReady waits for the ready line of the current run.
func (v *Vigild) WaitReady() {
	v.t.Helper()
	deadline := time.Now().Add(StartTimeout)
	for !readyLine.MatchString(v.stdout.String()) {
		select {
		case <-v.done:
			v.t.Fatalf("e2e: vigild exited during start-up (%v); stdout:\n%s\nstderr:\n%s", v.cmd.ProcessState, v.stdout, v.StderrTail(60))
		default:
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("e2e: vigild not ready within %s; stdout:\n%s\nstderr:\n%s", StartTimeout, v.stdout, v.StderrTail(60))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ReadyLine is the ready line of the current run.
func (v *Vigild) ReadyLine() string { return readyLine.FindString(v.stdout.String()) }

// Stdout is what the current run printed on stdout.
func (v *Vigild) Stdout() string { return v.stdout.String() }

// PID is the current run's process id.
func (v *Vigild) PID() int { return v.cmd.Process.Pid }

// Running reports whether a started vigild has not exited.
func (v *Vigild) Running() bool {
	if v.done == nil {
		return false
	}
	select {
	case <-v.done:
		return false
	default:
		return true
	}
}

// Done is closed when the current run has exited.
func (v *Vigild) Done() <-chan struct{} { return v.done }

// ExitCode is the current run's exit code (-1: killed by a signal).
func (v *Vigild) ExitCode() int {
	<-v.done
	return v.cmd.ProcessState.ExitCode()
}

// Signal sends sig to vigild.
func (v *Vigild) Signal(sig syscall.Signal) {
	v.t.Helper()
	if err := v.cmd.Process.Signal(sig); err != nil {
		v.t.Fatalf("e2e: signal %v to vigild: %v", sig, err)
	}
}

// Stop sends SIGTERM and waits for vigild to exit; it fails the test if
// vigild does not exit within StopTimeout or exits non-zero.
func (v *Vigild) Stop() {
	v.t.Helper()
	if !stopProcess(v.cmd, v.done, syscall.SIGTERM, StopTimeout) {
		v.t.Fatalf("e2e: vigild did not stop within %s of SIGTERM; stderr:\n%s", StopTimeout, v.StderrTail(60))
	}
	if code := v.cmd.ProcessState.ExitCode(); code != 0 {
		v.t.Fatalf("e2e: vigild exited with %v after SIGTERM; stderr:\n%s", v.cmd.ProcessState, v.StderrTail(60))
	}
}

// Kill9 kills vigild with SIGKILL and waits for it.
func (v *Vigild) Kill9() {
	v.t.Helper()
	v.Signal(syscall.SIGKILL)
	<-v.done
}

func (v *Vigild) cleanup() {
	if v.Running() {
		stopProcess(v.cmd, v.done, syscall.SIGTERM, StopTimeout)
	}
	if v.t.Failed() && v.runs > 0 {
		v.t.Logf("vigild stderr (last lines):\n%s", v.StderrTail(150))
	}
}

// StderrTail is the last n lines vigild wrote on stderr over all runs.
func (v *Vigild) StderrTail(n int) string {
	b, _ := os.ReadFile(v.stderrPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Ctl runs vigilctl --config <this appliance> args with stdin and returns
// its output and exit code.
func (v *Vigild) Ctl(stdin string, args ...string) (stdout, stderr string, code int) {
	v.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, Bin("vigilctl"), append([]string{"--config", v.ConfigPath}, args...)...)
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		v.t.Fatalf("e2e: vigilctl %s: timed out after %s", strings.Join(args, " "), CommandTimeout)
	}
	if err != nil && cmd.ProcessState == nil {
		v.t.Fatalf("e2e: vigilctl %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}

// MustCtl runs vigilctl and fails the test unless it exits 0.
func (v *Vigild) MustCtl(stdin string, args ...string) string {
	v.t.Helper()
	out, errOut, code := v.Ctl(stdin, args...)
	if code != 0 {
		v.t.Fatalf("e2e: vigilctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// User is a gateway user made by AddUser.
type User struct {
	Name, Password string
	// KeyPath is the user's private key (for ssh -i), its public half in
	// KeyPath+".pub" is registered with vigilctl users add-key.
	KeyPath string
}

// AddUser creates a gateway user with a password and a fresh key, in the
// given groups.
func (v *Vigild) AddUser(name string, groups ...string) User {
	v.t.Helper()
	u := User{Name: name, Password: "pw-" + name + "-correct-horse-battery", KeyPath: filepath.Join(v.Dir, "key-"+hex.EncodeToString([]byte(name)))}
	args := []string{"users", "add", name, "--password-stdin"}
	for _, g := range groups {
		args = append(args, "--group", g)
	}
	v.MustCtl(u.Password+"\n", args...)
	if err := Keygen(u.KeyPath); err != nil {
		v.t.Fatal(err)
	}
	v.MustCtl("", "users", "add-key", name, u.KeyPath+".pub")
	return u
}

// AddTarget registers the shared sshd as SSH target name, reached as root
// with the sshd's key, for the given groups.
func (v *Vigild) AddTarget(name string, s *SSHD, groups ...string) {
	v.t.Helper()
	args := []string{"targets", "add", name, "--protocol", "ssh", "--host", "127.0.0.1", "--port", strconv.Itoa(s.Port),
		"--username", "root", "--key-file", s.KeyPath, "--friendly-name", "E2E " + name}
	for _, g := range groups {
		args = append(args, "--group", g)
	}
	v.MustCtl("", args...)
}

// PublicKey is the appliance's capture-signing key, as `vigilctl keys
// export` gives it to auditors.
func (v *Vigild) PublicKey() ed25519.PublicKey {
	v.t.Helper()
	path := filepath.Join(v.Dir, "vigil.pub")
	v.MustCtl("", "keys", "export", "--output", path)
	b, err := os.ReadFile(path)
	if err != nil {
		v.t.Fatal(err)
	}
	pub, err := capture.ParsePublicKey(b)
	if err != nil {
		v.t.Fatalf("e2e: keys export: %v", err)
	}
	return pub
}

// SpoolActive and SpoolSealed are the capture directories.
func (v *Vigild) SpoolActive() string { return filepath.Join(v.StateDir, "spool", "active") }
func (v *Vigild) SpoolSealed() string { return filepath.Join(v.StateDir, "spool", "sealed") }

// Captures lists the .vsl files of dir, sorted.
func Captures(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "*"+capture.Ext))
	sort.Strings(m)
	return m
}

// WaitSealed waits until spool/sealed holds n captures and returns them.
func (v *Vigild) WaitSealed(n int) []string {
	v.t.Helper()
	Poll(v.t, EventTimeout, func() bool { return len(Captures(v.SpoolSealed())) >= n }, func() string {
		return fmt.Sprintf("%d sealed capture(s) (sealed: %q, active: %q)", n, Captures(v.SpoolSealed()), Captures(v.SpoolActive()))
	})
	got := Captures(v.SpoolSealed())
	if len(got) != n {
		v.t.Fatalf("e2e: want %d sealed captures, have %d: %v", n, len(got), got)
	}
	return got
}

// PluginRow is one row of `vigilctl plugins list`.
type PluginRow struct {
	Name, Kind, State string
	Restarts, PID     int
	LastError         string
}

// Plugins runs `vigilctl plugins list` and parses its table.
func (v *Vigild) Plugins() map[string]PluginRow {
	v.t.Helper()
	out := v.MustCtl("", "plugins", "list")
	rows := map[string]PluginRow{}
	for _, r := range parseTable(v.t, out, "NAME", "KIND", "VERSION", "API", "STATE", "RESTARTS", "PID", "LAST ERROR") {
		restarts, err1 := strconv.Atoi(r["RESTARTS"])
		pid, err2 := strconv.Atoi(r["PID"])
		if err1 != nil || err2 != nil {
			v.t.Fatalf("e2e: plugins list: bad row %v in:\n%s", r, out)
		}
		rows[r["NAME"]] = PluginRow{Name: r["NAME"], Kind: r["KIND"], State: r["STATE"], Restarts: restarts, PID: pid, LastError: r["LAST ERROR"]}
	}
	return rows
}

// parseTable reads a tabwriter table whose header names the columns, in
// order: each cell is cut at the column's offset in the header (cells may
// be empty).
func parseTable(t testing.TB, out string, columns ...string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	header := lines[0]
	offs := make([]int, len(columns))
	from := 0
	for i, c := range columns {
		k := strings.Index(header[from:], c)
		if k < 0 {
			t.Fatalf("e2e: table header %q lacks column %q", header, c)
		}
		offs[i] = from + k
		from = offs[i] + len(c)
	}
	var rows []map[string]string
	for _, l := range lines[1:] {
		r := map[string]string{}
		for i, c := range columns {
			if offs[i] >= len(l) {
				r[c] = ""
				continue
			}
			end := len(l)
			if i+1 < len(offs) && offs[i+1] < end {
				end = offs[i+1]
			}
			r[c] = strings.TrimSpace(l[offs[i]:end])
		}
		rows = append(rows, r)
	}
	return rows
}

// LiveSession is one row of `vigilctl sessions list`.
type LiveSession struct {
	ID, Protocol, User, Target, Client string
	BytesIn, BytesOut                  int64
	Recorded                           string
}

// Sessions runs `vigilctl sessions list` and parses its table.
func (v *Vigild) Sessions() []LiveSession {
	v.t.Helper()
	out := v.MustCtl("", "sessions", "list")
	var ss []LiveSession
	for _, r := range parseTable(v.t, out, "ID", "PROTOCOL", "USER", "TARGET", "CLIENT", "START", "BYTES IN", "BYTES OUT", "RECORDED") {
		in, err1 := strconv.ParseInt(r["BYTES IN"], 10, 64)
		out, err2 := strconv.ParseInt(r["BYTES OUT"], 10, 64)
		if err1 != nil || err2 != nil {
			v.t.Fatalf("e2e: sessions list: bad row %v", r)
		}
		ss = append(ss, LiveSession{ID: r["ID"], Protocol: r["PROTOCOL"], User: r["USER"], Target: r["TARGET"], Client: r["CLIENT"],
			BytesIn: in, BytesOut: out, Recorded: r["RECORDED"]})
	}
	return ss
}
