package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/vigilgw/vigil/daemon/e2e"
)

// ctlConfigRow is one row of `vigilctl config show`.
type ctlConfigRow struct{ value, origin string }

func ctlConfigShow(t *testing.T, v *e2e.Vigild) (map[string]ctlConfigRow, string) {
	t.Helper()
	out := v.MustCtl("", "config", "show")
	rows := map[string]ctlConfigRow{}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) < 2 || !strings.HasPrefix(lines[0], "KEY") || !strings.Contains(lines[0], "VALUE") || !strings.HasSuffix(strings.TrimSpace(lines[0]), "ORIGIN") {
		t.Fatalf("config show: no KEY VALUE ORIGIN table:\n%s", out)
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) < 3 {
			t.Fatalf("config show: row %q", l)
		}
		key, origin := f[0], f[len(f)-1]
		value := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(strings.TrimPrefix(l, key)), origin))
		rows[key] = ctlConfigRow{value, origin}
	}
	return rows, out
}

// bannerOf connects as u and returns the banner the gateway shows before
// authentication.
func bannerOf(t *testing.T, v *e2e.Vigild, u e2e.User) string {
	t.Helper()
	var banner e2e.SyncBuffer
	c, err := v.DialConfig(u.Name+":web01", ssh.ClientConfig{
		Auth:           []ssh.AuthMethod{e2e.KeyAuth(t, u)},
		BannerCallback: func(m string) error { banner.Write([]byte(m)); return nil },
	})
	if err != nil {
		t.Fatalf("dial as %s: %v", u.Name, err)
	}
	c.Close()
	return banner.String()
}

// TestSettingsOverlay: <state_dir>/settings.toml (what the web UI changes)
// is laid over vigil.toml; `vigilctl config show` prints every effective
// value with its origin (default, file, settings) and masks secrets; the
// running gateway uses the overlaid values, at start and after a SIGHUP;
// a settings.toml that sets what only the file may set is refused with
// its line, and the running values stay.
func TestSettingsOverlay(t *testing.T) {
	t.Parallel()
	s := e2e.RequireSSHD(t)
	const secret = "e2e-storage-secret-value"
	v := e2e.NewVigild(t, fmt.Sprintf(`
[recording]
min_free_bytes = "1MB"
bitrate = 1500
storage_key = "AKIAE2EEXAMPLE"
storage_secret = %q
`, secret))
	settings := filepath.Join(v.StateDir, "settings.toml")
	writeSettings := func(text string) {
		t.Helper()
		if err := os.MkdirAll(v.StateDir, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(settings, []byte(text), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	writeSettings("[ssh]\nbanner = \"settings-banner-e2e\"\n\n[recording]\nbitrate = 2500\n")
	v.Start()
	alice := v.AddUser("alice", "Users")
	v.AddTarget("web01", s, "Users")

	rows, out := ctlConfigShow(t, v)
	for key, want := range map[string]ctlConfigRow{
		"team":                     {`"e2e"`, "file"},
		"ssh.banner":               {`"settings-banner-e2e"`, "settings"},
		"recording.bitrate":        {"2500", "settings"},
		"recording.min_free_bytes": {`"1MB"`, "file"},
		"recording.framerate":      {"10", "default"},
		"ssh.login_grace":          {`"30s"`, "default"},
		"recording.storage_key":    {"********", "file"},
		"recording.storage_secret": {"********", "file"},
	} {
		if got, ok := rows[key]; !ok || got != want {
			t.Errorf("config show %s: %+v, want %+v", key, got, want)
		}
	}
	if strings.Contains(out, secret) || strings.Contains(out, "AKIAE2EEXAMPLE") {
		t.Errorf("config show prints a secret:\n%s", out)
	}
	if b := bannerOf(t, v, alice); !strings.Contains(b, "settings-banner-e2e") {
		t.Errorf("banner %q: settings.toml's is not in force", b)
	}

	// A settings.toml that sets what only vigil.toml may set is refused
	// on reload, naming the file, line and key; the running values stay.
	failed := func() int { return len(e2e.Find(v.Events("core"), "config.reload.failed")) }
	n := failed()
	writeSettings("[ssh]\nbanner = \"must-not-apply\"\n\nstate_dir = \"/elsewhere\"\n")
	v.Signal(syscall.SIGHUP)
	var reason string
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		fs := e2e.Find(v.Events("core"), "config.reload.failed")
		if len(fs) > n {
			reason = fs[len(fs)-1].S("reason")
		}
		return reason != ""
	}, func() string { return "config.reload.failed for a bad settings.toml" })
	if !strings.Contains(reason, settings+":") || !strings.Contains(reason, "state_dir") {
		t.Errorf("config.reload.failed reason %q does not name %s and state_dir", reason, settings)
	}
	if b := bannerOf(t, v, alice); !strings.Contains(b, "settings-banner-e2e") {
		t.Errorf("after a refused reload the banner is %q", b)
	}

	// A good settings.toml applies on SIGHUP.
	writeSettings("[ssh]\nbanner = \"reloaded-banner-e2e\"\n")
	v.Signal(syscall.SIGHUP)
	v.WaitEvent("core", "config.reload", e2e.Fields("result", "success"))
	if b := bannerOf(t, v, alice); !strings.Contains(b, "reloaded-banner-e2e") {
		t.Errorf("after the reload the banner is %q", b)
	}
	rows, _ = ctlConfigShow(t, v)
	if got := rows["recording.bitrate"]; got != (ctlConfigRow{"1500", "file"}) {
		t.Errorf("config show recording.bitrate after settings.toml dropped it: %+v, want 1500 from the file", got)
	}
}

// TestReloadRecording: SIGHUP changes what the recording pipeline does
// with the next sessions (a new upload location; retention "0" deletes the
// local capture right after its verified upload, where the 24 h default
// kept the first session's), and a changed key that only a restart
// applies (queue_length) is accepted with a config.restart_required
// warning naming it.
func TestReloadRecording(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	// session runs the n-th session and returns its id.
	session := func(marker string, n int) string {
		t.Helper()
		g.sshOK(t, g.alice, "echo "+marker, marker)
		var evs []e2e.Event
		e2e.Poll(t, e2e.EventTimeout, func() bool {
			evs = e2e.Find(g.Events("ssh"), "session.create", e2e.Fields("user_name", "alice"))
			return len(evs) >= n
		}, func() string { return fmt.Sprintf("%d session.create events", n) })
		return evs[n-1].S("session_id")
	}
	sid1 := session("first-session", 1)
	up1 := g.WaitEvent("pipeline", "recording.upload.done", e2e.Fields("session_id", sid1))
	first := g.WaitSealed(1)[0]

	moved := filepath.Join(g.Dir, "moved")
	g.WriteConfig(fmt.Sprintf("\n[recording]\nretention = \"0\"\nqueue_length = 1\nupload_location = \"file://%s/{username}/{session_id}/{segment}.{ext}\"\n", moved))
	g.Signal(syscall.SIGHUP)
	g.WaitEvent("core", "config.reload", e2e.Fields("result", "success"))
	rr := g.WaitEvent("core", "config.restart_required")
	if rr.S("keys") != "recording.queue_length" || rr.S("levelname") != "WARNING" {
		t.Errorf("config.restart_required: %v, want keys recording.queue_length", rr)
	}

	sid2 := session("second-session", 2)
	up2 := g.WaitEvent("pipeline", "recording.upload.done", e2e.Fields("session_id", sid2))
	if !strings.HasPrefix(up2.S("location"), "file://"+moved+"/alice/"+sid2+"/") {
		t.Errorf("second upload went to %q, want the reloaded location under %s", up2.S("location"), moved)
	}
	if got, _ := filepath.Glob(filepath.Join(moved, "alice", sid2, "*.vsl")); len(got) != 1 {
		t.Errorf("the reloaded location holds %q, want the second session's capture", got)
	}
	if up1.S("location") == up2.S("location") || strings.HasPrefix(up1.S("location"), "file://"+moved) {
		t.Errorf("first upload at %q, second at %q", up1.S("location"), up2.S("location"))
	}
	var left []string
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		left = e2e.Captures(g.SpoolSealed())
		return len(left) == 1
	}, func() string {
		return fmt.Sprintf("the second capture deleted after its upload with retention 0 (spool/sealed: %q)", left)
	})
	if left[0] != first {
		t.Errorf("spool/sealed keeps %q; the first session's capture (24 h retention when it was uploaded, %s) is %q", left, up1.S("time"), first)
	}
}

// TestCtlOffline: what needs only the store works while vigild is stopped
// (users, groups, targets, keys export, config show), what needs the
// running vigild says so; what was changed offline is in force at the
// next start: a user added offline logs in, a changed password replaces
// the old one, a deleted user and a deleted target are refused.
func TestCtlOffline(t *testing.T) {
	t.Parallel()
	g := newGateway(t, "")
	g.sshOK(t, g.alice, "echo online", "online")
	pubBefore := g.PublicKey()
	g.Stop()

	_, errOut, code := g.Ctl("", "sessions", "list")
	if code == 0 || !strings.Contains(errOut, "vigild") {
		t.Errorf("sessions list with vigild stopped: exit %d, stderr %q (want an error saying vigild is not reachable)", code, errOut)
	}
	carol := g.AddUser("carol", "Users")
	g.MustCtl("", "groups", "add", "Auditors", "--permission", "SESSION_RECORDINGS_VIEW")
	g.AddTarget("web02", g.sshd, "Users")
	const newPassword = "pw-alice-changed-while-stopped"
	g.MustCtl(newPassword+"\n", "users", "passwd", "alice", "--password-stdin")
	g.MustCtl("", "users", "del", "bob")
	g.MustCtl("", "targets", "del", "web01")
	if out := g.MustCtl("", "users", "list"); !strings.Contains(out, "carol") || strings.Contains(out, "bob") {
		t.Errorf("users list while stopped: %q", out)
	}
	if out := g.MustCtl("", "groups", "list"); !strings.Contains(out, "Auditors") {
		t.Errorf("groups list while stopped: %q", out)
	}
	if out := g.MustCtl("", "targets", "list"); !strings.Contains(out, "web02") || strings.Contains(out, "web01") {
		t.Errorf("targets list while stopped: %q", out)
	}
	if !pubBefore.Equal(g.PublicKey()) {
		t.Error("keys export while stopped gives another key")
	}
	if rows, _ := ctlConfigShow(t, g.Vigild); rows["team"].value != `"e2e"` {
		t.Errorf("config show while stopped: team %+v", rows["team"])
	}

	g.Start()
	out, errOut, code := e2e.Run(t, g.SSHCommand(carol, "carol:web02", "echo carol-added-offline"))
	if code != 0 || out != "carol-added-offline\n" {
		t.Errorf("carol, added while vigild was stopped: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if _, err := g.Dial("alice:web02", ssh.Password(g.alice.Password)); err == nil {
		t.Error("alice's old password still works")
	}
	c, err := g.Dial("alice:web02", ssh.Password(newPassword))
	if err != nil {
		t.Errorf("alice's new password: %v", err)
	} else {
		c.Close()
	}
	if _, err := g.Dial("bob:web01", e2e.KeyAuth(t, g.bob)); err == nil {
		t.Error("deleted user bob logged in")
	}
	out, errOut, code = e2e.Run(t, g.SSHCommand(g.alice, "alice:web01", "echo must-not-run"))
	if code == 0 || strings.Contains(out, "must-not-run") || !strings.Contains(errOut, `vigil: target "web01" does not exist or is not available to you`) {
		t.Errorf("deleted target web01: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// jsonFileSink is the default sink, written out: a test that adds sinks
// keeps it.
const jsonFileSink = `
[[log.sink]]
name = "json-files"
type = "file"
format = "json"
path = "{component}_json.log"
`

// TestReloadBadSink: a reload whose changed sink cannot be built (a TLS
// syslog sink whose CA file holds no certificate) is refused, naming the
// sink, and every running sink goes on delivering: the one it would have
// replaced included.
func TestReloadBadSink(t *testing.T) {
	t.Parallel()
	g := newGateway(t, jsonFileSink+`
[[log.sink]]
name = "audit"
type = "file"
format = "json"
path = "audit/all.log"
`)
	audit := filepath.Join(g.LogDir, "audit", "all.log")
	g.sshOK(t, g.alice, "echo before", "before")
	g.WaitEventIn(audit, "session.destroy", e2e.Fields("user_name", "alice"))

	ca := filepath.Join(g.Dir, "ca.pem")
	writeFile(t, ca, []byte("not a certificate\n"))
	n := len(e2e.Find(g.Events("core"), "config.reload.failed"))
	g.WriteConfig(jsonFileSink + fmt.Sprintf(`
[[log.sink]]
name = "audit"
type = "syslog"
format = "json"
address = "127.0.0.1:%d"
transport = "tls"
tls_ca = %q
`, e2e.FreePort(t), ca))
	g.Signal(syscall.SIGHUP)
	var reason string
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		fs := e2e.Find(g.Events("core"), "config.reload.failed")
		if len(fs) > n {
			reason = fs[len(fs)-1].S("reason")
		}
		return reason != ""
	}, func() string {
		return "config.reload.failed for a sink that cannot be built; stderr: " + g.StderrTail(20)
	})
	if !strings.Contains(reason, `"audit"`) {
		t.Errorf("config.reload.failed reason %q does not name the sink", reason)
	}
	// The audit sink still runs as it was: the failure and the next
	// session arrive in its file.
	g.WaitEventIn(audit, "config.reload.failed")
	g.sshOK(t, g.bob, "echo after", "after")
	g.WaitEventIn(audit, "session.destroy", e2e.Fields("user_name", "bob"))
}

// TestReloadNewSinkFormat: a reload that adds a sink whose format no sink
// used before starts that format's plugin (vigild launches only the
// plugins its configuration uses), and the new sink delivers the next
// session's events without a restart.
func TestReloadNewSinkFormat(t *testing.T) {
	t.Parallel()
	g := newGateway(t, jsonFileSink)
	if out := g.MustCtl("", "plugins", "list"); !regexp.MustCompile(`(?m)^logformat-cef\s.*\sdisabled\s`).MatchString(out) {
		t.Fatalf("before the reload, plugins list should show logformat-cef disabled:\n%s", out)
	}
	g.WriteConfig(jsonFileSink + `
[[log.sink]]
name = "siem"
type = "file"
format = "cef"
path = "cef/all.log"
`)
	n := len(e2e.Find(g.Events("core"), "config.reload"))
	g.Signal(syscall.SIGHUP)
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		return len(e2e.Find(g.Events("core"), "config.reload")) > n
	}, func() string { return "config.reload after adding a cef sink; stderr: " + g.StderrTail(20) })
	g.WaitEvent("plugins", "plugin.start", e2e.Fields("plugin", "logformat-cef"))

	g.sshOK(t, g.alice, "echo after", "after")
	cef := filepath.Join(g.LogDir, "cef", "all.log")
	var text string
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		b, _ := os.ReadFile(cef)
		text = string(b)
		for _, line := range strings.Split(text, "\n") {
			if strings.HasPrefix(line, "CEF:0|") && strings.Contains(line, "|6|Logged off|") && strings.Contains(line, "suser=alice") {
				return true
			}
		}
		return false
	}, func() string { return "a CEF session.destroy line for alice in " + cef + "; it holds:\n" + text })
}
