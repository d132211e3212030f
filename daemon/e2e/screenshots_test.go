package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/ssh"

	"github.com/vigilgw/vigil/daemon/e2e"
	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/rfbwire"
	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/vnctest"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// screenshotW and screenshotH are the size of every picture.
const screenshotW, screenshotH = 1280, 800

// shellPrompt is the end of the target shell's prompt (root's "# ", or
// "$ "), after which it reads the next line.
var shellPrompt = regexp.MustCompile(`[#$] $`)

// TestWUIScreenshots is `make screenshots`: a real vigild, seeded with
// real data (an interactive SSH session recorded through the gateway, a
// recorded VNC session, a live SSH session), photographed page by page by
// a real headless Chromium at 1280x800 — the pages of wui/cmd/screenshots,
// which shows the same pages on the in-memory fake backend. The PNGs go
// into $VIGIL_SCREENSHOTS_DIR (a temporary directory when unset); each
// must decode at exactly 1280x800, and each page must be the page asked
// for (its title), not an error page.
func TestWUIScreenshots(t *testing.T) {
	sdktest.RequirePeer(t, "ffmpeg")
	out := os.Getenv("VIGIL_SCREENSHOTS_DIR")
	if out == "" {
		out = t.TempDir()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}

	x := e2e.RequireX11vnc(t, 1280, 720)
	vnctest.XRun(t, x.D, "xsetroot", "-solid", "black")
	uploads := filepath.Join(t.TempDir(), "uploads")
	g := newWUIGatewayConfig(t, vncConfig(uploads, ""), true)
	g.AddVNCTarget("desk", x.Port, x.Password, "Users")
	g.AddUser("bob", "Users")

	// An interactive shell on web01: the terminal recording, whose
	// transcript holds marker (the transcript search's word).
	marker := wuiMarker(t, "release")
	lastLine := "deployed " + marker
	castSID := g.recordedShell(t, []string{
		"uname -sr",
		"ls -l /etc | head -n 8",
		"df -h / | tail -n 1",
		fmt.Sprintf(`m=%s; echo "deployed ${m}"`, marker),
	}, lastLine)

	// A VNC session: the video recording (x11vnc's screen turns red).
	vg := &vncGateway{Vigild: g.Vigild, x: x, alice: g.alice, uploads: uploads}
	c := vg.watch(t, rfbwire.EncZRLE, rfbwire.EncRaw)
	paint(t, c, func() { vnctest.XRun(t, x.D, "xsetroot", "-solid", "red") })
	c.Close()
	videoSID := g.WaitEvent("vnc", "session.create", e2e.Fields("user_name", "alice", "target_name", "desk")).S("session_id")
	g.WaitEvent("vnc", "session.destroy", e2e.Fields("session_id", videoSID))
	g.waitRecording(t, videoSID)

	// A session kept open for the live page.
	live := wuiMarker(t, "live")
	client := e2e.StartProc(t, g.SSHCommand(g.alice, "alice:web01", "echo "+live+"; exec sleep 3600"))
	e2e.Poll(t, e2e.EventTimeout, func() bool { return strings.Contains(client.Stdout.String(), live) || client.Exited() },
		func() string { return live + " at the client" })
	if client.Exited() {
		t.Fatalf("the live session ended by itself: %q %q", client.Stdout, client.Stderr)
	}
	liveID := ""
	for _, s := range g.Sessions() {
		if s.User == "alice" {
			liveID = s.ID
		}
	}
	if liveID == "" {
		t.Fatalf("vigilctl sessions list has no live session of alice: %+v", g.Sessions())
	}

	admin := g.newClient(t).mustLogin("admin", g.adminPassword)
	aliceID := accessID(t, admin, "users", "alice")
	usersID := accessID(t, admin, "groups", "Users")
	web01ID := accessID(t, admin, "targets", "web01")

	b := startWUIBrowser(t)
	b.do(t, "set the viewport", chromedp.EmulateViewport(screenshotW, screenshotH))

	type shot struct {
		name, path string
		title      string // the page's <title> without " · Vigil"
		steps      []chromedp.Action[chromedp.Void]
	}
	visible := func(css string) []chromedp.Action[chromedp.Void] {
		return []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.CSS(css))}
	}
	shots := []shot{
		{name: "01-login", path: "/login", title: "Log in", steps: visible(`input[name=password]`)},
		{name: "02-history", path: "/sessions/history", title: "Session history", steps: visible(`table.history`)},
		{name: "03-history-expanded", path: "/sessions/history", title: "Session history", steps: []chromedp.Action[chromedp.Void]{
			chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-controls="d-%s"]`, castSID))),
			chromedp.WaitVisible(chromedp.CSS("#d-" + castSID)),
		}},
		{name: "04-history-transcript-search", path: "/sessions/history?" + url.Values{"q": {marker}}.Encode(), title: "Session history",
			steps: visible(fmt.Sprintf(`ul.hits a[href^="/recordings/%s?"]`, castSID))},
		{name: "05-recording-terminal", path: "/recordings/" + castSID, title: "Recording " + castSID, steps: []chromedp.Action[chromedp.Void]{
			chromedp.WaitVisible(chromedp.CSS(`.ap-player`)),
			chromedp.Click(chromedp.CSS(`.ap-player`)),
			chromedp.Poll[chromedp.Void](fmt.Sprintf(`(document.querySelector('.ap-term') || {textContent: ''}).textContent.includes(%q)`, lastLine),
				chromedp.WithPollingTimeout(e2e.CommandTimeout)),
		}},
		{name: "06-recording-video", path: "/recordings/" + videoSID, title: "Recording " + videoSID, steps: []chromedp.Action[chromedp.Void]{
			chromedp.WaitVisible(chromedp.CSS(`video#player`)),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('player').play(), undefined`),
			chromedp.Poll[chromedp.Void](`document.getElementById('player').ended || document.getElementById('player').error !== null`,
				chromedp.WithPollingTimeout(e2e.CommandTimeout)),
		}},
		{name: "07-live-sessions", path: "/sessions/live", title: "Live sessions",
			steps: visible(fmt.Sprintf(`form[action="/sessions/live/%s/kill"]`, liveID))},
		{name: "08-logs", path: "/logs?level=DEBUG&limit=100&minutes=240", title: "Logging", steps: visible(`table.logs`)},
		{name: "09-logs-more-filters", path: "/logs?level=INFO&component=pipeline&text=uploaded&minutes=2880", title: "Logging", steps: []chromedp.Action[chromedp.Void]{
			chromedp.Click(chromedp.CSS(`table.logs details summary`)),
		}},
		{name: "10-reports-last-day", path: "/reports", title: "Reports"},
		{name: "11-reports-realtime", path: "/reports?period=realtime", title: "Reports"},
		{name: "12-reports-week", path: "/reports?period=week", title: "Reports"},
		{name: "13-status", path: "/status", title: "System status"},
		{name: "14-settings", path: "/settings", title: "Global settings"},
		{name: "15-settings-invalid", path: "/settings", title: "Global settings", steps: []chromedp.Action[chromedp.Void]{
			chromedp.SetValue(chromedp.CSS(`input[name="recording.bitrate"]`), "fast"),
			chromedp.SetValue(chromedp.CSS(`input[name="recording.upload_location"]`), "ftp://old-server/recordings"),
			chromedp.Click(chromedp.CSS(`.settings button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`.field-error`)),
		}},
		{name: "16-users", path: "/access/users", title: "Users"},
		{name: "17-user-edit", path: fmt.Sprintf("/access/users/%d", aliceID), title: "User alice"},
		{name: "18-groups", path: "/access/groups", title: "Groups"},
		{name: "19-group-edit", path: fmt.Sprintf("/access/groups/%d", usersID), title: "Group Users"},
		{name: "20-targets", path: "/access/targets", title: "Targets"},
		{name: "21-target-edit", path: fmt.Sprintf("/access/targets/%d", web01ID), title: "Target web01"},
	}
	start := time.Now()
	for i, s := range shots {
		if i == 1 {
			b.login(t, g.base, "admin", g.adminPassword)
		}
		b.do(t, s.name, append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(g.base + s.path)}, s.steps...)...)
		if title := wuiEval[string](t, b, `document.title`); title != s.title+" · Vigil" {
			t.Errorf("%s: %s is titled %q, want %q", s.name, s.path, title, s.title+" · Vigil")
		}
		b.noCSPViolations(t, s.name)
		ctx, cancel := context.WithTimeout(b.ctx, e2e.CommandTimeout)
		pic, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		cancel()
		if err != nil {
			t.Fatalf("%s: screenshot: %v", s.name, err)
		}
		if cfg, err := png.DecodeConfig(bytes.NewReader(pic)); err != nil || cfg.Width != screenshotW || cfg.Height != screenshotH {
			t.Errorf("%s: the screenshot (%d bytes) is %dx%d (%v), want a %dx%d PNG", s.name, len(pic), cfg.Width, cfg.Height, err, screenshotW, screenshotH)
		}
		if _, err := png.Decode(bytes.NewReader(pic)); err != nil {
			t.Errorf("%s: the screenshot does not decode: %v", s.name, err)
		}
		file := filepath.Join(out, s.name+".png")
		if err := os.WriteFile(file, pic, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s", file)
	}
	t.Logf("%d screenshots in %s", len(shots), time.Since(start).Round(time.Millisecond))
	if d := b.dialogs(); len(d) != 0 {
		t.Errorf("the pages opened dialogs: %q", d)
	}
}

// recordedShell types lines, one per prompt, into an interactive shell
// (a PTY) as alice on web01, then exit; the shell must print want. It
// waits until the recording is encoded and uploaded and returns the
// session id.
func (g *wuiGateway) recordedShell(t *testing.T, lines []string, want string) string {
	t.Helper()
	before := g.aliceSessionIDs()
	c, err := g.Dial("alice:web01", e2e.KeyAuth(t, g.alice))
	if err != nil {
		t.Fatalf("dial the gateway as alice: %v", err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 100, ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}); err != nil {
		t.Fatalf("pty-req: %v", err)
	}
	stdin, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &e2e.SyncBuffer{}
	sess.Stdout, sess.Stderr = out, out
	if err := sess.Shell(); err != nil {
		t.Fatalf("shell: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	seen := 0
	for _, line := range append(slices.Clone(lines), "exit") {
		e2e.Poll(t, e2e.EventTimeout, func() bool {
			s := out.String()
			return len(s) > seen && shellPrompt.MatchString(s)
		}, func() string { return fmt.Sprintf("the shell's prompt before %q (have %q)", line, out.String()) })
		seen = len(out.String())
		if _, err := io.WriteString(stdin, line+"\n"); err != nil {
			t.Fatalf("type %q: %v", line, err)
		}
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the shell ended with %v: %q", err, out.String())
		}
	case <-time.After(e2e.CommandTimeout):
		t.Fatalf("the shell did not exit: %q", out.String())
	}
	if !strings.Contains(out.String(), want) {
		t.Fatalf("the shell printed %q, want %q in it", out.String(), want)
	}
	c.Close() // the gateway's session is the connection's
	return g.recordedAfter(t, before)
}

// accessID is the id of the user, group or target (kind "users",
// "groups", "targets") called name, from the JSON API.
func accessID(t *testing.T, c *wuiClient, kind, name string) int64 {
	t.Helper()
	var list map[string][]struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	c.getJSON("/api/v1/"+kind, &list)
	for _, e := range list[kind] {
		if e.Name == name {
			return e.ID
		}
	}
	t.Fatalf("GET /api/v1/%s has no %q: %+v", kind, name, list)
	return 0
}
