package e2e_test

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vigilgw/vigil/daemon/e2e"
)

// notifySocket is a unixgram socket standing in for systemd's
// NOTIFY_SOCKET: it keeps every variable assignment received, in order.
type notifySocket struct {
	path string
	conn *net.UnixConn
	done chan struct{}

	mu   sync.Mutex
	msgs []string
}

func listenNotify(t *testing.T, dir string) *notifySocket {
	t.Helper()
	n := &notifySocket{path: filepath.Join(dir, "notify.sock"), done: make(chan struct{})}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: n.path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n.conn = conn
	go func() {
		defer close(n.done)
		buf := make([]byte, 64<<10)
		for {
			k, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			for _, l := range strings.Split(string(buf[:k]), "\n") {
				if l != "" {
					n.msgs = append(n.msgs, l)
				}
			}
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() { conn.Close(); <-n.done })
	return n
}

func (n *notifySocket) all() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

// index is the position of the first message from 'from' on that
// satisfies ok, or -1.
func (n *notifySocket) index(from int, ok func(string) bool) int {
	for i, m := range n.all() {
		if i >= from && ok(m) {
			return i
		}
	}
	return -1
}

func (n *notifySocket) wait(t *testing.T, from int, what string, ok func(string) bool) int {
	t.Helper()
	i := -1
	e2e.Poll(t, e2e.EventTimeout, func() bool { i = n.index(from, ok); return i >= 0 },
		func() string { return fmt.Sprintf("%s on NOTIFY_SOCKET (got %q)", what, n.all()) })
	return i
}

func is(s string) func(string) bool { return func(m string) bool { return m == s } }

// TestSDNotify: vigild talks to a real unixgram NOTIFY_SOCKET as systemd's
// Type=notify expects: READY=1 and a STATUS naming the listener once it
// accepts, WATCHDOG=1 keep-alives when WATCHDOG_USEC asks, RELOADING=1 then
// READY=1 around a SIGHUP, STOPPING=1 on SIGTERM. SIGTERM (systemd's stop)
// drains: new connections are refused, a live session that ends within
// shutdown_grace ends as it would have, its capture is sealed and
// verifies, and vigild exits 0.
func TestSDNotify(t *testing.T) {
	t.Parallel()
	sshd := e2e.RequireSSHD(t)
	v := e2e.NewVigild(t, "")
	n := listenNotify(t, v.Dir)
	v.Env = []string{"NOTIFY_SOCKET=" + n.path, "WATCHDOG_USEC=300000"}
	v.StartProcess()

	// READY=1 means accepting: the gateway and the control socket answer
	// as soon as it arrives.
	ready := n.wait(t, 0, "READY=1", is("READY=1"))
	c, err := net.Dial("tcp", v.SSHAddr())
	if err != nil {
		t.Fatalf("READY=1 sent, but the ssh listener refuses: %v", err)
	}
	c.Close()
	if _, errOut, code := v.Ctl("", "sessions", "list"); code != 0 {
		t.Fatalf("READY=1 sent, but the control socket does not answer: %s", errOut)
	}
	v.WaitReady()
	n.wait(t, 0, "STATUS=ready naming the ssh listener", func(m string) bool {
		return strings.HasPrefix(m, "STATUS=ready") && strings.Contains(m, v.SSHAddr())
	})
	// Keep-alives every WATCHDOG_USEC/2: wait for three, the first after
	// READY=1.
	first := n.wait(t, 0, "WATCHDOG=1", is("WATCHDOG=1"))
	if first < ready {
		t.Errorf("WATCHDOG=1 (message %d) before READY=1 (message %d): %q", first, ready, n.all())
	}
	w2 := n.wait(t, first+1, "a second WATCHDOG=1", is("WATCHDOG=1"))
	n.wait(t, w2+1, "a third WATCHDOG=1", is("WATCHDOG=1"))

	mark := len(n.all())
	v.Signal(syscall.SIGHUP)
	reloading := n.wait(t, mark, "RELOADING=1 after SIGHUP", is("RELOADING=1"))
	n.wait(t, reloading, "MONOTONIC_USEC with RELOADING=1", func(m string) bool {
		us, ok := strings.CutPrefix(m, "MONOTONIC_USEC=")
		_, err := strconv.ParseUint(us, 10, 64)
		return ok && err == nil
	})
	n.wait(t, reloading+1, "READY=1 after the reload", is("READY=1"))

	// A live session waiting for one line of input.
	alice := v.AddUser("alice", "Users")
	v.AddTarget("web01", sshd, "Users")
	client := v.SSHCommand(alice, "alice:web01", `echo started; read line; echo "finished $line"`)
	stdin, err := client.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := e2e.StartProc(t, client)
	e2e.Poll(t, e2e.EventTimeout, func() bool { return strings.Contains(p.Stdout.String(), "started") || p.Exited() },
		func() string { return "the session to start" })

	mark = len(n.all())
	v.Signal(syscall.SIGTERM)
	n.wait(t, mark, "STOPPING=1 on SIGTERM", is("STOPPING=1"))
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		c, err := net.Dial("tcp", v.SSHAddr())
		if err == nil {
			c.Close()
		}
		return err != nil
	}, func() string { return "the gateway to stop accepting after SIGTERM" })
	if p.Exited() || !v.Running() {
		t.Fatalf("SIGTERM ended the live session (client exited: %v) or vigild (running: %v) at once", p.Exited(), v.Running())
	}
	// The session finishes by itself, within the grace.
	io.WriteString(stdin, "within-grace\n")
	stdin.Close()
	if code := p.Wait(t, e2e.StopTimeout); code != 0 || p.Stdout.String() != "started\nfinished within-grace\n" {
		t.Errorf("session during the drain: exit %d, stdout %q, stderr %q", code, p.Stdout, p.Stderr)
	}
	select {
	case <-v.Done():
	case <-time.After(e2e.StopTimeout):
		t.Fatalf("vigild did not exit within %s of SIGTERM", e2e.StopTimeout)
	}
	if code := v.ExitCode(); code != 0 {
		t.Errorf("vigild exited %d after SIGTERM", code)
	}
	if a := e2e.Captures(v.SpoolActive()); len(a) != 0 {
		t.Errorf("spool/active holds %v after the drain", a)
	}
	vsl := v.WaitSealed(1)[0]
	if out := v.MustCtl("", "session-logs", "verify", vsl); !strings.Contains(out, "verified") || strings.Contains(out, "recovered") {
		t.Errorf("verify after the drain: %q", out)
	}
	if text := v.MustCtl("", "session-logs", "cat", vsl); !strings.Contains(text, "finished within-grace") {
		t.Errorf("the drained session's capture lacks its end: %q", text)
	}
}

// TestFirstStart is `make run`'s promise, on etc/vigil-dev.toml: on a
// fresh state directory vigild prints the administrator's password once,
// and the addresses it listens on (all 127.0.0.1, and they accept); the
// password works; the second start prints no password.
func TestFirstStart(t *testing.T) {
	t.Parallel()
	s := e2e.RequireSSHD(t)
	v := e2e.NewDevVigild(t)
	v.Start()
	out := v.Stdout()
	m := regexp.MustCompile(`(?m)^\s*user:\s+(\S+)\s*\n\s*password:\s+(\S+)\s*$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("first start: no administrator user and password on stdout:\n%s", out)
	}
	admin, password := m[1], m[2]
	if admin != "admin" {
		t.Errorf("administrator is %q, want admin", admin)
	}
	if len(password) < 16 {
		t.Errorf("administrator password %q has %d characters, want at least 16", password, len(password))
	}
	if c := strings.Count(out, password); c != 1 {
		t.Errorf("the password appears %d times on stdout, want once:\n%s", c, out)
	}
	checkListeners(t, v)
	checkModes(t, v)
	// Shown once means on stdout only: not in the process log, not in
	// any event log.
	if strings.Contains(v.StderrTail(1<<20), password) {
		t.Errorf("the administrator password is in vigild's stderr")
	}
	filepath.WalkDir(v.LogDir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(path); strings.Contains(string(b), password) {
				t.Errorf("the administrator password is in %s", path)
			}
		}
		return nil
	})
	v.WaitEvent("core", "account.bootstrap", e2e.Fields("user_name", "admin"))

	// The printed password is admin's: it opens a session on a target of
	// the Administrators group (OpenSSH in batch mode cannot type a
	// password, so this client is x/crypto/ssh).
	v.AddTarget("web01", s, "Administrators")
	if _, err := v.Dial("admin:web01", ssh.Password(password+"x")); err == nil {
		t.Fatal("admin logged in with a wrong password")
	}
	c, err := v.Dial("admin:web01", ssh.Password(password))
	if err != nil {
		t.Fatalf("admin with the printed password: %v", err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	got, err := sess.CombinedOutput("echo admin-password-works")
	c.Close()
	if err != nil || !strings.Contains(string(got), "admin-password-works") {
		t.Fatalf("admin session: %v, output %q", err, got)
	}

	// And it logs in to the web UI.
	wuiLogin(t, v, admin, password)

	v.Stop()
	v.Start()
	if strings.Contains(v.Stdout(), password) || strings.Contains(strings.ToLower(v.Stdout()), "password:") {
		t.Errorf("second start printed a password again:\n%s", v.Stdout())
	}
	checkListeners(t, v)
	if got := len(e2e.Find(v.Events("core"), "account.bootstrap")); got != 1 {
		t.Errorf("%d account.bootstrap events after two starts, want 1", got)
	}
}

// wuiLogin logs in to the web UI as a browser does (GET /login for the
// form's CSRF token, POST /login) and checks /api/v1/me.
func wuiLogin(t *testing.T, v *e2e.Vigild, name, password string) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{
		Jar:     jar,
		Timeout: e2e.CommandTimeout,
		// The appliance's self-signed certificate, made on first start.
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	base := fmt.Sprintf("https://127.0.0.1:%d", v.WUIPort())
	resp, err := client.Get(base + "/login")
	if err != nil {
		t.Fatalf("wui: GET /login: %v", err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"`).FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("wui: GET /login: %s, no csrf_token in the form:\n%s", resp.Status, page)
	}
	token := string(m[1]) + string(m[2])
	resp, err = client.PostForm(base+"/login", url.Values{"name": {name}, "password": {password}, "csrf_token": {token}})
	if err != nil {
		t.Fatalf("wui: POST /login: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("wui: POST /login as %s with the printed password: %s, want 303", name, resp.Status)
	}
	resp, err = client.Get(base + "/api/v1/me")
	if err != nil {
		t.Fatalf("wui: GET /api/v1/me: %v", err)
	}
	defer resp.Body.Close()
	var me struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&me); err != nil || resp.StatusCode != http.StatusOK || me.Name != name {
		t.Fatalf("wui: GET /api/v1/me after login: %s, %v, name %q", resp.Status, err, me.Name)
	}
}

// checkModes checks the modes README's file table promises, in the state
// and log directories the dev configuration names relative to itself.
func checkModes(t *testing.T, v *e2e.Vigild) {
	t.Helper()
	v.WaitEvent("core", "service.start")
	for _, c := range []struct {
		path string
		mode os.FileMode
	}{
		{"state/vigil.db", 0o600},
		{"state/keys", 0o700},
		{"state/keys/signing_ed25519.pem", 0o600},
		{"state/keys/sealing.key", 0o600},
		{"state/keys/ssh_host_ed25519_key", 0o600},
		{"state/spool/active", 0o750},
		{"state/spool/sealed", 0o750},
		{"state/renders", 0o750},
		{"state/events", 0o750},
		{"state/vigild.sock", 0o600},
		{"log/core_json.log", 0o640},
	} {
		st, err := os.Stat(filepath.Join(v.Dir, c.path))
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if st.Mode().Perm() != c.mode {
			t.Errorf("%s has mode %#o, want %#o", c.path, st.Mode().Perm(), c.mode)
		}
	}
}

// checkListeners checks the ready line: it names the SSH and VNC gateways
// and the web UI on their configured 127.0.0.1 ports, and every address it
// names accepts connections.
func checkListeners(t *testing.T, v *e2e.Vigild) {
	t.Helper()
	line := v.ReadyLine()
	named := map[string]string{}
	for _, m := range regexp.MustCompile(`(\w+) (?:https?://)?([^\s;/]+:\d+)`).FindAllStringSubmatch(line, -1) {
		named[m[1]] = m[2]
	}
	want := map[string]int{"ssh": v.SSHPort, "vnc": v.VNCPort(), "wui": v.WUIPort()}
	for name, port := range want {
		if addr := fmt.Sprintf("127.0.0.1:%d", port); named[name] != addr {
			t.Errorf("ready line %q: %s is %q, want %s", line, name, named[name], addr)
		}
	}
	for name, addr := range named {
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("ready line %q: %s listens on %s, not 127.0.0.1", line, name, addr)
		}
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Errorf("ready line names %s %s, which refuses: %v", name, addr, err)
			continue
		}
		c.Close()
	}
}

// lineOf is the 1-based number of the first line of text containing s.
func lineOf(t *testing.T, text, s string) int {
	t.Helper()
	for i, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	t.Fatalf("%q not in the configuration", s)
	return 0
}

// TestCheckConfig: a bad configuration is refused, by `vigild
// --check-config`, by `vigilctl config check` and by vigild's start, with
// a message naming the file, the line and the key.
func TestCheckConfig(t *testing.T) {
	t.Parallel()
	v := e2e.NewVigild(t, "")
	cases := []struct {
		name, extra, lineOf string
		want                []string // besides "FILE:LINE"
	}{
		{"syntax", "\n[recording]\nmin_free_bytes = \"1MB\n", `min_free_bytes = "1MB`, []string{"syntax error"}},
		{"unknown key", "\n[recording]\nqueue_length = 1\nmin_free_bytez = \"1MB\"\n", "min_free_bytez", []string{"unknown key recording.min_free_bytez"}},
		{"unknown table", "\n[recordings]\nqueue_length = 1\n", "[recordings]", []string{"unknown key recordings"}},
		{"bad size", "\n[recording]\nmin_free_bytes = \"lots\"\n", "min_free_bytes", []string{"recording.min_free_bytes"}},
		{"bad duration", "\n[recording]\nretention = \"forever\"\n", "retention", []string{"recording.retention"}},
		{"bad sink type", "\n[[log.sink]]\nname = \"x\"\ntype = \"carrier-pigeon\"\n", "carrier-pigeon", []string{"log.sink[0].type"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			text := v.ConfigText(c.extra)
			path := filepath.Join(v.Dir, strings.ReplaceAll(c.name, " ", "-")+".toml")
			if err := os.WriteFile(path, []byte(text), 0o640); err != nil {
				t.Fatal(err)
			}
			want := append([]string{fmt.Sprintf("%s:%d", path, lineOf(t, text, c.lineOf))}, c.want...)
			check := func(who string, out string, code int) {
				t.Helper()
				if code == 0 {
					t.Errorf("%s accepted the configuration:\n%s", who, out)
					return
				}
				for _, w := range want {
					if !strings.Contains(out, w) {
						t.Errorf("%s: message does not name %q:\n%s", who, w, out)
					}
				}
			}
			out, errOut, code := e2e.Run(t, exec.Command(e2e.Bin("vigild"), "--check-config", "--config", path))
			check("vigild --check-config", out+errOut, code)
			out, errOut, code = e2e.Run(t, exec.Command(e2e.Bin("vigilctl"), "--config", path, "config", "check"))
			check("vigilctl config check", out+errOut, code)
			out, errOut, code = e2e.Run(t, exec.Command(e2e.Bin("vigild"), "--config", path))
			check("vigild (start)", out+errOut, code)
		})
	}
	// What only the sink can tell (its TLS files) is checked too, naming
	// the sink and the file.
	t.Run("sink CA without a certificate", func(t *testing.T) {
		ca := filepath.Join(v.Dir, "not-a-ca.pem")
		if err := os.WriteFile(ca, []byte("not a certificate\n"), 0o640); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(v.Dir, "bad-ca.toml")
		text := v.ConfigText(fmt.Sprintf("\n[[log.sink]]\nname = \"siem\"\ntype = \"syslog\"\naddress = \"127.0.0.1:%d\"\ntransport = \"tls\"\ntls_ca = %q\n", e2e.FreePort(t), ca))
		if err := os.WriteFile(path, []byte(text), 0o640); err != nil {
			t.Fatal(err)
		}
		for _, args := range [][]string{{"--check-config", "--config", path}, {"--config", path}} {
			out, errOut, code := e2e.Run(t, exec.Command(e2e.Bin("vigild"), args...))
			if code == 0 || !strings.Contains(errOut, `log.sink "siem"`) || !strings.Contains(errOut, ca) {
				t.Errorf("vigild %q: exit %d, stdout %q, stderr %q (want the sink and %s named)", args, code, out, tail(errOut, 300), ca)
			}
		}
		out, errOut, code := e2e.Run(t, exec.Command(e2e.Bin("vigilctl"), "--config", path, "config", "check"))
		if code == 0 || !strings.Contains(errOut, `log.sink "siem"`) || !strings.Contains(errOut, ca) {
			t.Errorf("vigilctl config check: exit %d, stdout %q, stderr %q (want the sink and %s named)", code, out, tail(errOut, 300), ca)
		}
	})
	t.Run("good", func(t *testing.T) {
		out, errOut, code := e2e.Run(t, exec.Command(e2e.Bin("vigild"), "--check-config", "--config", v.ConfigPath))
		if code != 0 || !strings.Contains(out, "ok") {
			t.Errorf("vigild --check-config on a good file: exit %d, stdout %q, stderr %q", code, out, errOut)
		}
	})
}

// TestReload: SIGHUP applies a good configuration (a new file sink starts
// receiving events; a raised min_free_bytes refuses recorded sessions); a
// bad one (syntax error, unknown key) is refused with config.reload.failed
// naming the line and key, the running configuration stays in force and
// SSH is still served.
func TestReload(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	g.sshOK(t, g.alice, "echo before-reload", "before-reload")

	audit := filepath.Join(g.LogDir, "audit", "all.log")
	sinks := `
[[log.sink]]
name = "json-files"
type = "file"
format = "json"
path = "{component}_json.log"

[[log.sink]]
name = "audit"
type = "file"
format = "json"
path = "audit/all.log"
`
	reloads := func() int { return len(e2e.Find(g.Events("core"), "config.reload")) }
	failures := func() int { return len(e2e.Find(g.Events("core"), "config.reload.failed")) }

	// Good: a second sink, and a free-space minimum no disk has.
	g.WriteConfig(sinks + "\n[recording]\nmin_free_bytes = \"1000TB\"\n")
	g.Signal(syscall.SIGHUP)
	g.WaitEvent("core", "config.reload", e2e.Fields("result", "success"))
	g.WaitEventIn(audit, "config.reload")

	assertRefused := func(when string) {
		t.Helper()
		before := len(e2e.Find(g.Events("ssh"), "admission.denied"))
		out, errOut, code := e2e.Run(t, g.SSHCommand(g.alice, "alice:web01", "echo must-not-run"))
		if code == 0 || strings.Contains(out, "must-not-run") || !strings.Contains(errOut, "free disk space") {
			t.Fatalf("%s: recorded session with min_free_bytes above the free space: exit %d, stdout %q, stderr %q", when, code, out, errOut)
		}
		e2e.Poll(t, e2e.EventTimeout, func() bool {
			return len(e2e.Find(g.Events("ssh"), "admission.denied", e2e.Fields("user_name", "alice", "reason", "low_disk_space"))) > before
		}, func() string { return when + ": a new admission.denied event" })
	}
	assertRefused("after the good reload")
	g.WaitEventIn(audit, "admission.denied", e2e.Fields("user_name", "alice"))
	g.sshOK(t, g.bob, "echo unrecorded-ok", "unrecorded-ok")

	// Bad: each would lower the minimum again, if it were applied.
	badSyntax := g.ConfigText(sinks + "\n[recording]\nmin_free_bytes = \"1MB\n")
	badKey := g.ConfigText(sinks + "\n[recording]\nmin_free_bytes = \"1MB\"\nmin_free_bytez = \"1MB\"\n")
	for _, bad := range []struct {
		name, text, line string
		want             string
	}{
		{"syntax error", badSyntax, `min_free_bytes = "1MB`, "syntax error"},
		{"unknown key", badKey, "min_free_bytez", "recording.min_free_bytez"},
	} {
		nFail, nOK := failures(), reloads()
		g.WriteRawConfig(bad.text)
		g.Signal(syscall.SIGHUP)
		var ev e2e.Event
		e2e.Poll(t, e2e.EventTimeout, func() bool {
			fs := e2e.Find(g.Events("core"), "config.reload.failed")
			if len(fs) > nFail {
				ev = fs[len(fs)-1]
				return true
			}
			return false
		}, func() string { return bad.name + ": config.reload.failed" })
		wantLine := fmt.Sprintf("%s:%d", g.ConfigPath, lineOf(t, bad.text, bad.line))
		if r := ev.S("reason"); !strings.Contains(r, wantLine) || !strings.Contains(r, bad.want) {
			t.Errorf("%s: config.reload.failed reason %q does not name %q and %q", bad.name, r, wantLine, bad.want)
		}
		if ev.S("levelname") != "ERROR" {
			t.Errorf("%s: config.reload.failed level %q", bad.name, ev.S("levelname"))
		}
		if reloads() != nOK {
			t.Errorf("%s: a config.reload (success) was logged for a bad file", bad.name)
		}
		// The running configuration is kept: the audit sink still
		// receives events and the minimum still refuses.
		g.WaitEventIn(audit, "config.reload.failed", e2e.Fields("reason", ev.S("reason")))
		assertRefused("after the bad reload (" + bad.name + ")")
		g.sshOK(t, g.bob, "echo still-serving", "still-serving")
	}

	// What only a restart can change is refused, naming the key.
	nFail := failures()
	moved := strings.Replace(g.ConfigText(sinks+"\n[recording]\nmin_free_bytes = \"1MB\"\n"),
		fmt.Sprintf("listen = %q", g.SSHAddr()), fmt.Sprintf("listen = \"127.0.0.1:%d\"", e2e.FreePort(t)), 1)
	g.WriteRawConfig(moved)
	g.Signal(syscall.SIGHUP)
	e2e.Poll(t, e2e.EventTimeout, func() bool { return failures() > nFail }, func() string { return "config.reload.failed for ssh.listen" })
	if fs := e2e.Find(g.Events("core"), "config.reload.failed"); !strings.Contains(fs[len(fs)-1].S("reason"), "ssh.listen") {
		t.Errorf("reload changing ssh.listen: reason %q does not name ssh.listen", fs[len(fs)-1].S("reason"))
	}
	assertRefused("after a reload changing ssh.listen")
	g.WriteRawConfig(badKey)

	// vigilctl reload says the same to the administrator.
	out, errOut, code := g.Ctl("", "reload")
	if code == 0 || !strings.Contains(out+errOut, "min_free_bytez") {
		t.Errorf("vigilctl reload of a bad file: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	// Good again: the minimum is back to a reachable value.
	g.WriteConfig(sinks + "\n[recording]\nmin_free_bytes = \"1MB\"\n")
	if out := g.MustCtl("", "reload"); !strings.Contains(out, "reloaded") {
		t.Errorf("vigilctl reload: %q", out)
	}
	g.sshOK(t, g.alice, "echo after-reload", "after-reload")
	if !g.Running() {
		t.Fatal("vigild exited")
	}
	last := g.WaitEvent("ssh", "session.destroy", e2e.Fields("user_name", "alice"))
	if dup := g.WaitLogsComplete(last.Seq()); len(dup) > 0 {
		t.Logf("events written twice across the reloads (at-least-once): seqs %v", dup)
	}
}

// TestPluginKill9: a plugin killed with SIGKILL is relaunched and healthy
// again (running, one restart, a new PID), plugin.exit and plugin.restart
// are logged (through the relaunched logformat plugin itself), and vigild
// goes on serving SSH sessions and logging them.
func TestPluginKill9(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	for _, name := range []string{"logformat-json", "recorder-ssh", "storage-local"} {
		before := g.Plugins()[name]
		if before.State != "running" || before.PID <= 0 || before.Restarts != 0 {
			t.Fatalf("%s before the kill: %+v (all: %+v)", name, before, g.Plugins())
		}
		if err := syscall.Kill(before.PID, syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9 %s (pid %d): %v", name, before.PID, err)
		}
		var now e2e.PluginRow
		e2e.Poll(t, e2e.EventTimeout, func() bool {
			now = g.Plugins()[name]
			return now.State == "running" && now.Restarts == 1 && now.PID > 0 && now.PID != before.PID
		}, func() string {
			return fmt.Sprintf("%s running again with restarts=1 and a new pid (now %+v)", name, now)
		})
		g.WaitEvent("plugins", "plugin.exit", e2e.Fields("plugin", name))
		g.WaitEvent("plugins", "plugin.restart", e2e.Fields("plugin", name))
		if !g.Running() {
			t.Fatalf("vigild exited after kill -9 of %s", name)
		}
		marker := "after-kill-" + name
		g.sshOK(t, g.alice, "echo "+marker, marker)
	}
	// The sessions after the kills were logged and recorded, and no event
	// was lost while the log format plugin was down.
	g.WaitSealed(3)
	var last e2e.Event
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		d := e2e.Find(g.Events("ssh"), "session.destroy", e2e.Fields("user_name", "alice"))
		if len(d) == 3 {
			last = d[2]
		}
		return len(d) == 3
	}, func() string { return "three session.destroy events" })
	if dup := g.WaitLogsComplete(last.Seq()); len(dup) > 0 {
		t.Logf("events written twice around the plugin restarts (at-least-once): seqs %v", dup)
	}
	for name, p := range g.Plugins() {
		if p.State != "running" && p.State != "disabled" {
			t.Errorf("plugin %s is %s at the end: %+v", name, p.State, p)
		}
	}
	// A plugin's own log lines (hclog's, with their timestamp=) arrive in
	// vigild's log under the plugin's name.
	if !regexp.MustCompile(`(?m)vigild\.plugin\.storage-local: .*timestamp=`).MatchString(g.StderrTail(1 << 20)) {
		t.Errorf("no log line of storage-local's own under vigild.plugin.storage-local in vigild's log")
	}
}

// pluginPIDs are the PIDs of the running plugins.
func pluginPIDs(v *e2e.Vigild) map[string]int {
	pids := map[string]int{}
	for name, p := range v.Plugins() {
		if p.PID > 0 {
			pids[name] = p.PID
		}
	}
	return pids
}

// waitGone waits until none of the processes exists any more.
func waitGone(t *testing.T, pids map[string]int, after string) {
	t.Helper()
	var left []string
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		left = nil
		for name, pid := range pids {
			if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
				left = append(left, fmt.Sprintf("%s (pid %d)", name, pid))
			}
		}
		return len(left) == 0
	}, func() string { return fmt.Sprintf("the plugins to end %s; still there: %v", after, left) })
}

// TestStopDrains: Ctrl-C (SIGINT, as under `make run`) with a live
// session: vigild stops accepting at once, gives the session its
// shutdown_grace, then ends it with a notice; the capture is sealed and
// verifies; vigild exits 0 and leaves no plugin process behind.
func TestStopDrains(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	pids := pluginPIDs(g.Vigild)
	if len(pids) == 0 {
		t.Fatal("no plugin runs")
	}
	p := e2e.StartProc(t, g.SSHCommand(g.alice, "alice:web01", "echo started; exec sleep 600"))
	e2e.Poll(t, e2e.EventTimeout, func() bool { return strings.Contains(p.Stdout.String(), "started") || p.Exited() },
		func() string { return "the session to start" })
	create := g.WaitEvent("ssh", "session.create", e2e.Fields("user_name", "alice"))

	g.Signal(syscall.SIGINT)
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		c, err := net.Dial("tcp", g.SSHAddr())
		if err == nil {
			c.Close()
		}
		return err != nil
	}, func() string { return "the gateway to stop accepting after SIGINT" })
	if p.Exited() {
		t.Errorf("the live session ended at once; shutdown_grace should let it run (stderr %q)", p.Stderr)
	}
	if code := p.Wait(t, e2e.StopTimeout); code == 0 {
		t.Errorf("client of a session ended by the shutdown exited 0")
	}
	if !strings.Contains(p.Stderr.String(), "shutting down") {
		t.Errorf("client stderr %q lacks the shutdown notice", p.Stderr)
	}
	select {
	case <-g.Done():
	case <-time.After(e2e.StopTimeout):
		t.Fatalf("vigild did not exit within %s of SIGINT", e2e.StopTimeout)
	}
	if code := g.ExitCode(); code != 0 {
		t.Errorf("vigild exited %d after SIGINT", code)
	}
	waitGone(t, pids, "after vigild stopped")

	if a := e2e.Captures(g.SpoolActive()); len(a) != 0 {
		t.Errorf("spool/active holds %v after a clean stop", a)
	}
	vsl := g.WaitSealed(1)[0]
	out := g.MustCtl("", "session-logs", "verify", vsl)
	if !strings.Contains(out, "verified") || strings.Contains(out, "recovered") {
		t.Errorf("verify after a clean stop: %q", out)
	}
	if text := g.MustCtl("", "session-logs", "cat", vsl); !strings.Contains(text, "started") {
		t.Errorf("cat: %q", text)
	}

	// Whatever the sinks had not written when vigild stopped, they write
	// after the next start: nothing is lost.
	g.Start()
	g.WaitEvent("ssh", "session.destroy", e2e.Fields("session_id", create.S("session_id"), "reason", "server_shutdown"))
	stop := g.WaitEvent("core", "service.stop")
	if dup := g.WaitLogsComplete(stop.Seq()); len(dup) > 0 {
		t.Logf("events written twice across the restart (at-least-once): seqs %v", dup)
	}
}

// TestCommandLine: `vigild --version` and `vigilctl --version` name the
// same build; a bad command line is a usage error (exit 2) naming what is
// wrong.
func TestCommandLine(t *testing.T) {
	t.Parallel()
	dout, derr, dcode := e2e.Run(t, exec.Command(e2e.Bin("vigild"), "--version"))
	cout, cerr, ccode := e2e.Run(t, exec.Command(e2e.Bin("vigilctl"), "--version"))
	dv, cv := strings.Fields(dout), strings.Fields(cout)
	if dcode != 0 || ccode != 0 || len(dv) < 2 || len(cv) < 2 || dv[0] != "vigild" || cv[0] != "vigilctl" || dv[1] != cv[1] {
		t.Errorf("--version: vigild exit %d %q %q; vigilctl exit %d %q %q", dcode, dout, derr, ccode, cout, cerr)
	}
	for _, c := range []struct {
		bin  string
		args []string
		want string
	}{
		{"vigild", []string{"--no-such-flag"}, "-no-such-flag"},
		{"vigild", []string{"stray-argument"}, `unexpected argument "stray-argument"`},
		{"vigilctl", []string{"--no-such-flag"}, "-no-such-flag"},
	} {
		out, errOut, code := e2e.Run(t, exec.Command(e2e.Bin(c.bin), c.args...))
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%s %q: exit %d (want 2), stdout %q, stderr %q (want %q)", c.bin, c.args, code, out, errOut, c.want)
		}
	}
}
