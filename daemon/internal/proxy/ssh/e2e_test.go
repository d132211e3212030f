package sshproxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/vigilgw/vigil/daemon/internal/admission"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// checkSessionEvent checks the fields every session event carries.
func checkSessionEvent(t *testing.T, g *gateway, e event.Event, sessionID string) {
	t.Helper()
	if e.SessionID != sessionID || e.UserName != "alice" || e.UserID != "u-alice" || e.TargetName != "web01" ||
		e.TargetID != "id-web01" || e.Protocol != "ssh" || e.Component != "ssh" || e.VS != g.addr ||
		e.RS != g.sshd.addr() || e.RequestIP != "127.0.0.1" || e.RequestPort == "" {
		t.Errorf("%s event fields: %+v", e.MetricName, e)
	}
}

func TestExecEchoExit(t *testing.T) {
	g := newGateway(t)
	res := g.ssh(t, "alice:web01", "echo hello; echo oops >&2; exit 3")
	if res.stdout != "hello\n" || res.code != 3 {
		t.Fatalf("stdout %q exit %d, want \"hello\\n\" and 3; stderr: %s", res.stdout, res.code, res.stderr)
	}
	if !strings.Contains(res.stderr, "This session is recorded.") || !strings.Contains(res.stderr, "oops\n") {
		t.Errorf("client stderr lacks the banner or the target's stderr: %q", res.stderr)
	}
	c := g.onlyCapture(t)
	if got := c.of(KindExec); len(got) != 1 || got[0] != "echo hello; echo oops >&2; exit 3" {
		t.Errorf("Exec records %q", got)
	}
	if got := c.data(KindOutput); got != "hello\n" {
		t.Errorf("Output recorded %q", got)
	}
	if got := c.data(KindStderr); got != "oops\n" {
		t.Errorf("Stderr recorded %q", got)
	}
	if got := c.of(KindInput); len(got) != 0 {
		t.Errorf("Input recorded with input recording off: %q", got)
	}
	exits := c.of(KindExitStatus)
	if len(exits) != 1 || fmt.Sprint(uvarints(t, exits[0])) != "[3]" {
		t.Errorf("ExitStatus records %q", exits)
	}
	meta := c.mergedMeta(t)
	if meta.SessionID != c.meta.SessionID || meta.User != "alice" || meta.Target != "web01" || meta.Protocol != "ssh" ||
		meta.TargetAddr != g.sshd.addr() || meta.Extra["ch0.start"] != "exec" || meta.Extra["target_host_key"] != ssh.FingerprintSHA256(g.sshd.hostKey) {
		t.Errorf("merged Meta %+v", meta)
	}
	recs, _, _ := c.snapshot()
	if last := recs[len(recs)-1]; last.Kind != KindExitStatus {
		t.Errorf("last record is %s, want the exit status after all output", last.Kind)
	}
	if c.meta.User.Name != "alice" || c.meta.TargetName != "web01" || c.meta.SessionID == "" || c.meta.TargetAddr != g.sshd.addr() {
		t.Errorf("capture meta %+v", c.meta)
	}

	destroy := g.events.waitEvent(t, "session.destroy")
	for _, metric := range []string{"account.login.successful", "session.create", "session.destroy"} {
		checkSessionEvent(t, g, g.events.waitEvent(t, metric), c.meta.SessionID)
	}
	if m := g.events.metrics(); strings.Join(m, " ") != "account.login.successful target.hostkey.pinned session.create session.destroy" {
		t.Errorf("events %v", m)
	}
	if e := g.events.waitEvent(t, "account.login.successful"); e.Extra["method"] != "publickey" {
		t.Errorf("login method %q", e.Extra["method"])
	}
	if destroy.Reason != "normal" || destroy.Extra["bytes_out"] != "11" || destroy.Extra["bytes_in"] != "0" || destroy.Extra["duration"] == "" {
		t.Errorf("session.destroy reason %q extra %v", destroy.Reason, destroy.Extra)
	}
	if g.reg.Count() != 0 {
		t.Errorf("registry still holds %d sessions", g.reg.Count())
	}
}

func TestRecordInput(t *testing.T) {
	g := newGateway(t, func(c *Config, _ *gateway) { c.RecordInput = true })
	res := runCmd(t, strings.NewReader("typed input\n"), "ssh", append(g.sshArgs(), "-l", "alice:web01", "127.0.0.1", "cat")...)
	if res.stdout != "typed input\n" || res.code != 0 {
		t.Fatalf("stdout %q exit %d; stderr %s", res.stdout, res.code, res.stderr)
	}
	c := g.onlyCapture(t)
	if got := c.data(KindInput); got != "typed input\n" {
		t.Errorf("Input recorded %q", got)
	}
	if !c.meta.RecordInput {
		t.Error("SessionMeta.RecordInput is false")
	}
}

func TestPTYResize(t *testing.T) {
	g := newGateway(t)
	client := g.mustDial(t, "alice:web01")
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.RequestPty("xterm-256color", 24, 80, ssh.TerminalModes{ssh.ECHO: 0}); err != nil {
		t.Fatal(err)
	}
	stdin, _ := sess.StdinPipe()
	var out sdktest.SyncBuffer
	sess.Stdout = &out
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, "echo TERM=$TERM; stty size\n")
	sdktest.WaitFor(t, 10*time.Second, "first size", func() bool {
		return strings.Contains(out.String(), "TERM=xterm-256color") && strings.Contains(out.String(), "24 80")
	})
	if err := sess.WindowChange(50, 132); err != nil {
		t.Fatal(err)
	}
	// The resize reaches the target asynchronously; ask until it shows.
	sdktest.WaitFor(t, 10*time.Second, "the target to see 50x132", func() bool {
		if strings.Contains(out.String(), "50 132") {
			return true
		}
		io.WriteString(stdin, "stty size\n")
		return false
	})
	io.WriteString(stdin, "exit 7\n")
	var ee *ssh.ExitError
	if err := sess.Wait(); !errors.As(err, &ee) || ee.ExitStatus() != 7 {
		t.Fatalf("Wait = %v, want exit status 7", err)
	}
	client.Close()

	c := g.onlyCapture(t)
	resizes := c.of(KindResize)
	if len(resizes) != 2 {
		t.Fatalf("Resize records %q, want the pty size then the window change", resizes)
	}
	for i, want := range []string{"[80 24 640 192]", "[132 50 1056 400]"} { // x/crypto sends 8x8-pixel cells
		if got := fmt.Sprint(uvarints(t, resizes[i])); got != want {
			t.Errorf("Resize %d = %s (cols rows width height), want %s", i, got, want)
		}
	}
	if m := c.mergedMeta(t); m.Term != "xterm-256color" || m.Extra["ch0.start"] != "shell" || m.Extra["ch0.pty"] != "true" {
		t.Errorf("merged Meta %+v", m)
	}
	if !strings.Contains(c.data(KindOutput), "50 132") {
		t.Error("Output record lacks the shell's output")
	}
}

// TestInteractiveTTY drives the real client with -tt and a pipe.
func TestInteractiveTTY(t *testing.T) {
	g := newGateway(t)
	res := runCmd(t, strings.NewReader("echo TTY-$((20+22)); tty\nexit 5\n"), "ssh",
		append(g.sshArgs(), "-tt", "-l", "alice:web01", "127.0.0.1")...)
	if !strings.Contains(res.stdout, "TTY-42") || !strings.Contains(res.stdout, "/dev/pts/") || res.code != 5 {
		t.Fatalf("exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
	}
	c := g.onlyCapture(t)
	if !strings.Contains(c.data(KindOutput), "TTY-42") {
		t.Error("Output not recorded")
	}
	if got := c.of(KindResize); len(got) != 1 {
		t.Errorf("Resize records %q, want the initial pty size", got)
	}
}

func TestTargetSelection(t *testing.T) {
	g := newGateway(t)
	web02 := g.sshd.target("web02")
	g.addUser("multi", true, g.sshd.target("web01"), web02)
	g.addUser("single", true, web02)
	g.addUser("none", true)

	t.Run("only target", func(t *testing.T) {
		res := g.ssh(t, "single", "echo ok")
		if res.stdout != "ok\n" || res.code != 0 {
			t.Fatalf("exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
		}
	})
	t.Run("exec without target among several", func(t *testing.T) {
		res := g.ssh(t, "multi", "echo never")
		if res.code != 1 || res.stdout != "" || !strings.Contains(res.stderr, "vigil: no target given; log in as USER:TARGET. Targets available to you: web01, web02") {
			t.Fatalf("exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
		}
	})
	t.Run("no targets", func(t *testing.T) {
		res := g.ssh(t, "none", "echo never")
		if res.code != 1 || !strings.Contains(res.stderr, "vigil: no targets are available to you") {
			t.Fatalf("exit %d stderr %q", res.code, res.stderr)
		}
	})
	t.Run("not permitted", func(t *testing.T) {
		res := g.ssh(t, "single:web01", "echo never")
		if res.code != 1 || res.stdout != "" || !strings.Contains(res.stderr, `vigil: target "web01" does not exist or is not available to you`) {
			t.Fatalf("exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
		}
	})
	t.Run("menu on the PTY", func(t *testing.T) {
		before := len(g.rec.all())
		// Everything is typed ahead: the menu takes "2" and hands the rest
		// to the shell on web02.
		res := runCmd(t, strings.NewReader("x\r2\recho MENU-$((40+2))\rexit\r"), "ssh",
			append(g.sshArgs(), "-tt", "-l", "multi", "127.0.0.1")...)
		if res.code != 0 || !strings.Contains(res.stdout, "MENU-42") {
			t.Fatalf("exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
		}
		for _, want := range []string{" 1) web01  Test web01", " 2) web02  Test web02", "No such target."} {
			if !strings.Contains(res.stdout, want) {
				t.Errorf("menu output lacks %q: %q", want, res.stdout)
			}
		}
		sdktest.WaitFor(t, 10*time.Second, "the menu session's capture", func() bool { return len(g.rec.all()) == before+1 })
		if c := g.rec.all()[before]; c.meta.TargetName != "web02" || c.meta.User.Name != "multi" {
			t.Errorf("capture of the menu session: %+v", c.meta)
		}
	})
	t.Run("menu cancelled", func(t *testing.T) {
		res := runCmd(t, strings.NewReader("q\r"), "ssh", append(g.sshArgs(), "-tt", "-l", "multi", "127.0.0.1")...)
		if res.code != 1 || !strings.Contains(res.stderr+res.stdout, "vigil: no target selected") {
			t.Fatalf("exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
		}
	})
}

func TestHostKeyPinning(t *testing.T) {
	t.Run("first use pins", func(t *testing.T) {
		g := newGateway(t)
		if res := g.ssh(t, "alice:web01", "true"); res.code != 0 {
			t.Fatalf("exit %d: %s", res.code, res.stderr)
		}
		want := ssh.MarshalAuthorizedKey(g.sshd.hostKey)
		if got := g.targets.pin("id-web01"); !bytes.Equal(append(got, '\n'), want) {
			t.Fatalf("pinned %q, want %q", got, want)
		}
		e := g.events.waitEvent(t, "target.hostkey.pinned")
		if e.Extra["fingerprint"] != ssh.FingerprintSHA256(g.sshd.hostKey) || e.TargetName != "web01" {
			t.Errorf("pinned event %+v", e)
		}
		// The second session checks against the pin without pinning again.
		if res := g.ssh(t, "alice:web01", "true"); res.code != 0 {
			t.Fatalf("second session: exit %d: %s", res.code, res.stderr)
		}
		g.events.waitEvent(t, "session.destroy")
		if n := len(g.events.named("target.hostkey.pinned")); n != 1 {
			t.Errorf("%d pinned events, want 1", n)
		}
	})
	t.Run("mismatch refused", func(t *testing.T) {
		other, _ := newKeyFile(t, "")
		wrongPin := ssh.MarshalAuthorizedKey(other.PublicKey())
		g := newGateway(t, func(_ *Config, g *gateway) { g.targets.pins["id-web01"] = wrongPin })
		res := g.ssh(t, "alice:web01", "echo should-not-run")
		if res.code != 1 || res.stdout != "" {
			t.Fatalf("exit %d stdout %q, want a refusal", res.code, res.stdout)
		}
		if !strings.Contains(res.stderr, `vigil: session refused: the host key of target "web01" does not match the key pinned for it`) {
			t.Errorf("client stderr %q", res.stderr)
		}
		e := g.events.waitEvent(t, "target.hostkey.mismatch")
		if e.Extra["presented_fingerprint"] != ssh.FingerprintSHA256(g.sshd.hostKey) ||
			e.Extra["pinned_fingerprint"] != ssh.FingerprintSHA256(other.PublicKey()) || e.Level != event.LevelCritical {
			t.Errorf("mismatch event %+v", e)
		}
		if len(g.events.named("session.create")) != 0 {
			t.Error("a session was created despite the mismatch")
		}
		if !bytes.Equal(g.targets.pin("id-web01"), wrongPin) {
			t.Error("the pin changed")
		}
		// The capture opened before connecting was closed again.
		for _, c := range g.rec.all() {
			if _, _, closed := c.snapshot(); !closed {
				t.Error("capture left open")
			}
		}
	})
}

func TestAdmission(t *testing.T) {
	free, err := admission.DiskFree(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	aboveFree := func(c *Config, _ *gateway) {
		adm, err := admission.New(admission.Config{SpoolDir: t.TempDir(), MinFreeBytes: free + 1<<40})
		if err != nil {
			t.Fatal(err)
		}
		c.Admission = adm
	}
	tests := []struct {
		name       string
		opts       []func(*Config, *gateway)
		login      string
		wantCode   int
		wantStdout string
		wantStderr string
		wantReason string // admission.denied reason, "" for admitted
		wantCaps   int
	}{
		{
			name: "recorded user, spool too full", opts: []func(*Config, *gateway){aboveFree}, login: "alice:web01",
			wantCode: 1, wantStderr: "vigil: session refused: free disk space on the recording spool is ",
			wantReason: admission.ReasonLowDiskSpace,
		},
		{
			name: "unrecorded user, spool too full", login: "bob:web01", wantStdout: "hello\n",
			opts: []func(*Config, *gateway){aboveFree, func(_ *Config, g *gateway) { g.addUser("bob", false, g.sshd.target("web01")) }},
		},
		{
			name: "capture cannot be created", login: "alice:web01", wantCode: 1,
			opts:       []func(*Config, *gateway){func(_ *Config, g *gateway) { g.rec.openErr = errors.New("spool: permission denied") }},
			wantStderr: "vigil: session refused: the recording could not be started; contact your administrator",
			wantReason: "capture_failed",
		},
		{name: "recorded user, room enough", login: "alice:web01", wantStdout: "hello\n", wantCaps: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, tt.opts...)
			res := g.ssh(t, tt.login, "echo hello")
			if res.code != tt.wantCode || res.stdout != tt.wantStdout || !strings.Contains(res.stderr, tt.wantStderr) {
				t.Fatalf("exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
			}
			if strings.Contains(res.stderr, "/tmp/") {
				t.Errorf("the refusal leaks a path: %q", res.stderr)
			}
			if tt.wantReason != "" {
				e := g.events.waitEvent(t, "admission.denied")
				if e.Reason != tt.wantReason || e.Result != "denied" {
					t.Errorf("admission.denied reason %q result %q", e.Reason, e.Result)
				}
				if len(g.events.named("session.create")) != 0 {
					t.Error("session.create after a refusal")
				}
			} else {
				create := g.events.waitEvent(t, "session.create")
				if want := strconv.FormatBool(tt.wantCaps > 0); create.Extra["recorded"] != want {
					t.Errorf("session.create recorded=%q, want %s", create.Extra["recorded"], want)
				}
				g.events.waitEvent(t, "session.destroy")
			}
			if n := len(g.rec.all()); n != tt.wantCaps {
				t.Errorf("%d captures opened, want %d", n, tt.wantCaps)
			}
		})
	}
}

func TestRecordingFailureEndsSession(t *testing.T) {
	g := newGateway(t, func(_ *Config, g *gateway) { g.rec.failKind = KindOutput })
	res := g.ssh(t, "alice:web01", "echo first; sleep 30; echo never")
	if strings.Contains(res.stdout, "never") || res.code == 0 {
		t.Fatalf("the session outlived its recording: exit %d stdout %q", res.code, res.stdout)
	}
	e := g.events.waitEvent(t, "session.destroy")
	if e.Reason != "recording_failed" {
		t.Errorf("session.destroy reason %q", e.Reason)
	}
}

func TestEnvAllowlist(t *testing.T) {
	g := newGateway(t)
	client := g.mustDial(t, "alice:web01")
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	tests := []struct {
		name, value string
		allowed     bool
	}{
		{"LC_VIGIL_TEST", "fr_FR.UTF-8", true},
		{"LANG", "C.UTF-8", true},
		{"VIGIL_SECRET", "leak", false},
		{"LD_PRELOAD", "/tmp/evil.so", false},
	}
	for _, tt := range tests {
		err := sess.Setenv(tt.name, tt.value)
		if (err == nil) != tt.allowed {
			t.Errorf("Setenv(%s) = %v, allowed %v", tt.name, err, tt.allowed)
		}
	}
	out, err := sess.Output(`echo "[$LC_VIGIL_TEST][$LANG][$VIGIL_SECRET][$LD_PRELOAD]"`)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "[fr_FR.UTF-8][C.UTF-8][][]" {
		t.Errorf("target environment %q", got)
	}
}

func TestSignalsAndExitSignal(t *testing.T) {
	g := newGateway(t)
	client := g.mustDial(t, "alice:web01")

	// A signal is recorded and relayed. (sshd refuses to deliver it to a
	// root session, which it runs without privilege separation, and logs
	// that: the log line proves the request reached the target.)
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := sess.StdoutPipe()
	if err := sess.Start("echo started; sleep 30"); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "started\n" {
		t.Fatalf("read %q %v", line, err)
	}
	logBefore, _ := os.ReadFile(g.sshd.logPath)
	if err := sess.Signal(ssh.SIGINT); err != nil {
		t.Fatal(err)
	}
	sdktest.WaitFor(t, 10*time.Second, "sshd to receive the signal request", func() bool {
		log, _ := os.ReadFile(g.sshd.logPath)
		return bytes.Count(log, []byte("session_signal_req")) > bytes.Count(logBefore, []byte("session_signal_req"))
	})
	sess.Close()

	// The target's exit signal reaches the client.
	sess2, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var ee *ssh.ExitError
	if err := sess2.Run("kill -TERM $$"); !errors.As(err, &ee) || ee.Signal() != "TERM" {
		t.Fatalf("Run = %v, want exit signal TERM", err)
	}
	client.Close()

	c := g.onlyCapture(t)
	if sigs := c.of(KindSignal); len(sigs) != 1 || sigs[0] != "INT" {
		t.Errorf("Signal records %q", sigs)
	}
	if m := c.mergedMeta(t); m.Extra["ch1.exit_signal"] != "TERM" || m.Extra["ch1.exit_core_dumped"] != "false" {
		t.Errorf("merged Meta %+v", m)
	}
}

// --- file transfers ---

func randomFile(t *testing.T, path string, size int) string {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, int64(size)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func sha256File(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// transferEvent waits for a transfer event for path by protocol.
func transferEvent(t *testing.T, g *gateway, metric, path, protocol string) event.Event {
	t.Helper()
	var found event.Event
	sdktest.WaitFor(t, 20*time.Second, metric+" of "+path, func() bool {
		for _, e := range g.events.named(metric) {
			if e.Extra["path"] == path && e.Extra["protocol"] == protocol {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

func findTransferRecord(t *testing.T, g *gateway, path, protocol string) map[string]any {
	t.Helper()
	for _, c := range g.rec.all() {
		for _, p := range c.of(KindTransfer) {
			if m := mustJSON(t, p); m["path"] == path && m["protocol"] == protocol {
				return m
			}
		}
	}
	t.Fatalf("no Transfer record for %s", path)
	return nil
}

func TestFileTransfers(t *testing.T) {
	sdktest.RequirePeer(t, "scp")
	sdktest.RequirePeer(t, "sftp")
	const size = 50 << 20
	g := newGateway(t)
	local := t.TempDir()
	remote := t.TempDir() // the target is this machine: the test reads what landed
	src := filepath.Join(local, "src.bin")
	sum := randomFile(t, src, size)
	common := append(g.sshArgs()[2:], "-P", strconv.Itoa(g.port), "-o", "User=alice:web01")

	tests := []struct {
		name      string
		run       func(t *testing.T, remotePath, localPath string) cmdResult
		upload    bool
		protocol  string
		checkPath string // the local or remote file to checksum
	}{
		{
			name: "scp -O upload", upload: true, protocol: "scp",
			run: func(t *testing.T, rp, _ string) cmdResult {
				return runCmd(t, nil, "scp", append(append([]string{"-O"}, common...), src, "127.0.0.1:"+rp)...)
			},
		},
		{
			name: "scp -O download", protocol: "scp",
			run: func(t *testing.T, rp, lp string) cmdResult {
				return runCmd(t, nil, "scp", append(append([]string{"-O"}, common...), "127.0.0.1:"+rp, lp)...)
			},
		},
		{
			name: "sftp put", upload: true, protocol: "sftp",
			run: func(t *testing.T, rp, _ string) cmdResult {
				return runCmd(t, strings.NewReader(fmt.Sprintf("put %s %s\n", src, rp)), "sftp",
					append(append([]string{"-b", "-"}, common...), "127.0.0.1")...)
			},
		},
		{
			name: "sftp get", protocol: "sftp",
			run: func(t *testing.T, rp, lp string) cmdResult {
				return runCmd(t, strings.NewReader(fmt.Sprintf("get %s %s\n", rp, lp)), "sftp",
					append(append([]string{"-b", "-"}, common...), "127.0.0.1")...)
			},
		},
		{
			name: "scp (SFTP protocol) upload", upload: true, protocol: "sftp",
			run: func(t *testing.T, rp, _ string) cmdResult {
				return runCmd(t, nil, "scp", append(append([]string{}, common...), src, "127.0.0.1:"+rp)...)
			},
		},
	}
	seeded := filepath.Join(remote, "seed.bin")
	if err := os.Link(src, seeded); err != nil {
		t.Fatal(err)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rp := filepath.Join(remote, fmt.Sprintf("up-%d.bin", i))
			lp := filepath.Join(local, fmt.Sprintf("down-%d.bin", i))
			metric, path, check := "transfer.upload", rp, rp
			if !tt.upload {
				metric, path, check = "transfer.download", seeded, lp
				rp = seeded
			}
			res := tt.run(t, rp, lp)
			if res.code != 0 {
				t.Fatalf("exit %d: %s", res.code, res.stderr)
			}
			if got := sha256File(t, check); got != sum {
				t.Fatalf("checksum of %s = %s, want %s", check, got, sum)
			}
			e := transferEvent(t, g, metric, path, tt.protocol)
			if e.Extra["size"] != strconv.Itoa(size) || e.Extra["protocol"] != tt.protocol || e.Extra["complete"] != "true" || e.SessionID == "" {
				t.Errorf("%s event extra %v", metric, e.Extra)
			}
			rec := findTransferRecord(t, g, path, tt.protocol)
			if rec["size"] != float64(size) || rec["protocol"] != tt.protocol || rec["complete"] != true {
				t.Errorf("Transfer record %v", rec)
			}
		})
	}
}

// --- forwarding ---

func echoOnce(conn net.Conn) error {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte("ping\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "ping\n" {
		return fmt.Errorf("echo returned %q", line)
	}
	return nil
}

func TestForwarding(t *testing.T) {
	echo := sdktest.EchoServer(t).String()
	tests := []struct {
		name  string
		allow bool
		try   func(t *testing.T, g *gateway, c *ssh.Client) error
	}{
		{name: "local forward", try: func(t *testing.T, g *gateway, c *ssh.Client) error {
			conn, err := c.Dial("tcp", echo)
			if err != nil {
				return err
			}
			return echoOnce(conn)
		}},
		{name: "remote forward", try: func(t *testing.T, g *gateway, c *ssh.Client) error {
			ln, err := c.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return err
			}
			defer ln.Close()
			go func() {
				for {
					conn, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer conn.Close()
						io.Copy(conn, conn)
					}()
				}
			}()
			conn, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				return err
			}
			return echoOnce(conn)
		}},
		{name: "agent forward", try: func(t *testing.T, g *gateway, c *ssh.Client) error {
			keyring := agent.NewKeyring()
			_, pemKey := newKeyFile(t, "")
			raw, err := ssh.ParseRawPrivateKey(pemKey)
			if err != nil {
				return err
			}
			if err := keyring.Add(agent.AddedKey{PrivateKey: raw, Comment: "forwarded-key-comment"}); err != nil {
				return err
			}
			if err := agent.ForwardToAgent(c, keyring); err != nil {
				return err
			}
			sess, err := c.NewSession()
			if err != nil {
				return err
			}
			defer sess.Close()
			if err := agent.RequestAgentForwarding(sess); err != nil {
				return err
			}
			out, err := sess.CombinedOutput("ssh-add -l")
			if err != nil {
				return fmt.Errorf("ssh-add -l: %v: %s", err, out)
			}
			if !strings.Contains(string(out), "forwarded-key-comment") {
				return fmt.Errorf("ssh-add -l printed %q", out)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		for _, allow := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s allowed=%v", tt.name, allow), func(t *testing.T) {
				g := newGateway(t, func(_ *Config, g *gateway) {
					tg := g.sshd.target("web01")
					tg.AllowPortForwarding, tg.AllowAgentForwarding = allow, allow
					g.targets.byUser["alice"] = []Target{tg}
				})
				c := g.mustDial(t, "alice:web01")
				err := tt.try(t, g, c)
				if allow && err != nil {
					t.Fatalf("allowed but failed: %v", err)
				}
				if !allow && err == nil {
					t.Fatal("denied but worked")
				}
			})
		}
	}
}

// --- kills and timeouts ---

// procRunning reports whether a process whose command line contains
// marker is running (it only reads /proc).
func procRunning(marker string) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), marker) {
			return true
		}
	}
	return false
}

func TestKill(t *testing.T) {
	tests := []struct {
		name   string
		kill   func(g *gateway) error
		metric string
	}{
		{"kill one", func(g *gateway) error { return g.reg.Kill(g.reg.List()[0].ID, "admin-ops") }, "session.kill"},
		{"kill all of alice", func(g *gateway) error {
			if n := g.reg.KillAll("alice", "admin-ops"); n != 1 {
				return fmt.Errorf("KillAll killed %d", n)
			}
			return nil
		}, "session.kill_all"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t)
			marker := fmt.Sprintf("%d.%d", 300+i, time.Now().UnixNano()%1000000)
			var stdout, stderr sdktest.SyncBuffer
			cmd := exec.Command("ssh", append(g.sshArgs(), "-tt", "-l", "alice:web01", "127.0.0.1", "echo RUNNING; sleep "+marker)...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			// An open pipe, so the client keeps its session until killed
			// (an *os.File, so Wait does not wait on a copy from it).
			if _, err := cmd.StdinPipe(); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			go func() {
				cmd.Wait()
				close(exited)
			}()
			t.Cleanup(func() {
				select {
				case <-exited:
				default:
					cmd.Process.Kill()
					<-exited
				}
			})
			sdktest.WaitFor(t, 10*time.Second, "the session to run", func() bool {
				return strings.Contains(stdout.String(), "RUNNING") && g.reg.Count() == 1 && procRunning("sleep "+marker)
			})
			start := time.Now()
			if err := tt.kill(g); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				t.Fatal("the ssh client did not exit after the kill")
			}
			sdktest.WaitFor(t, 10*time.Second, "the target's process to end", func() bool { return !procRunning("sleep " + marker) })
			if took := time.Since(start); took > time.Second {
				t.Errorf("both sides closed after %s, want within a second", took)
			}
			if !strings.Contains(stdout.String()+stderr.String(), "vigil: this session was ended by an administrator") {
				t.Errorf("client output lacks the kill notice: %q %q", stdout.String(), stderr.String())
			}
			e := g.events.waitEvent(t, tt.metric)
			if e.Extra["by"] != "admin-ops" {
				t.Errorf("%s event by %q", tt.metric, e.Extra["by"])
			}
			if d := g.events.waitEvent(t, "session.destroy"); d.Reason != "killed" {
				t.Errorf("session.destroy reason %q", d.Reason)
			}
			sdktest.WaitFor(t, 5*time.Second, "the registry to empty", func() bool { return g.reg.Count() == 0 })
		})
	}
}

func TestIdleTimeout(t *testing.T) {
	g := newGateway(t, func(c *Config, _ *gateway) { c.IdleTimeout = 300 * time.Millisecond })
	start := time.Now()
	res := g.ssh(t, "alice:web01", "sleep 20; echo never")
	if time.Since(start) > 10*time.Second || strings.Contains(res.stdout, "never") {
		t.Fatalf("idle session was not closed: %+v", res)
	}
	if !strings.Contains(res.stderr, "vigil: session closed after 300ms without activity") {
		t.Errorf("client stderr %q", res.stderr)
	}
	if e := g.events.waitEvent(t, "session.destroy"); e.Reason != "idle_timeout" {
		t.Errorf("session.destroy reason %q", e.Reason)
	}
}

// --- authentication ---

func TestLoginFailures(t *testing.T) {
	g := newGateway(t, func(c *Config, g *gateway) { c.MaxAuthTries = 3 })
	g.addUser("locked", true, g.sshd.target("web01"))
	g.auth.users["locked"].err = ErrLocked
	g.addUser("disabled", true, g.sshd.target("web01"))
	g.auth.users["disabled"].err = ErrDisabled
	strangerKey, _ := newKeyFile(t, "")
	tests := []struct {
		login  string
		auth   ssh.AuthMethod
		reason string
	}{
		{"alice:web01", ssh.Password("wrong"), "invalid_password"},
		{"mallory:web01", ssh.Password("x"), "unknown_user"},
		{"locked:web01", ssh.Password(alicePassword), "locked"},
		{"disabled", ssh.Password(alicePassword), "disabled"},
		{"alice:web01", ssh.PublicKeys(strangerKey), "invalid_key"},
		{"alice\x1b[2J:web01", ssh.Password(alicePassword), "invalid_login_name"},
	}
	for _, tt := range tests {
		t.Run(tt.reason, func(t *testing.T) {
			before := len(g.events.named("account.login.failed_" + tt.reason))
			if c, err := g.dial(t, tt.login, tt.auth); err == nil {
				c.Close()
				t.Fatal("login succeeded")
			}
			metric := "account.login.failed_" + tt.reason
			sdktest.WaitFor(t, 5*time.Second, metric, func() bool { return len(g.events.named(metric)) > before })
			e := g.events.named(metric)[before]
			if e.Reason != tt.reason || e.Result != "failure" || e.SessionID != "" || e.RequestIP != "127.0.0.1" {
				t.Errorf("event %+v", e)
			}
		})
	}
	// A client offering a wrong key and then the right password logs in
	// with no failure event for the key.
	before := len(g.events.named("account.login.failed_invalid_key"))
	c, err := g.dial(t, "alice:web01", ssh.PublicKeys(strangerKey), ssh.Password(alicePassword))
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	g.events.waitEvent(t, "account.login.successful")
	if n := len(g.events.named("account.login.failed_invalid_key")); n != before {
		t.Errorf("a rejected key before a successful login produced %d failure events", n-before)
	}
}

// TestPasswordLogins logs in to the gateway by password with the real
// client (sshpass) and to the target by password as a user made for it.
func TestPasswordLogins(t *testing.T) {
	sshpass := sdktest.RequirePeer(t, "sshpass")
	useradd := sdktest.RequirePeer(t, "useradd", "/usr/sbin")
	s := requireSSHD(t)
	name := fmt.Sprintf("vigilt%d", time.Now().UnixNano()%1000000)
	password := "T-" + hex.EncodeToString([]byte(name))
	if out, err := exec.Command(useradd, "-m", "-s", "/bin/sh", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("userdel", "-r", "-f", name).CombinedOutput(); err != nil {
			t.Logf("userdel: %v: %s", err, out)
		}
	})
	chpasswd := exec.Command("chpasswd")
	chpasswd.Stdin = strings.NewReader(name + ":" + password + "\n")
	if out, err := chpasswd.CombinedOutput(); err != nil {
		t.Fatalf("chpasswd: %v: %s", err, out)
	}
	g := newGateway(t, func(_ *Config, g *gateway) {
		g.targets.byUser["alice"] = []Target{{ID: "id-pw", Name: "pw", Host: "127.0.0.1", Port: s.port, Username: name, Password: password}}
	})
	args := []string{"-p", alicePassword, "ssh", "-p", strconv.Itoa(g.port), "-o", "StrictHostKeyChecking=no",
		"-o", "UserKnownHostsFile=/dev/null", "-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
		"-l", "alice:pw", "127.0.0.1", "id -un"}
	res := runCmd(t, nil, sshpass, args...)
	if res.code != 0 || strings.TrimSpace(res.stdout) != name {
		t.Fatalf("exit %d stdout %q stderr %q", res.code, res.stdout, res.stderr)
	}
	if e := g.events.waitEvent(t, "account.login.successful"); e.Extra["method"] != "password" || e.UserName != "alice" {
		t.Errorf("login event %+v", e)
	}
}

// TestHostileLoginNames sends names with separators, paths and control
// characters: none may reach a target, a capture or a log line unescaped,
// and each is reported as the data it is.
func TestHostileLoginNames(t *testing.T) {
	g := newGateway(t)
	tests := []struct {
		login      string
		authOK     bool   // alice authenticates; the target part is what is odd
		failReason string // when !authOK
		wantUser   string // user_name of the event
	}{
		{login: "alice:../../etc/passwd", authOK: true, wantUser: "alice"},
		{login: "alice:web01|x=y", authOK: true, wantUser: "alice"},
		{login: "alice:web01:web01", authOK: false, failReason: "unknown_user", wantUser: "alice:web01"},
		{login: "al|ice=x:web01", failReason: "unknown_user", wantUser: "al|ice=x"},
		{login: "../../root:web01", failReason: "unknown_user", wantUser: "../../root"},
		{login: "alice\n:web01", failReason: "invalid_login_name", wantUser: "alice\n:web01"},
		{login: "alice:web01\r\nlevelname=CRITICAL", failReason: "invalid_login_name", wantUser: "alice:web01\r\nlevelname=CRITICAL"},
		{login: strings.Repeat("A", 4096), failReason: "invalid_login_name", wantUser: strings.Repeat("A", 4096)},
	}
	for i, tt := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			beforeDenied := len(g.events.named("admission.denied"))
			beforeFail := len(g.events.named("account.login.failed_" + tt.failReason))
			c, err := g.dial(t, tt.login, ssh.Password(alicePassword))
			if !tt.authOK {
				if err == nil {
					c.Close()
					t.Fatal("login succeeded")
				}
				metric := "account.login.failed_" + tt.failReason
				sdktest.WaitFor(t, 5*time.Second, metric, func() bool { return len(g.events.named(metric)) > beforeFail })
				if e := g.events.named(metric)[beforeFail]; e.UserName != tt.wantUser {
					t.Errorf("event user_name %q, want %q", e.UserName, tt.wantUser)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			sess, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			var stderr sdktest.SyncBuffer
			sess.Stderr = &stderr
			err = sess.Run("echo should-not-run")
			var ee *ssh.ExitError
			if !errors.As(err, &ee) || ee.ExitStatus() != 1 || !strings.Contains(stderr.String(), "does not exist or is not available to you") {
				t.Fatalf("Run = %v, stderr %q", err, stderr.String())
			}
			sdktest.WaitFor(t, 5*time.Second, "admission.denied", func() bool { return len(g.events.named("admission.denied")) > beforeDenied })
			if e := g.events.named("admission.denied")[beforeDenied]; e.Reason != "target_not_permitted" || e.UserName != tt.wantUser {
				t.Errorf("admission.denied %+v", e)
			}
		})
	}
	if n := len(g.rec.all()); n != 0 {
		t.Errorf("%d captures opened for hostile names", n)
	}
	if n := len(g.events.named("session.create")); n != 0 {
		t.Errorf("%d sessions created for hostile names", n)
	}
}

func TestShutdownEndsSessions(t *testing.T) {
	g := newGateway(t)
	c := g.mustDial(t, "alice:web01")
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Start("sleep 30"); err != nil {
		t.Fatal(err)
	}
	sdktest.WaitFor(t, 10*time.Second, "the session to register", func() bool { return g.reg.Count() == 1 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := g.srv.Shutdown(ctx); err == nil {
		t.Fatal("Shutdown returned nil with a live session past its deadline")
	}
	if err := sess.Wait(); err == nil {
		t.Fatal("the session survived the shutdown")
	}
	if e := g.events.waitEvent(t, "session.destroy"); e.Reason != "server_shutdown" {
		t.Errorf("session.destroy reason %q", e.Reason)
	}
	if _, err := g.dial(t, "alice:web01"); err == nil {
		t.Error("a new connection was accepted after shutdown")
	}
}
