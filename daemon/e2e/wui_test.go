package e2e_test

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/minio/minio-go/v7"
	"golang.org/x/crypto/ssh"

	"github.com/vigilgw/vigil/daemon/e2e"
	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/rfbwire"
	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/vnctest"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
	"github.com/vigilgw/vigil/plugins/storage-s3/s3test"
)

// TestWUIRecordingPlayAndDownload is the auditor's path through a real
// vigild in a real Chromium: log in as admin with the password of the
// first start, open the session history, expand an SSH session recorded
// through the gateway, play it (the terminal player shows what the
// session printed), download its clip and the "Download all" zip. What
// arrives is byte for byte the render the store lists and the object in
// storage, and the three audit events are logged in the seed's words.
func TestWUIRecordingPlayAndDownload(t *testing.T) {
	t.Parallel()
	g := newWUIGateway(t)
	marker := wuiMarker(t, "played")
	sid := g.recordedSession(t, "echo "+marker, marker)

	var cast store.Render
	for _, r := range g.renders(t, sid) {
		if r.Role == store.RenderCast && r.Segment == 0 {
			cast = r
		}
	}
	if cast.LocalPath == "" || cast.ObjectKey == "" {
		t.Fatalf("no local and uploaded cast render of %s in the store: %+v", sid, g.renders(t, sid))
	}
	want, err := os.ReadFile(cast.LocalPath)
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(want); hex.EncodeToString(sum[:]) != cast.SHA256 || int64(len(want)) != cast.Size {
		t.Fatalf("render %s: %d bytes, sha256 %x; the store says %d, %s", cast.LocalPath, len(want), sum, cast.Size, cast.SHA256)
	}
	if !bytes.Contains(want, []byte(marker)) {
		t.Fatalf("the cast render lacks %s:\n%s", marker, want)
	}

	admin := g.newClient(t).mustLogin("admin", g.adminPassword)
	clips, all := admin.clips(sid)
	location := "file://" + filepath.Join(g.StateDir, "recordings", cast.ObjectKey)
	if len(clips) != 1 || clips[0].Segment != 1 || clips[0].Role != "cast" || clips[0].Size != cast.Size || clips[0].Location != location {
		t.Fatalf("clips of %s: %+v; want one cast of %d bytes at %s", sid, clips, cast.Size, location)
	}
	// The recording page shows how long each clip plays: more than
	// nothing, and about as long as the session lasted (the capture
	// opens a little before the store's start and seals after its end).
	var sess struct {
		StartedAt time.Time `json:"started_at"`
		EndedAt   time.Time `json:"ended_at"`
	}
	admin.getJSON("/api/v1/sessions/"+sid, &sess)
	if lasted := sess.EndedAt.Sub(sess.StartedAt).Milliseconds(); clips[0].DurationMS <= 0 || clips[0].DurationMS > lasted+1000 {
		t.Errorf("clip 1 of %s has duration_ms %d; the session lasted %d ms", sid, clips[0].DurationMS, lasted)
	}
	if all != "/recordings/"+sid+"/download" {
		t.Errorf("download_all_url %q", all)
	}
	if stored, err := os.ReadFile(strings.TrimPrefix(location, "file://")); err != nil || !bytes.Equal(stored, want) {
		t.Fatalf("the uploaded object at %s (%v) differs from the render", location, err)
	}

	b := startWUIBrowser(t)
	b.login(t, g.base, "admin", g.adminPassword)
	detail := chromedp.CSS("#d-" + sid)
	b.do(t, "open the history and expand the session",
		chromedp.Navigate(g.base+"/sessions/history"),
		chromedp.WaitVisible(chromedp.CSS(`table.history`)),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-controls="d-%s"]`, sid))),
		chromedp.WaitVisible(detail),
	)
	b.noCSPViolations(t, "history")
	if text := wuiEval[string](t, b, `document.getElementById("d-`+sid+`").innerText`); !strings.Contains(text, "View") || !strings.Contains(text, "Download all") {
		t.Fatalf("the expanded row says %q", text)
	}

	b.do(t, "play the recording",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#d-%s a.btn.primary`, sid))),
		chromedp.WaitVisible(chromedp.CSS(`.ap-player`)),
		chromedp.Click(chromedp.CSS(`.ap-player`)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`(document.querySelector('.ap-term') || {textContent: ''}).textContent.includes(%q)`, marker),
			chromedp.WithPollingTimeout(e2e.CommandTimeout)),
	)
	b.noCSPViolations(t, "recording")
	g.WaitEvent("wui", "recording.play", e2e.Fields("message", fmt.Sprintf("User admin played %s video: %s", sid, location),
		"user_name", "admin", "session_id", sid))

	name, got := b.download(t, "download clip 1", chromedp.Click(chromedp.CSS(`.clip-list li:first-child a.icon-btn`)))
	if name != sid+"-001.cast" || !bytes.Equal(got, want) {
		t.Fatalf("downloaded clip %q: %d bytes, equal to the render: %v", name, len(got), bytes.Equal(got, want))
	}
	g.WaitEvent("wui", "recording.download", e2e.Fields("message", fmt.Sprintf("User admin downloaded %s video: %s", sid, location),
		"user_name", "admin", "session_id", sid))

	name, got = b.download(t, "download all", chromedp.Click(chromedp.CSS(`.clips-head a.btn.primary`)))
	if name != sid+".zip" {
		t.Errorf("the zip is offered as %q", name)
	}
	zr, err := zip.NewReader(bytes.NewReader(got), int64(len(got)))
	if err != nil {
		t.Fatalf("the downloaded zip (%d bytes): %v", len(got), err)
	}
	if len(zr.File) != 1 || zr.File[0].Name != sid+"/"+sid+"-001.cast" {
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		t.Fatalf("zip entries %v, want [%s/%s-001.cast]", names, sid, sid)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	zipped, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(zipped, want) {
		t.Fatalf("the zipped cast (%v) differs from the render: %d vs %d bytes", err, len(zipped), len(want))
	}
	g.WaitEvent("wui", "recording.download", e2e.Fields("message", "User admin downloaded entire session: "+sid,
		"user_name", "admin", "session_id", sid))

	// The same three are in the index behind the log dashboard.
	var msgs []string
	for _, e := range admin.events(url.Values{"component": {"wui"}, "username": {"admin"}, "text": {sid}, "limit": {"100"}}) {
		msgs = append(msgs, e.Message)
	}
	for _, m := range []string{
		fmt.Sprintf("User admin played %s video: %s", sid, location),
		fmt.Sprintf("User admin downloaded %s video: %s", sid, location),
		"User admin downloaded entire session: " + sid,
	} {
		if !slices.Contains(msgs, m) {
			t.Errorf("GET /api/v1/events lacks %q; has %q", m, msgs)
		}
	}
	if d := b.dialogs(); len(d) != 0 {
		t.Errorf("the pages opened dialogs: %q", d)
	}
}

// TestWUIPermissionsAndHardening: an auditor with SESSIONS_VIEW but not
// SESSION_RECORDINGS_VIEW sees the history without the recording controls
// and is refused every recording URL; writes without the CSRF token (or
// from another origin) are refused; a user name carrying markup renders
// as text; and a user locked out by failed logins loses the login session
// they already had.
func TestWUIPermissionsAndHardening(t *testing.T) {
	t.Parallel()
	g := newWUIGateway(t)
	marker := wuiMarker(t, "secret")
	sid := g.recordedSession(t, "echo "+marker, marker)
	g.MustCtl("", "groups", "add", "auditors", "--permission", "SESSIONS_VIEW")
	carol := g.AddUser("carol", "auditors")
	admin := g.newClient(t).mustLogin("admin", g.adminPassword)

	b := startWUIBrowser(t)
	b.login(t, g.base, "carol", carol.Password)
	if loc := wuiEval[string](t, b, `location.pathname`); loc != "/sessions/history" {
		t.Errorf("carol lands on %s", loc)
	}
	b.do(t, "carol opens the history", chromedp.Navigate(g.base+"/sessions/history"), chromedp.WaitVisible(chromedp.CSS(`table.history`)))
	if rows := wuiEval[[]string](t, b, `Array.from(document.querySelectorAll("table.history tbody tr.row"), r => r.innerText)`); len(rows) != 1 || !strings.Contains(rows[0], "alice") {
		t.Errorf("carol's history rows: %q; want alice's one session", rows)
	}
	if n := wuiEval[int](t, b, `document.querySelectorAll('button.expander, tr.detail, a[href*="/recordings/"]').length`); n != 0 {
		t.Errorf("carol's history has %d recording controls", n)
	}
	if text := wuiEval[string](t, b, `document.querySelector("main").innerText`); strings.Contains(text, "Download") || strings.Contains(text, "View") {
		t.Errorf("carol's history offers recordings: %q", text)
	}

	auditor := g.newClient(t).mustLogin("carol", carol.Password)
	var hist struct {
		Sessions []struct {
			ID string `json:"id"`
		} `json:"sessions"`
	}
	auditor.getJSON("/api/v1/sessions", &hist)
	if len(hist.Sessions) != 1 || hist.Sessions[0].ID != sid {
		t.Errorf("carol's /api/v1/sessions: %+v, want %s", hist, sid)
	}
	recordingURLs := []string{
		"/recordings/" + sid,
		"/recordings/" + sid + "/clips/1/media",
		"/recordings/" + sid + "/clips/1/download",
		"/recordings/" + sid + "/clips/1/thumbnail",
		"/recordings/" + sid + "/download",
		"/api/v1/sessions/" + sid + "/clips",
	}
	for _, u := range recordingURLs {
		for _, h := range []map[string]string{nil, {"Range": "bytes=0-"}} {
			code, body, _ := auditor.do(http.MethodGet, u, nil, h)
			if code != http.StatusForbidden || bytes.Contains(body, []byte(marker)) {
				t.Errorf("carol GET %s %v: %d (want 403), %d bytes", u, h, code, len(body))
			}
		}
	}
	// The same URLs are real: the administrator gets them.
	for _, u := range []string{recordingURLs[0], recordingURLs[1], recordingURLs[2], recordingURLs[4], recordingURLs[5]} {
		if code, _ := admin.get(u); code != http.StatusOK {
			t.Errorf("admin GET %s: %d", u, code)
		}
	}
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		return len(e2e.Find(g.Events("wui"), "wui.access.denied", e2e.Fields("user_name", "carol"))) >= 2*len(recordingURLs)
	}, func() string { return fmt.Sprintf("%d wui.access.denied events for carol", 2*len(recordingURLs)) })
	for _, e := range g.Events("wui") {
		if strings.HasPrefix(e.Metric(), "recording.") && e.S("user_name") == "carol" {
			t.Errorf("carol was served a recording: %v", e)
		}
	}

	// CSRF: a write needs the login session's token, from this origin.
	if code, _, _ := admin.postForm("/sessions/live/kill-all", url.Values{}, ""); code != http.StatusForbidden {
		t.Errorf("POST /sessions/live/kill-all without csrf_token: %d, want 403", code)
	}
	if code, _, _ := admin.postForm("/logout", url.Values{}, ""); code != http.StatusForbidden {
		t.Errorf("POST /logout without csrf_token: %d, want 403", code)
	}
	groupJSON := []byte(`{"name": "csrf-probe", "permissions": ["LOGS_VIEW"], "record_sessions": true}`)
	for _, h := range []map[string]string{
		{"Content-Type": "application/json"},
		{"Content-Type": "application/json", "X-CSRF-Token": "not-the-token"},
		{"Content-Type": "application/json", "X-CSRF-Token": admin.csrf, "Origin": "https://evil.example"},
	} {
		if code, body, _ := admin.do(http.MethodPost, "/api/v1/groups", groupJSON, h); code != http.StatusForbidden {
			t.Errorf("POST /api/v1/groups with %v: %d %s, want 403", h, code, body)
		}
	}
	if out := g.MustCtl("", "groups", "list"); strings.Contains(out, "csrf-probe") {
		t.Fatalf("a refused write created the group:\n%s", out)
	}
	if code, _ := admin.get("/api/v1/me"); code != http.StatusOK {
		t.Errorf("the refused logout ended the session: /api/v1/me %d", code)
	}
	if code, body, _ := admin.do(http.MethodPost, "/api/v1/groups", groupJSON, map[string]string{"Content-Type": "application/json", "X-CSRF-Token": admin.csrf}); code != http.StatusCreated {
		t.Errorf("POST /api/v1/groups with the token: %d %s, want 201", code, body)
	}
	g.WaitEvent("wui", "wui.access.denied", e2e.Fields("user_name", "admin", "reason", "missing or invalid CSRF token"))
	g.WaitEvent("wui", "wui.access.denied", e2e.Fields("user_name", "admin", "reason", "cross-origin request"))

	// Markup in a user name is text on every page that shows it.
	xssName := `x<script>alert("xss-user")</script><img src=x onerror=alert("xss-img")>`
	g.MustCtl("pw-xss-user-correct-horse\n", "users", "add", xssName, "--group", "auditors", "--password-stdin")
	if code := g.newClient(t).login(xssName, "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("a wrong password for the markup user: %d", code)
	}
	g.WaitEvent("wui", "account.login.failed_invalid_password", e2e.Fields("user_name", xssName))
	b.logout(t)
	b.login(t, g.base, "admin", g.adminPassword)
	inert := func(where string) {
		t.Helper()
		if scripts := wuiEval[[]string](t, b, `Array.from(document.scripts, s => s.src || "inline: " + s.textContent)`); slices.ContainsFunc(scripts, func(s string) bool {
			return !strings.HasPrefix(s, g.base+"/static/")
		}) {
			t.Errorf("%s: scripts other than the WUI's own: %q", where, scripts)
		}
		if n := wuiEval[int](t, b, `document.querySelectorAll('img[src="x"], img[onerror]').length`); n != 0 {
			t.Errorf("%s: the name made %d img elements", where, n)
		}
		if text := wuiEval[string](t, b, `document.body.innerText`); !strings.Contains(text, xssName) {
			t.Errorf("%s: the name is not shown as text", where)
		}
		b.noCSPViolations(t, where)
		if d := b.dialogs(); len(d) != 0 {
			t.Errorf("%s: dialogs opened: %q", where, d)
		}
	}
	b.do(t, "open the users page", chromedp.Navigate(g.base+"/access/users"), chromedp.WaitVisible(chromedp.CSS(`table.data`)))
	inert("users page")
	if n := wuiEval[int](t, b, fmt.Sprintf(`Array.from(document.querySelectorAll("table.data td a")).filter(a => a.textContent === %q).length`, xssName)); n != 1 {
		t.Errorf("users page: %d links named exactly the markup user, want 1", n)
	}
	b.do(t, "open the markup user's form", chromedp.Click(chromedp.CSS(`table.data td a[title^="x<script>"]`)), chromedp.WaitVisible(chromedp.CSS(`form`)))
	inert("user form")
	b.do(t, "open the logs of the markup user",
		chromedp.Navigate(g.base+"/logs?"+url.Values{"username": {xssName}, "minutes": {"60"}}.Encode()),
		chromedp.WaitVisible(chromedp.CSS(`table.logs`)))
	inert("logs page")
	if rows := wuiEval[[]string](t, b, `Array.from(document.querySelectorAll("table.logs tbody tr"), r => r.cells[5] ? r.cells[5].textContent : "")`); len(rows) != 1 || rows[0] != xssName {
		t.Errorf("logs of the markup user: user cells %q, want the one failed login", rows)
	}

	// A lockout ends the login sessions the user already has: the WUI's
	// contract (backend.go, Auth.Principal) and API.md say so.
	for range wuiLockoutAttempts {
		if code := g.newClient(t).login("carol", "wrong password"); code != http.StatusUnauthorized {
			t.Fatalf("wrong password for carol: %d", code)
		}
	}
	g.WaitEvent("wui", "account.locked", e2e.Fields("user_name", "carol"))
	if code, body := auditor.get("/api/v1/me"); code != http.StatusUnauthorized {
		t.Errorf("carol, locked out, still uses her earlier login: GET /api/v1/me %d %s (want 401)", code, body)
	}
}

// TestWUIKillLiveSession: the Kill button of the live sessions page ends a
// real SSH session through the gateway: the client is disconnected, and
// the kill is logged as the administrator's.
func TestWUIKillLiveSession(t *testing.T) {
	t.Parallel()
	g := newWUIGateway(t)
	marker := wuiMarker(t, "live")
	client := e2e.StartProc(t, g.SSHCommand(g.alice, "alice:web01", "echo "+marker+"; exec sleep 300"))
	e2e.Poll(t, e2e.EventTimeout, func() bool { return strings.Contains(client.Stdout.String(), marker) || client.Exited() },
		func() string { return marker + " at the client" })
	if client.Exited() {
		t.Fatalf("the session ended by itself: %q %q", client.Stdout, client.Stderr)
	}
	live := g.Sessions()
	if len(live) != 1 || live[0].User != "alice" {
		t.Fatalf("vigilctl sessions list: %+v", live)
	}
	id := live[0].ID

	b := startWUIBrowser(t)
	b.login(t, g.base, "admin", g.adminPassword)
	kill := chromedp.CSS(fmt.Sprintf(`form[action="/sessions/live/%s/kill"] button[type=submit]`, id))
	b.do(t, "open the live sessions", chromedp.Navigate(g.base+"/sessions/live"), chromedp.WaitVisible(kill))
	if row := wuiEval[string](t, b, fmt.Sprintf(`document.querySelector('form[action="/sessions/live/%s/kill"]').closest("tr").innerText`, id)); !strings.Contains(row, "alice") || !strings.Contains(row, "web01") {
		t.Errorf("the live row says %q", row)
	}
	b.do(t, "kill the session", chromedp.Click(kill), chromedp.WaitVisible(chromedp.CSS(`.alert.ok`)))
	if notice := wuiEval[string](t, b, `document.querySelector(".alert.ok").innerText`); notice != "Ended 1 session(s)." {
		t.Errorf("after the kill the page says %q", notice)
	}
	if d := b.dialogs(); len(d) != 1 || d[0] != "confirm: End this session of alice now?" {
		t.Errorf("dialogs: %q, want the one confirm", d)
	}

	// The client goes; the bound is a safety net, not a speed assertion.
	e2e.Poll(t, e2e.CommandTimeout, client.Exited, func() string { return "the killed session's ssh client to exit" })
	if code := client.ExitCode(); code == 0 {
		t.Errorf("the killed session's client exited 0")
	}
	if !strings.Contains(client.Stderr.String(), "ended by an administrator") {
		t.Errorf("the killed client's stderr %q lacks the notice", client.Stderr)
	}
	kev := g.WaitEvent("ssh", "session.kill", e2e.Fields("session_id", id, "user_name", "alice"))
	if kev.S("by") != "admin" {
		t.Errorf("session.kill names %q as the killer, want admin: %v", kev.S("by"), kev)
	}
	g.WaitEvent("ssh", "session.destroy", e2e.Fields("session_id", id, "reason", "killed"))
	b.do(t, "reload the live sessions", chromedp.Navigate(g.base+"/sessions/live"), chromedp.WaitVisible(chromedp.CSS(`td.empty`)))
	var sess struct {
		State string `json:"state"`
	}
	g.newClient(t).mustLogin("admin", g.adminPassword).getJSON("/api/v1/sessions/"+id, &sess)
	if sess.State != "killed" {
		t.Errorf("the history says the session is %q, want killed", sess.State)
	}
}

// logLevels numbers the levels as the dashboard compares them; an unknown
// level counts as INFO.
var logLevels = map[string]int{"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}

func levelNo(l string) int {
	if n, ok := logLevels[strings.ToUpper(l)]; ok {
		return n
	}
	return 20
}

// logFilter is one query of the log dashboard and what it means.
type logFilter struct {
	level, component, user, text, process, host string
	since, until                                time.Time
}

func (f logFilter) values() url.Values {
	v := url.Values{"limit": {"10000"}, "start": {f.since.UTC().Format(time.RFC3339Nano)}, "end": {f.until.UTC().Format(time.RFC3339Nano)}}
	for k, s := range map[string]string{"level": f.level, "component": f.component, "username": f.user, "text": f.text,
		"process": f.process, "host": f.host} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// match is the dashboard's documented filter: minimum level (INFO when
// none), exact component and user, message containing text ignoring case,
// time in [since, until).
func (f logFilter) match(e e2e.Event) bool {
	tm, err := time.Parse(time.RFC3339Nano, e.S("time"))
	if err != nil {
		return false
	}
	level := f.level
	if level == "" {
		level = "INFO"
	}
	return levelNo(e.S("levelname")) >= levelNo(level) && !tm.Before(f.since) && tm.Before(f.until) &&
		(f.component == "" || e.S("component") == f.component) && (f.user == "" || e.S("user_name") == f.user) &&
		(f.process == "" || e.S("process") == f.process) && (f.host == "" || e.S("host") == f.host) &&
		(f.text == "" || strings.Contains(strings.ToLower(e.S("message")), strings.ToLower(f.text)))
}

// allLoggedEvents reads every component's JSON event log: what the SIEM
// gets, the ground truth the dashboard must agree with.
func allLoggedEvents(t *testing.T, g *wuiGateway) []e2e.Event {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(g.LogDir, "*_json.log"))
	if err != nil {
		t.Fatal(err)
	}
	var all []e2e.Event
	for _, f := range files {
		if filepath.Base(f) == "wui_access_json.log" { // requests, not events
			continue
		}
		all = append(all, g.EventsIn(f)...)
	}
	return all
}

func eventSeq(e e2e.Event) uint64 {
	n, _ := e["seq"].(float64)
	return uint64(n)
}

var eventsShown = regexp.MustCompile(`(\d+) event\(s\) shown\.`)

// TestWUILogFilters: known activity (WUI logins that work and fail,
// through the login form; SSH sessions through the gateway) and the log
// dashboard's filters (level, component, user name, message text, start
// and end) return exactly the events that match: the same set as the
// JSON event files hold, and the counts the activity implies.
func TestWUILogFilters(t *testing.T) {
	t.Parallel()
	g := newWUIGateway(t)
	reader := g.newClient(t).mustLogin("admin", g.adminPassword)

	t0 := time.Now()
	g.newClient(t).mustLogin("admin", g.adminPassword)
	for range 2 {
		if code := g.newClient(t).login("admin", "not the password"); code != http.StatusUnauthorized {
			t.Fatalf("wrong password for admin: %d", code)
		}
	}
	if code := g.newClient(t).login("mallory", "guess"); code != http.StatusUnauthorized {
		t.Fatalf("unknown user mallory: %d", code)
	}
	one := g.recordedSession(t, "echo one", "one")
	tMid := time.Now()
	g.newClient(t).mustLogin("admin", g.adminPassword)
	two := g.recordedSession(t, "echo two", "two")
	t1 := time.Now()

	// A fence: once the dashboard and the files have this later event,
	// they have everything before it (both consume the journal in order).
	fence := wuiMarker(t, "fence")
	g.newClient(t).login(fence, "x")
	g.WaitEvent("wui", "account.login.failed_unknown_user", e2e.Fields("user_name", fence))
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		return len(reader.events(url.Values{"username": {fence}, "level": {"DEBUG"}})) == 1
	}, func() string { return "the fence event in the dashboard" })
	truth := allLoggedEvents(t, g)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name    string
		f       logFilter
		metrics map[string]int // when set: exactly these metrics, this often
		atLeast map[string]int // when set: at least these
	}{
		{name: "everything at DEBUG", f: logFilter{level: "DEBUG", since: t0, until: t1},
			atLeast: map[string]int{"account.login.successful": 4, "session.create": 2, "session.destroy": 2}},
		{name: "default level", f: logFilter{since: t0, until: t1}},
		{name: "admin in wui", f: logFilter{component: "wui", user: "admin", since: t0, until: t1},
			metrics: map[string]int{"account.login.successful": 2, "account.login.failed_invalid_password": 2}},
		{name: "wui warnings", f: logFilter{level: "WARNING", component: "wui", since: t0, until: t1},
			metrics: map[string]int{"account.login.failed_invalid_password": 2, "account.login.failed_unknown_user": 1}},
		{name: "warnings", f: logFilter{level: "WARNING", since: t0, until: t1},
			atLeast: map[string]int{"account.login.failed_invalid_password": 2, "account.login.failed_unknown_user": 1}},
		{name: "errors", f: logFilter{level: "ERROR", since: t0, until: t1}},
		{name: "mallory", f: logFilter{user: "mallory", since: t0, until: t1},
			metrics: map[string]int{"account.login.failed_unknown_user": 1}},
		{name: "text ignoring case", f: logFilter{user: "admin", text: "LOGIN FAILED", since: t0, until: t1},
			metrics: map[string]int{"account.login.failed_invalid_password": 2}},
		{name: "text", f: logFilter{component: "wui", text: "logged in", since: t0, until: t1},
			metrics: map[string]int{"account.login.successful": 2}},
		{name: "alice over ssh", f: logFilter{level: "DEBUG", component: "ssh", user: "alice", since: t0, until: t1},
			atLeast: map[string]int{"session.create": 2, "session.destroy": 2}},
		{name: "wui after the middle", f: logFilter{component: "wui", since: tMid, until: t1},
			metrics: map[string]int{"account.login.successful": 1}},
		{name: "alice's second session", f: logFilter{component: "ssh", user: "alice", since: tMid, until: t1},
			atLeast: map[string]int{"session.create": 1, "session.destroy": 1}},
		{name: "vigild's process on this host", f: logFilter{level: "DEBUG", process: "vigild", host: host, since: t0, until: t1},
			atLeast: map[string]int{"account.login.successful": 4, "session.create": 2}},
		{name: "another process", f: logFilter{level: "DEBUG", process: "no-such-process", since: t0, until: t1}, metrics: map[string]int{}},
		{name: "another host", f: logFilter{level: "DEBUG", host: "no-such-host", since: t0, until: t1}, metrics: map[string]int{}},
	}
	for _, tc := range cases {
		got := reader.events(tc.f.values())
		var gotSeq, wantSeq []uint64
		counts := map[string]int{}
		for i, e := range got {
			gotSeq = append(gotSeq, e.Seq)
			counts[e.MetricName]++
			if i > 0 && e.Time.After(got[i-1].Time) {
				t.Errorf("%s: not newest first: %s after %s", tc.name, e.Time, got[i-1].Time)
			}
		}
		var wantDesc []string
		for _, e := range truth {
			if tc.f.match(e) {
				wantSeq = append(wantSeq, eventSeq(e))
				wantDesc = append(wantDesc, e.Metric()+" "+e.S("message"))
			}
		}
		slices.Sort(gotSeq)
		slices.Sort(wantSeq)
		if !slices.Equal(gotSeq, wantSeq) {
			var gotDesc []string
			for _, e := range got {
				gotDesc = append(gotDesc, e.MetricName+" "+e.Message)
			}
			t.Errorf("%s: %s returned seqs %v:\n  %s\nthe event files hold %v:\n  %s", tc.name, tc.f.values().Encode(),
				gotSeq, strings.Join(gotDesc, "\n  "), wantSeq, strings.Join(wantDesc, "\n  "))
		}
		if tc.metrics != nil && !maps.Equal(counts, tc.metrics) {
			t.Errorf("%s: metrics %v, want exactly %v", tc.name, counts, tc.metrics)
		}
		for m, n := range tc.atLeast {
			if counts[m] < n {
				t.Errorf("%s: %d %s, want at least %d (have %v)", tc.name, counts[m], m, n, counts)
			}
		}
		for _, e := range got {
			if strings.HasPrefix(e.MetricName, "session.") && e.SessionID != one && e.SessionID != two && e.UserName == "alice" {
				t.Errorf("%s: a session event of an unknown session: %+v", tc.name, e)
			}
		}
	}

	// The page shows what the API answers.
	f := logFilter{level: "WARNING", component: "wui", since: t0, until: t1}
	code, body := reader.get("/logs?" + f.values().Encode())
	m := eventsShown.FindSubmatch(body)
	if code != http.StatusOK || m == nil {
		t.Fatalf("GET /logs: %d, no event count", code)
	}
	if n, _ := strconv.Atoi(string(m[1])); n != 3 {
		t.Errorf("/logs shows %d events, want 3", n)
	}
	for _, s := range []string{"Login failed for user admin: invalid password", "Login failed for user mallory: unknown user"} {
		if !bytes.Contains(body, []byte(s)) {
			t.Errorf("/logs lacks %q", s)
		}
	}
	if code, _ := reader.get("/logs?level=LOUD"); code != http.StatusBadRequest {
		t.Errorf("an unknown level: %d, want 400", code)
	}
}

var (
	formField    = regexp.MustCompile(`<(?:input|select|textarea)[^>]* name="([^"]+)"`)
	sinksText    = regexp.MustCompile(`(?s)<textarea[^>]* name="log\.sink"[^>]*>(.*?)</textarea>`)
	bitrateField = regexp.MustCompile(`<input[^>]* name="recording\.bitrate" value="([^"]*)"`)
)

// configShow is `vigilctl config show`: key to value and origin.
func configShow(t *testing.T, g *wuiGateway) map[string][2]string {
	t.Helper()
	out := map[string][2]string{}
	for _, line := range strings.Split(strings.TrimSpace(g.MustCtl("", "config", "show")), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) >= 3 {
			out[f[0]] = [2]string{strings.Join(f[1:len(f)-1], " "), f[len(f)-1]}
		}
	}
	return out
}

// TestWUISettings: the settings page edits real configuration keys (every
// field is a key `vigilctl config show` lists; the sinks are the
// [[log.sink]] tables), refuses a bad value next to its field without
// saving anything, and a good change lands in <state_dir>/settings.toml
// (mode 0600) and takes effect: after the reload a sink added on the page
// writes events.
func TestWUISettings(t *testing.T) {
	t.Parallel()
	g := newWUIGateway(t)
	admin := g.newClient(t).mustLogin("admin", g.adminPassword)
	settingsFile := filepath.Join(g.StateDir, "settings.toml")

	code, page := admin.get("/settings")
	if code != http.StatusOK {
		t.Fatalf("GET /settings: %d", code)
	}
	show := configShow(t, g)
	var names []string
	for _, m := range formField.FindAllSubmatch(page, -1) {
		name := string(m[1])
		if name == "csrf_token" || strings.HasPrefix(name, "clear:") {
			continue
		}
		names = append(names, name)
		if _, ok := show[name]; !ok && (name != "log.sink" || show["log.sink[0].name"][0] == "") {
			t.Errorf("the settings page edits %q, which is no configuration key", name)
		}
	}
	for _, want := range []string{"recording.storage_key", "recording.storage_secret", "recording.upload_location", "recording.bitrate",
		"recording.framerate", "recording.width", "recording.height", "recording.retention", "recording.queue_length",
		"recording.segment_max_bytes", "recording.min_free_bytes", "log.retention", "log.sink"} {
		if !slices.Contains(names, want) {
			t.Errorf("the settings page has no field %s (has %q)", want, names)
		}
	}
	m := sinksText.FindSubmatch(page)
	if m == nil {
		t.Fatalf("no log.sink textarea on the settings page")
	}
	sinks := html.UnescapeString(string(m[1]))
	if first := strings.Trim(show["log.sink[0].name"][0], `"`); !strings.HasPrefix(sinks, "[[log.sink]]") || !strings.Contains(sinks, fmt.Sprintf("name = %q", first)) {
		t.Errorf("the sinks field says %q; want the [[log.sink]] tables, %s first", sinks, first)
	}
	// Paths under log_dir are shown relative to it, as vigil.toml has them.
	if path := strings.Trim(show["log.sink[0].path"][0], `"`); !strings.HasPrefix(path, g.LogDir+"/") ||
		!strings.Contains(sinks, fmt.Sprintf("path = %q", strings.TrimPrefix(path, g.LogDir+"/"))) {
		t.Errorf("the sinks field says %q; want sink 0's path %s relative to %s", sinks, path, g.LogDir)
	}

	// A bad value: refused next to its field, nothing written.
	code, body, _ := admin.postForm("/settings", url.Values{"recording.bitrate": {"fast"}, "recording.framerate": {"15"}}, admin.csrf)
	if code != http.StatusBadRequest || bytes.Count(body, []byte(`class="field invalid"`)) != 1 ||
		!regexp.MustCompile(`<div class="field invalid">\s*<label for="f-recording\.bitrate">`).Match(body) {
		t.Errorf("POST /settings with bitrate \"fast\": %d; want 400 with the one error at recording.bitrate:\n%s", code, body)
	}
	if _, err := os.Stat(settingsFile); !os.IsNotExist(err) {
		t.Errorf("a refused change wrote %s (%v)", settingsFile, err)
	}
	code, body, _ = admin.postForm("/settings", url.Values{"log.sink": {"[[log.sink]]\nname = \"x\"\ntype = \"carrier-pigeon\""}}, admin.csrf)
	if code != http.StatusBadRequest || !regexp.MustCompile(`<div class="field invalid">\s*<label for="f-log\.sink">`).Match(body) {
		t.Errorf("POST /settings with a bad sink type: %d; want 400 at log.sink:\n%s", code, body)
	}

	// A good change: saved, shown, applied.
	added := "[[log.sink]]\r\nname = \"wui-added\"\r\ntype = \"file\"\r\nformat = \"json\"\r\npath = \"{component}_added.log\"\r\n"
	code, body, hdr := admin.postForm("/settings", url.Values{"recording.bitrate": {"2000"}, "log.sink": {strings.ReplaceAll(sinks, "\n", "\r\n") + "\r\n\r\n" + added}}, admin.csrf)
	if code != http.StatusSeeOther || hdr.Get("Location") != "/settings?saved=1" {
		t.Fatalf("POST /settings: %d to %q, want 303 to /settings?saved=1:\n%s", code, hdr.Get("Location"), body)
	}
	st, err := os.Stat(settingsFile)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("settings.toml after saving: %v, mode %v", err, st)
	}
	saved, _ := os.ReadFile(settingsFile)
	if !bytes.Contains(saved, []byte("bitrate = 2000")) || !bytes.Contains(saved, []byte(`name = "wui-added"`)) {
		t.Errorf("settings.toml lacks the change:\n%s", saved)
	}
	show = configShow(t, g)
	if got := show["recording.bitrate"]; got != [2]string{"2000", "settings"} {
		t.Errorf("config show recording.bitrate: %q, want 2000 from settings", got)
	}
	n := 0
	for k, v := range show {
		if strings.HasSuffix(k, "].name") && v[0] == `"wui-added"` && v[1] == "settings" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("config show has %d sinks named wui-added from settings", n)
	}
	ev := g.WaitEvent("wui", "settings.update", e2e.Fields("user_name", "admin"))
	if ev.S("message") != "User admin changed settings: log.sink, recording.bitrate" {
		t.Errorf("settings.update says %q", ev.S("message"))
	}
	g.WaitEvent("core", "config.reload")

	// The added sink writes the events that follow.
	probe := wuiMarker(t, "probe")
	g.newClient(t).login(probe, "x")
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		for _, e := range g.EventsIn(filepath.Join(g.LogDir, "wui_added.log")) {
			if e.S("user_name") == probe {
				return true
			}
		}
		return false
	}, func() string { return "the failed login of " + probe + " in wui_added.log" })

	_, page = admin.get("/settings")
	if m := bitrateField.FindSubmatch(page); m == nil || string(m[1]) != "2000" {
		t.Errorf("the settings page shows bitrate %q after saving 2000", m)
	}
	if m := sinksText.FindSubmatch(page); m == nil || !strings.Contains(html.UnescapeString(string(m[1])), `name = "wui-added"`) {
		t.Errorf("the settings page does not show the added sink")
	}

	// A recording setting takes effect too: the next recording goes to
	// the upload location saved on the page.
	moved := filepath.Join(t.TempDir(), "moved")
	code, body, _ = admin.postForm("/settings", url.Values{"recording.upload_location": {"file://" + moved + "/{username}/{session_id}/{segment}.{ext}"}}, admin.csrf)
	if code != http.StatusSeeOther {
		t.Fatalf("POST /settings with a new upload location: %d\n%s", code, body)
	}
	e2e.Poll(t, e2e.EventTimeout, func() bool { return len(e2e.Find(g.Events("core"), "config.reload")) >= 2 },
		func() string { return "the second config.reload" })
	marker := wuiMarker(t, "moved")
	sid := g.recordedSession(t, "echo "+marker, marker)
	if cast, err := os.ReadFile(filepath.Join(moved, "alice", sid, "0001.cast")); err != nil || !bytes.Contains(cast, []byte(marker)) {
		t.Errorf("the recording made after the change is not at the new upload location: %v", err)
	}
}

// TestWUITranscriptHitInLaterSegment: a transcript search hit in the
// second or a later segment of a session opens that segment's clip at the
// moment the line was printed, counted from the start of that clip (the
// index counts from the session start). The session idles, prints more
// than a segment holds, idles again and then prints the word searched.
func TestWUITranscriptHitInLaterSegment(t *testing.T) {
	t.Parallel()
	g := newWUIGatewayWith(t, "\n[recording]\nsegment_max_bytes = \"1MiB\"\n")
	marker := wuiMarker(t, "late")
	sid := g.recordedSession(t, "sleep 3; head -c 3000000 /dev/urandom | base64 -w 200; sleep 2; echo "+marker, marker)
	admin := g.newClient(t).mustLogin("admin", g.adminPassword)

	var hist struct {
		Sessions []struct {
			ID   string `json:"id"`
			Hits []struct {
				Segment  int    `json:"segment"`
				OffsetMS int64  `json:"offset_ms"`
				Snippet  string `json:"snippet"`
			} `json:"hits"`
		} `json:"sessions"`
	}
	admin.getJSON("/api/v1/sessions?"+url.Values{"q": {marker}}.Encode(), &hist)
	if len(hist.Sessions) != 1 || hist.Sessions[0].ID != sid || len(hist.Sessions[0].Hits) == 0 {
		t.Fatalf("search for %s: %+v; want hits in %s", marker, hist, sid)
	}
	// The transcript has the command line (segment 1) and its output.
	hit := hist.Sessions[0].Hits[0]
	for _, h := range hist.Sessions[0].Hits {
		if h.Segment > hit.Segment {
			hit = h
		}
	}
	if hit.Segment < 2 || !strings.Contains(hit.Snippet, marker) {
		t.Fatalf("the hit %+v is not in a later segment", hit)
	}
	clips, _ := admin.clips(sid)
	if len(clips) < hit.Segment || clips[hit.Segment-1].Segment != hit.Segment {
		t.Fatalf("clips of %s: %+v; the hit is in clip %d", sid, clips, hit.Segment)
	}
	if d := clips[hit.Segment-1].DurationMS; hit.OffsetMS > d+1000 {
		t.Errorf("the hit is %d ms into clip %d, which plays %d ms", hit.OffsetMS, hit.Segment, d)
	}
	// Download all: one entry per clip, in order.
	code, zipped, _ := admin.do(http.MethodGet, "/recordings/"+sid+"/download", nil, nil)
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if code != http.StatusOK || err != nil {
		t.Fatalf("download all of %d clips: %d, %v", len(clips), code, err)
	}
	var names, wantNames []string
	for i, f := range zr.File {
		names = append(names, f.Name)
		wantNames = append(wantNames, fmt.Sprintf("%s/%s-%03d.cast", sid, sid, i+1))
		if int64(f.UncompressedSize64) != clips[min(i, len(clips)-1)].Size {
			t.Errorf("zip entry %s: %d bytes, clip %d has %d", f.Name, f.UncompressedSize64, i+1, clips[min(i, len(clips)-1)].Size)
		}
	}
	if len(zr.File) != len(clips) || !slices.Equal(names, wantNames) {
		t.Errorf("zip entries %q for %d clips", names, len(clips))
	}

	// Where the clip itself prints the word: the time of its cast event.
	var castPath string
	for _, r := range g.renders(t, sid) {
		if r.Role == store.RenderCast && r.Segment == hit.Segment-1 {
			castPath = r.LocalPath
		}
	}
	cast, err := os.ReadFile(castPath)
	if err != nil {
		t.Fatalf("the cast of segment %d: %v", hit.Segment-1, err)
	}
	at := -1.0
	for _, line := range strings.Split(string(cast), "\n")[1:] {
		var ev []any
		if json.Unmarshal([]byte(line), &ev) == nil && len(ev) == 3 && strings.Contains(fmt.Sprint(ev[2]), marker) {
			at, _ = ev[0].(float64)
			break
		}
	}
	if at < 0 {
		t.Fatalf("the cast of segment %d never prints %s", hit.Segment-1, marker)
	}
	// Segment starts are known to the store to within the seal's delay;
	// counted from the session start the hit would be 3 s or more late.
	if diff := hit.OffsetMS - int64(at*1000); diff < -1500 || diff > 1500 {
		t.Errorf("the hit is at %d ms into clip %d; the clip prints %s at %.3f s", hit.OffsetMS, hit.Segment, marker, at)
	}
	code, page := admin.get(fmt.Sprintf("/sessions/history?q=%s", marker))
	if want := fmt.Sprintf("/recordings/%s?clip=%d&amp;t=", sid, hit.Segment); code != http.StatusOK || !bytes.Contains(page, []byte(want)) {
		t.Errorf("the history page's hit does not link to %s…", want)
	}

	// In Chromium: the hit's link opens the player, which starts at the
	// hit (where it stands when playback begins), not at the clip's start.
	b := startWUIBrowser(t)
	b.login(t, g.base, "admin", g.adminPassword)
	b.do(t, "open the hit from the history",
		chromedp.Navigate(g.base+"/sessions/history?"+url.Values{"q": {marker}}.Encode()),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`ul.hits a[href^="/recordings/%s?clip=%d&"]`, sid, hit.Segment))),
		chromedp.WaitVisible(chromedp.CSS(`.ap-player`)),
		chromedp.Evaluate[chromedp.Void](`window.__firstT = null; window.vigilPlayer.addEventListener("playing", function () {
			Promise.resolve(window.vigilPlayer.getCurrentTime()).then(function (t) { if (window.__firstT === null) { window.__firstT = t; } });
		}), undefined`),
		chromedp.Click(chromedp.CSS(`.ap-player`)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`window.__firstT !== null && (document.querySelector('.ap-term') || {textContent: ''}).textContent.includes(%q)`, marker),
			chromedp.WithPollingTimeout(e2e.CommandTimeout)),
	)
	b.noCSPViolations(t, "recording at a hit")
	if first, want := wuiEval[float64](t, b, `window.__firstT`), float64(hit.OffsetMS)/1000; first < want-0.5 || first > want+0.5 {
		t.Errorf("the player began at %.3f s of clip %d; the hit is at %.3f s", first, hit.Segment, want)
	}
}

// TestWUIAccessManagement: through the JSON API behind the access pages,
// the administrator makes a group, a user in it and a target whose key is
// write-only; the user logs in to the gateway with the password set there
// and reaches the target with the key set there, and the user, who has
// only SESSIONS_VIEW, is refused every administrative page and call.
func TestWUIAccessManagement(t *testing.T) {
	t.Parallel()
	g := newWUIGateway(t)
	admin := g.newClient(t).mustLogin("admin", g.adminPassword)
	send := func(c *wuiClient, method, path string, body any) (int, []byte) {
		t.Helper()
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		code, out, _ := c.do(method, path, b, map[string]string{"Content-Type": "application/json", "X-CSRF-Token": c.csrf})
		return code, out
	}
	created := func(what string, code int, body []byte) int64 {
		t.Helper()
		var v struct {
			ID int64 `json:"id"`
		}
		if code != http.StatusCreated || json.Unmarshal(body, &v) != nil || v.ID == 0 {
			t.Fatalf("create %s: %d %s", what, code, body)
		}
		return v.ID
	}
	code, body := send(admin, http.MethodPost, "/api/v1/groups", map[string]any{"name": "ops", "permissions": []string{"SESSIONS_VIEW"}, "record_sessions": true})
	ops := created("group ops", code, body)
	const ninaPassword = "pw-nina-staple-battery-horse"
	code, body = send(admin, http.MethodPost, "/api/v1/users", map[string]any{"name": "nina", "password": ninaPassword, "groups": []int64{ops}})
	nina := created("user nina", code, body)
	key, err := os.ReadFile(g.sshd.KeyPath)
	if err != nil {
		t.Fatal(err)
	}
	code, body = send(admin, http.MethodPost, "/api/v1/targets", map[string]any{"name": "web02", "friendly_name": "Second web", "protocol": "ssh",
		"host": "127.0.0.1", "port": g.sshd.Port, "username": "root", "credential_kind": "private_key", "credential_secret": string(key), "groups": []int64{ops}})
	web02 := created("target web02", code, body)

	// The key is never given back, by the API or the page.
	keyLine := strings.Split(strings.TrimSpace(string(key)), "\n")[1]
	for _, u := range []string{fmt.Sprintf("/api/v1/targets/%d", web02), "/api/v1/targets", fmt.Sprintf("/access/targets/%d", web02)} {
		if code, body := admin.get(u); code != http.StatusOK || bytes.Contains(body, []byte(keyLine)) {
			t.Errorf("GET %s: %d, holds the key: %v", u, code, bytes.Contains(body, []byte(keyLine)))
		}
	}
	for _, m := range []string{"access.group.create", "access.user.create", "access.target.create"} {
		g.WaitEvent("wui", m, e2e.Fields("user_name", "admin"))
	}
	if out := g.MustCtl("", "users", "list"); !regexp.MustCompile(`(?m)^.*\bnina\b.*\bops\b`).MatchString(out) {
		t.Errorf("vigilctl users list does not show nina in ops:\n%s", out)
	}

	// What was set on the pages works at the gateway: nina's password,
	// web02's key, the group's recording.
	marker := wuiMarker(t, "nina")
	c, err := g.Dial("nina:web02", ssh.Password(ninaPassword))
	if err != nil {
		t.Fatalf("nina through the gateway to web02: %v", err)
	}
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output("echo " + marker)
	c.Close()
	if err != nil || !strings.Contains(string(out), marker) {
		t.Fatalf("nina on web02: %q, %v", out, err)
	}
	create := g.WaitEvent("ssh", "session.create", e2e.Fields("user_name", "nina", "target_name", "web02"))
	g.waitRecording(t, create.S("session_id"))

	// record_sessions off for the group: nina's next session is not recorded.
	if code, body := send(admin, http.MethodPut, fmt.Sprintf("/api/v1/groups/%d", ops),
		map[string]any{"name": "ops", "permissions": []string{"SESSIONS_VIEW"}, "record_sessions": false}); code != http.StatusOK {
		t.Fatalf("PUT the group with record_sessions false: %d %s", code, body)
	}
	c, err = g.Dial("nina:web02", ssh.Password(ninaPassword))
	if err != nil {
		t.Fatalf("nina's second session: %v", err)
	}
	if sess, err = c.NewSession(); err != nil {
		t.Fatal(err)
	}
	_, err = sess.Output("true")
	c.Close()
	if err != nil {
		t.Fatal(err)
	}
	var unrecorded string
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		for _, e := range e2e.Find(g.Events("ssh"), "session.destroy", e2e.Fields("user_name", "nina")) {
			if id := e.S("session_id"); id != create.S("session_id") {
				unrecorded = id
			}
		}
		return unrecorded != ""
	}, func() string { return "the end of nina's second session" })
	var second struct {
		Recorded bool `json:"recorded"`
	}
	admin.getJSON("/api/v1/sessions/"+unrecorded, &second)
	var first struct {
		Recorded bool `json:"recorded"`
	}
	admin.getJSON("/api/v1/sessions/"+create.S("session_id"), &first)
	if !first.Recorded || second.Recorded {
		t.Errorf("recorded: %v with record_sessions on, %v with it off", first.Recorded, second.Recorded)
	}

	// nina sees the history, and nothing of the administration.
	user := g.newClient(t).mustLogin("nina", ninaPassword)
	var me struct {
		Permissions []string `json:"permissions"`
	}
	user.getJSON("/api/v1/me", &me)
	if !slices.Equal(me.Permissions, []string{"SESSIONS_VIEW"}) {
		t.Errorf("nina's permissions: %q", me.Permissions)
	}
	var hist struct {
		Sessions []struct {
			ID string `json:"id"`
		} `json:"sessions"`
	}
	user.getJSON("/api/v1/sessions?user=nina", &hist)
	if len(hist.Sessions) != 2 || hist.Sessions[1].ID != create.S("session_id") {
		t.Errorf("nina's history: %+v", hist)
	}
	denied := 0
	for _, u := range []string{"/api/v1/users", "/api/v1/groups", "/api/v1/targets", "/api/v1/settings", "/api/v1/events", "/api/v1/reports",
		"/access/users", "/access/groups", "/access/targets", "/settings", "/logs", "/reports", "/status",
		fmt.Sprintf("/api/v1/users/%d", nina)} {
		if code, _ := user.get(u); code != http.StatusForbidden {
			t.Errorf("nina GET %s: %d, want 403", u, code)
		}
		denied++
	}
	for _, w := range []struct{ method, path string }{{http.MethodPost, "/api/v1/groups"}, {http.MethodPut, fmt.Sprintf("/api/v1/users/%d", nina)},
		{http.MethodDelete, fmt.Sprintf("/api/v1/targets/%d", web02)}, {http.MethodPost, "/api/v1/live/kill-all"}, {http.MethodPut, "/api/v1/settings"}} {
		if code, body := send(user, w.method, w.path, map[string]any{"name": "x", "permissions": []string{"USERS_ADMIN"}}); code != http.StatusForbidden {
			t.Errorf("nina %s %s: %d %s, want 403", w.method, w.path, code, body)
		}
		denied++
	}
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		return len(e2e.Find(g.Events("wui"), "wui.access.denied", e2e.Fields("user_name", "nina"))) >= denied
	}, func() string { return fmt.Sprintf("%d wui.access.denied events for nina", denied) })
	var groups struct {
		Groups []struct {
			Name string `json:"name"`
		} `json:"groups"`
	}
	admin.getJSON("/api/v1/groups", &groups)
	var gnames []string
	for _, gr := range groups.Groups {
		gnames = append(gnames, gr.Name)
	}
	if !slices.Contains(gnames, "ops") || slices.Contains(gnames, "x") {
		t.Errorf("groups after nina's refused writes: %q", gnames)
	}
	var u struct {
		Name string `json:"name"`
	}
	admin.getJSON(fmt.Sprintf("/api/v1/users/%d", nina), &u)
	if u.Name != "nina" {
		t.Errorf("nina's refused PUT renamed her to %q", u.Name)
	}
	if code, _ := admin.get(fmt.Sprintf("/api/v1/targets/%d", web02)); code != http.StatusOK {
		t.Errorf("the refused DELETE removed web02: %d", code)
	}
}

// TestWUIReportsAndStatus: the real-time report counts what happened (the
// logins of the JSON event files, the two SSH sessions, their recordings)
// and the status page names the running vigild and its plugins.
func TestWUIReportsAndStatus(t *testing.T) {
	t.Parallel()
	g := newWUIGateway(t)
	reader := g.newClient(t).mustLogin("admin", g.adminPassword)
	for range 2 {
		if code := g.newClient(t).login("admin", "not the password"); code != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", code)
		}
	}
	g.recordedSession(t, "echo one", "one")
	g.recordedSession(t, "echo two", "two")
	// A fence, as in TestWUILogFilters: once the index has it, it has
	// everything before.
	fence := wuiMarker(t, "fence")
	g.newClient(t).login(fence, "x")
	g.WaitEvent("wui", "account.login.failed_unknown_user", e2e.Fields("user_name", fence))
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		return len(reader.events(url.Values{"username": {fence}, "level": {"DEBUG"}})) == 1
	}, func() string { return "the fence event in the index" })
	ok, failed := 0, 0
	for _, e := range allLoggedEvents(t, g) {
		switch m := e.Metric(); {
		case m == "account.login.successful":
			ok++
		case strings.HasPrefix(m, "account.login.failed"):
			failed++
		}
	}

	var rep struct {
		BucketSeconds int64                `json:"bucket_seconds"`
		Series        map[string][]float64 `json:"series"`
	}
	reader.getJSON("/api/v1/reports?period=realtime", &rep)
	sum := func(k string) (n float64) {
		for _, v := range rep.Series[k] {
			n += v
		}
		return n
	}
	if rep.BucketSeconds != 60 || len(rep.Series["logins_ok"]) != 60 {
		t.Errorf("real-time report: %d buckets of %d s, want 60 of 60", len(rep.Series["logins_ok"]), rep.BucketSeconds)
	}
	for k, want := range map[string]float64{"logins_ok": float64(ok), "logins_failed": float64(failed), "sessions_created": 2,
		"sessions_destroyed": 2, "recordings_encoded": 2, "recordings_uploaded": 2, "recordings_failed": 0} {
		if got := sum(k); got != want {
			t.Errorf("real-time report: %s adds up to %v, want %v (%v)", k, got, want, rep.Series[k])
		}
	}
	if peak := slices.Max(rep.Series["sessions_concurrent"]); peak != 1 {
		t.Errorf("real-time report: peak concurrent sessions %v, want 1", peak)
	}
	if failed < 3 || ok < 1 {
		t.Errorf("the event files hold %d successful and %d failed logins; the test made at least 1 and 3 (the fence's too)", ok, failed)
	}
	for _, p := range []string{"realtime", "day", "week"} {
		if code, body := reader.get("/reports?period=" + p); code != http.StatusOK || !bytes.Contains(body, []byte("<svg")) {
			t.Errorf("GET /reports?period=%s: %d, has a chart: %v", p, code, bytes.Contains(body, []byte("<svg")))
		}
	}

	var st struct {
		Version string `json:"version"`
		Disks   []struct {
			Name  string `json:"name"`
			Total uint64 `json:"total"`
		} `json:"disks"`
		Plugins []struct {
			Name    string `json:"name"`
			Healthy bool   `json:"healthy"`
		} `json:"plugins"`
		Queues []struct {
			Name string `json:"name"`
		} `json:"queues"`
	}
	reader.getJSON("/api/v1/status", &st)
	if f := strings.Fields(g.ReadyLine()); len(f) < 2 || st.Version != f[1] {
		t.Errorf("status version %q; vigild says %q", st.Version, g.ReadyLine())
	}
	healthy := map[string]bool{}
	for _, p := range st.Plugins {
		healthy[p.Name] = p.Healthy
	}
	for _, p := range []string{"recorder-ssh", "storage-local", "logformat-json"} {
		if !healthy[p] {
			t.Errorf("status: plugin %s is not listed healthy: %+v", p, st.Plugins)
		}
	}
	var disks, queues []string
	for _, d := range st.Disks {
		if d.Total > 0 {
			disks = append(disks, d.Name)
		}
	}
	for _, q := range st.Queues {
		queues = append(queues, q.Name)
	}
	if !slices.Equal(disks, []string{"spool", "state", "logs"}) || len(queues) == 0 {
		t.Errorf("status: disks %q, queues %q", disks, queues)
	}
}

// TestWUIKillAll: "Kill all" of the live page for one user ends exactly
// that user's real SSH sessions; for every user, the rest.
func TestWUIKillAll(t *testing.T) {
	t.Parallel()
	g := newWUIGateway(t)
	bob := g.AddUser("bob", "Users")
	type live struct {
		user   string
		marker string
		proc   *e2e.Proc
	}
	var sessions []live
	for _, u := range []e2e.User{g.alice, g.alice, bob} {
		m := wuiMarker(t, u.Name)
		p := e2e.StartProc(t, g.SSHCommand(u, u.Name+":web01", "echo "+m+"; exec sleep 300"))
		sessions = append(sessions, live{u.Name, m, p})
	}
	for _, s := range sessions {
		e2e.Poll(t, e2e.EventTimeout, func() bool { return strings.Contains(s.proc.Stdout.String(), s.marker) || s.proc.Exited() },
			func() string { return s.marker + " at the client" })
		if s.proc.Exited() {
			t.Fatalf("a session of %s ended by itself: %q", s.user, s.proc.Stderr)
		}
	}
	admin := g.newClient(t).mustLogin("admin", g.adminPassword)
	code, body, hdr := admin.postForm("/sessions/live/kill-all", url.Values{"user": {"alice"}}, admin.csrf)
	if code != http.StatusSeeOther {
		t.Fatalf("POST /sessions/live/kill-all for alice: %d %s", code, body)
	}
	code, page := admin.get(hdr.Get("Location"))
	if code != http.StatusOK || !bytes.Contains(page, []byte("Ended 2 session(s).")) {
		t.Errorf("after killing alice's sessions, %s: %d, no \"Ended 2 session(s).\"", hdr.Get("Location"), code)
	}
	for _, s := range sessions[:2] {
		e2e.Poll(t, e2e.CommandTimeout, s.proc.Exited, func() string { return "alice's killed ssh client to exit" })
	}
	if sessions[2].proc.Exited() {
		t.Fatalf("killing alice's sessions ended bob's: %q", sessions[2].proc.Stderr)
	}
	// The registry lets a session go once its teardown is done.
	var l []e2e.LiveSession
	e2e.Poll(t, e2e.EventTimeout, func() bool { l = g.Sessions(); return len(l) <= 1 },
		func() string { return fmt.Sprintf("alice's sessions to leave the live list: %+v", l) })
	if len(l) != 1 || l[0].User != "bob" {
		t.Errorf("live after killing alice's: %+v, want bob's one", l)
	}
	if n := len(e2e.Find(g.Events("ssh"), "session.kill_all", e2e.Fields("user_name", "alice", "by", "admin"))); n != 2 {
		t.Errorf("%d session.kill_all events for alice by admin, want 2", n)
	}
	code, _, _ = admin.postForm("/sessions/live/kill-all", url.Values{"user": {""}}, admin.csrf)
	if code != http.StatusSeeOther {
		t.Fatalf("POST /sessions/live/kill-all: %d", code)
	}
	e2e.Poll(t, e2e.CommandTimeout, sessions[2].proc.Exited, func() string { return "bob's killed ssh client to exit" })
	g.WaitEvent("ssh", "session.kill_all", e2e.Fields("user_name", "bob", "by", "admin"))
	e2e.Poll(t, e2e.EventTimeout, func() bool { l = g.Sessions(); return len(l) == 0 },
		func() string { return fmt.Sprintf("an empty live list after kill all: %+v", l) })
}

// TestWUILoginSurvivesRestart: a login session outlives a restart of
// vigild (kept in <state_dir>/wui_logins.json, mode 0600, without its
// token); one that logged out does not come back.
func TestWUILoginSurvivesRestart(t *testing.T) {
	t.Parallel()
	g := newWUIGateway(t)
	kept := g.newClient(t).mustLogin("admin", g.adminPassword)
	out := g.newClient(t).mustLogin("admin", g.adminPassword)
	if code, _, _ := out.postForm("/logout", url.Values{}, out.csrf); code != http.StatusSeeOther {
		t.Fatalf("POST /logout: %d", code)
	}
	g.Stop()
	file := filepath.Join(g.StateDir, "wui_logins.json")
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s after the stop: %v, mode %v", file, err, st)
	}
	g.Start()
	var me struct {
		Name string `json:"name"`
		CSRF string `json:"csrf_token"`
	}
	kept.getJSON("/api/v1/me", &me)
	if me.Name != "admin" || me.CSRF != kept.csrf {
		t.Errorf("after the restart the kept login is %+v (csrf %q before)", me, kept.csrf)
	}
	// It still writes, with the token it had.
	if code, body, _ := kept.do(http.MethodPost, "/api/v1/groups", []byte(`{"name": "after-restart", "permissions": ["LOGS_VIEW"]}`),
		map[string]string{"Content-Type": "application/json", "X-CSRF-Token": kept.csrf}); code != http.StatusCreated {
		t.Errorf("POST /api/v1/groups after the restart: %d %s", code, body)
	}
	if code, _ := out.get("/api/v1/me"); code != http.StatusUnauthorized {
		t.Errorf("the logged-out session after the restart: GET /api/v1/me %d, want 401", code)
	}
}

// TestWUIClipFromStorage: with retention 0 the local renders go once
// uploaded; the clip, a byte range of it and the zip then come through
// the storage plugin, byte for byte the stored object, and the clip still
// says how long it plays.
func TestWUIClipFromStorage(t *testing.T) {
	t.Parallel()
	g := newWUIGatewayWith(t, "\n[recording]\nretention = \"0\"\n")
	marker := wuiMarker(t, "stored")
	sid := g.recordedSession(t, "echo "+marker, marker)
	var cast store.Render
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		for _, r := range g.renders(t, sid) {
			if r.Role == store.RenderCast && r.Segment == 0 {
				cast = r
			}
		}
		return cast.ObjectKey != "" && cast.LocalPath == ""
	}, func() string {
		return fmt.Sprintf("the local cast of %s to be deleted after its upload: %+v", sid, cast)
	})
	want, err := os.ReadFile(filepath.Join(g.StateDir, "recordings", cast.ObjectKey))
	if err != nil || !bytes.Contains(want, []byte(marker)) {
		t.Fatalf("the stored object %s (%v) lacks %s", cast.ObjectKey, err, marker)
	}

	admin := g.newClient(t).mustLogin("admin", g.adminPassword)
	clips, _ := admin.clips(sid)
	if len(clips) != 1 || clips[0].Size != int64(len(want)) || clips[0].DurationMS <= 0 {
		t.Fatalf("clips of %s after the local copy went: %+v", sid, clips)
	}
	code, got, _ := admin.do(http.MethodGet, "/recordings/"+sid+"/clips/1/download", nil, nil)
	if code != http.StatusOK || !bytes.Equal(got, want) {
		t.Errorf("clip download from storage: %d, %d bytes, equal to the object: %v", code, len(got), bytes.Equal(got, want))
	}
	code, part, hdr := admin.do(http.MethodGet, "/recordings/"+sid+"/clips/1/media", nil, map[string]string{"Range": "bytes=10-41"})
	if code != http.StatusPartialContent || !bytes.Equal(part, want[10:42]) || hdr.Get("Content-Range") != fmt.Sprintf("bytes 10-41/%d", len(want)) {
		t.Errorf("range 10-41 from storage: %d %q, Content-Range %q", code, part, hdr.Get("Content-Range"))
	}
	code, zipped, _ := admin.do(http.MethodGet, "/recordings/"+sid+"/download", nil, nil)
	zr, err := zip.NewReader(bytes.NewReader(zipped), int64(len(zipped)))
	if code != http.StatusOK || err != nil || len(zr.File) != 1 {
		t.Fatalf("zip from storage: %d, %v", code, err)
	}
	rc, err := zr.File[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	inZip, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(inZip, want) {
		t.Errorf("the zipped clip from storage (%v) differs from the object", err)
	}
	location := "file://" + filepath.Join(g.StateDir, "recordings", cast.ObjectKey)
	g.WaitEvent("wui", "recording.play", e2e.Fields("message", fmt.Sprintf("User admin played %s video: %s", sid, location)))
	g.WaitEvent("wui", "recording.download", e2e.Fields("message", fmt.Sprintf("User admin downloaded %s video: %s", sid, location)))
	g.WaitEvent("wui", "recording.download", e2e.Fields("message", "User admin downloaded entire session: "+sid))
}

// TestWUIVNCPlayback: a VNC session recorded through the real gateway
// (x11vnc's screen turns red) is a video clip in the WUI: the MP4 the
// pipeline uploaded, byte for byte, with its thumbnail; Chromium's <video>
// plays it at the recording's size, and the play is logged in the seed's
// words.
func TestWUIVNCPlayback(t *testing.T) {
	sdktest.RequirePeer(t, "ffmpeg")
	x := e2e.RequireX11vnc(t, 1280, 720)
	vnctest.XRun(t, x.D, "xsetroot", "-solid", "black")
	uploads := filepath.Join(t.TempDir(), "uploads")
	g := newWUIGatewayConfig(t, vncConfig(uploads, ""), true)
	g.AddVNCTarget("desk", x.Port, x.Password, "Users")
	vg := &vncGateway{Vigild: g.Vigild, x: x, alice: g.alice, uploads: uploads}
	c := vg.watch(t, rfbwire.EncZRLE, rfbwire.EncRaw)
	paint(t, c, func() { vnctest.XRun(t, x.D, "xsetroot", "-solid", "red") })
	c.Close()
	sid := g.WaitEvent("vnc", "session.create", e2e.Fields("user_name", "alice", "target_name", "desk")).S("session_id")
	g.WaitEvent("vnc", "session.destroy", e2e.Fields("session_id", sid))
	g.waitRecording(t, sid)

	mp4 := filepath.Join(uploads, "alice", sid, "0001.mp4")
	want, err := os.ReadFile(mp4)
	if err != nil {
		t.Fatalf("the uploaded video: %v", err)
	}
	admin := g.newClient(t).mustLogin("admin", g.adminPassword)
	clips, _ := admin.clips(sid)
	if len(clips) != 1 || clips[0].Role != "video" || clips[0].Size != int64(len(want)) || clips[0].Location != "file://"+mp4 || clips[0].DurationMS <= 0 {
		t.Fatalf("clips of the VNC session: %+v; want one video of %d bytes at file://%s", clips, len(want), mp4)
	}
	code, got, hdr := admin.do(http.MethodGet, "/recordings/"+sid+"/clips/1/download", nil, nil)
	if code != http.StatusOK || hdr.Get("Content-Type") != "video/mp4" || !bytes.Equal(got, want) {
		t.Errorf("video download: %d %s, %d bytes, equal to the upload: %v", code, hdr.Get("Content-Type"), len(got), bytes.Equal(got, want))
	}
	code, thumb, hdr := admin.do(http.MethodGet, "/recordings/"+sid+"/clips/1/thumbnail", nil, nil)
	if code != http.StatusOK || hdr.Get("Content-Type") != "image/jpeg" || !bytes.HasPrefix(thumb, []byte{0xff, 0xd8}) {
		t.Errorf("thumbnail: %d %s, %d bytes", code, hdr.Get("Content-Type"), len(thumb))
	}

	b := startWUIBrowser(t)
	b.login(t, g.base, "admin", g.adminPassword)
	b.do(t, "play the VNC recording",
		chromedp.Navigate(g.base+"/recordings/"+sid),
		chromedp.WaitVisible(chromedp.CSS(`video#player`)),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('player').play(), undefined`),
		chromedp.Poll[chromedp.Void](`document.getElementById('player').currentTime > 0.5 || document.getElementById('player').error !== null`,
			chromedp.WithPollingTimeout(e2e.CommandTimeout)),
	)
	b.noCSPViolations(t, "VNC recording")
	if e := wuiEval[int](t, b, `(document.getElementById('player').error || {code: 0}).code`); e != 0 {
		t.Errorf("Chromium's media error %d playing the MP4", e)
	}
	if w := wuiEval[int](t, b, `document.getElementById('player').videoWidth`); w != vncWidth {
		t.Errorf("the video plays %d pixels wide, want %d", w, vncWidth)
	}
	g.WaitEvent("wui", "recording.play", e2e.Fields("message", fmt.Sprintf("User admin played %s video: file://%s", sid, mp4)))
}

// TestWUIClipFromS3: recordings uploaded to S3 (a real versitygw) with
// retention 0 are served by the WUI through the storage-s3 plugin, byte
// for byte the stored object, and the audit events name the
// s3://bucket@endpoint/key location, as the seed's do.
func TestWUIClipFromS3(t *testing.T) {
	t.Parallel()
	s3 := s3test.Start(t)
	s3.CreateBucket("recordings")
	g := newWUIGatewayWith(t, fmt.Sprintf(`
[recording]
retention = "0"
upload_location = "s3://recordings@%s/vigil/{username}/{session_id}/{segment}.{ext}"
storage_key = %q
storage_secret = %q
allow_http = true
`, s3.Endpoint(), s3test.AccessKey, s3test.SecretKey))
	marker := wuiMarker(t, "s3")
	sid := g.recordedSession(t, "echo "+marker, marker)
	var cast store.Render
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		for _, r := range g.renders(t, sid) {
			if r.Role == store.RenderCast && r.Segment == 0 {
				cast = r
			}
		}
		return cast.ObjectKey != "" && cast.LocalPath == ""
	}, func() string {
		return fmt.Sprintf("the local cast of %s to be deleted after its upload: %+v", sid, cast)
	})
	obj, err := s3.Client().GetObject(t.Context(), "recordings", cast.ObjectKey, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || !bytes.Contains(want, []byte(marker)) {
		t.Fatalf("the object %s in the bucket (%v) lacks %s", cast.ObjectKey, err, marker)
	}

	admin := g.newClient(t).mustLogin("admin", g.adminPassword)
	location := fmt.Sprintf("s3://recordings@%s/%s", s3.Endpoint(), cast.ObjectKey)
	clips, _ := admin.clips(sid)
	if len(clips) != 1 || clips[0].Location != location || clips[0].Size != int64(len(want)) {
		t.Fatalf("clips: %+v; want one at %s of %d bytes", clips, location, len(want))
	}
	code, got, _ := admin.do(http.MethodGet, "/recordings/"+sid+"/clips/1/download", nil, nil)
	if code != http.StatusOK || !bytes.Equal(got, want) {
		t.Errorf("clip download from S3: %d, %d bytes, equal to the object: %v", code, len(got), bytes.Equal(got, want))
	}
	code, part, _ := admin.do(http.MethodGet, "/recordings/"+sid+"/clips/1/media", nil, map[string]string{"Range": "bytes=5-"})
	if code != http.StatusPartialContent || !bytes.Equal(part, want[5:]) {
		t.Errorf("range 5- from S3: %d, %d bytes", code, len(part))
	}
	g.WaitEvent("wui", "recording.download", e2e.Fields("message", fmt.Sprintf("User admin downloaded %s video: %s", sid, location)))
	g.WaitEvent("wui", "recording.play", e2e.Fields("message", fmt.Sprintf("User admin played %s video: %s", sid, location)))
}
