package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/vigilgw/vigil/daemon/e2e"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
	wuibrowser "github.com/vigilgw/vigil/wui/browser"
)

// wuiGateway is a started appliance with its web UI on (HTTPS, the
// self-signed certificate vigild makes on first start), the shared sshd
// as target web01 of group Users, and alice in Users.
type wuiGateway struct {
	*e2e.Vigild
	sshd          *e2e.SSHD
	base          string // https://127.0.0.1:PORT
	adminPassword string // printed once by the first start
	alice         e2e.User
	tls           *tls.Config
}

// wuiTable is the [wui] table of e2e.Vigild.ConfigText: off, on a free port.
var wuiTable = regexp.MustCompile(`(?m)^\[wui\]\nenabled = false\nlisten = "(127\.0\.0\.1:\d+)"$`)

// wuiLockoutAttempts failed logins in a row lock an account.
const wuiLockoutAttempts = 5

// adminPasswordLine is how vigild's first start prints the password.
var adminPasswordLine = regexp.MustCompile(`(?m)^\s*password:\s+(\S+)\s*$`)

func newWUIGateway(t *testing.T) *wuiGateway {
	t.Helper()
	return newWUIGatewayWith(t, "")
}

// newWUIGatewayWith is newWUIGateway with extra tables in vigil.toml
// (after [wui]).
func newWUIGatewayWith(t *testing.T, extra string) *wuiGateway {
	t.Helper()
	return newWUIGatewayConfig(t, extra, false)
}

// newWUIGatewayConfig is newWUIGatewayWith, the VNC gateway on if vnc.
func newWUIGatewayConfig(t *testing.T, extra string, vnc bool) *wuiGateway {
	t.Helper()
	s := e2e.RequireSSHD(t)
	v := e2e.NewVigild(t, "")
	text := v.ConfigText(extra)
	if vnc {
		const off = "[vnc]\nenabled = false\n"
		if strings.Count(text, off) != 1 {
			t.Fatalf("the e2e configuration has no %q to turn on:\n%s", off, text)
		}
		text = strings.Replace(text, off, "[vnc]\nenabled = true\n", 1)
	}
	m := wuiTable.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("the e2e configuration has no [wui] table to turn on:\n%s", text)
	}
	// e2e.FreePort can hand out a port twice (it closes its listener):
	// the WUI's must differ from the gateways'.
	for m[1] == v.SSHAddr() || m[1] == fmt.Sprintf("127.0.0.1:%d", v.VNCPort()) {
		m[1] = fmt.Sprintf("127.0.0.1:%d", e2e.FreePort(t))
	}
	// The lockout policy is spelled out: a test locks an account.
	v.WriteRawConfig(strings.Replace(text, m[0], fmt.Sprintf("[wui]\nenabled = true\nlisten = %q\nlockout_attempts = %d\nlockout_duration = \"15m\"",
		m[1], wuiLockoutAttempts), 1))
	v.Start()
	pw := adminPasswordLine.FindStringSubmatch(v.Stdout())
	if pw == nil {
		t.Fatalf("vigild printed no admin password:\n%s", v.Stdout())
	}
	if !strings.Contains(v.ReadyLine(), m[1]) {
		t.Errorf("ready line %q does not name the WUI listener %s", v.ReadyLine(), m[1])
	}
	// Trust exactly the certificate vigild made, for the names it made it for.
	pem, err := os.ReadFile(filepath.Join(v.StateDir, "keys", "wui.crt"))
	if err != nil {
		t.Fatalf("the self-signed WUI certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("wui.crt holds no certificate")
	}
	g := &wuiGateway{Vigild: v, sshd: s, base: "https://" + m[1], adminPassword: pw[1],
		tls: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}
	g.alice = v.AddUser("alice", "Users")
	v.AddTarget("web01", s, "Users")
	return g
}

// wuiMarker is a word that appears nowhere but where the test puts it.
func wuiMarker(t *testing.T, prefix string) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return prefix + "-" + hex.EncodeToString(b)
}

// aliceSessionIDs are the ids of alice's sessions so far (session.create
// events of the ssh log).
func (g *wuiGateway) aliceSessionIDs() []string {
	var ids []string
	for _, e := range e2e.Find(g.Events("ssh"), "session.create", e2e.Fields("user_name", "alice")) {
		ids = append(ids, e.S("session_id"))
	}
	return ids
}

// recordedSession runs command as alice on web01 through the gateway,
// expects want on its output, waits until `vigilctl recordings jobs`
// shows its recording encoded and uploaded, and returns its session id.
func (g *wuiGateway) recordedSession(t *testing.T, command, want string) string {
	t.Helper()
	before := g.aliceSessionIDs()
	out, errOut, code := e2e.Run(t, g.SSHCommand(g.alice, "alice:web01", command))
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("ssh alice:web01 %q: exit %d, stdout %q (want %q), stderr %q", command, code, out, want, errOut)
	}
	return g.recordedAfter(t, before)
}

// recordedAfter waits for alice's session that is not among before to end
// and its recording to be encoded and uploaded, and returns its id.
func (g *wuiGateway) recordedAfter(t *testing.T, before []string) string {
	t.Helper()
	var sid string
	e2e.Poll(t, e2e.EventTimeout, func() bool {
		for _, id := range g.aliceSessionIDs() {
			if !slices.Contains(before, id) {
				sid = id
				return true
			}
		}
		return false
	}, func() string { return "the session.create event of the new session" })
	g.WaitEvent("ssh", "session.destroy", e2e.Fields("session_id", sid))
	g.waitRecording(t, sid)
	return sid
}

// waitRecording polls `vigilctl recordings jobs --session sid` until the
// session's encode job is encoded and its upload job uploaded; a failed
// or stuck job fails the test at once.
func (g *wuiGateway) waitRecording(t *testing.T, sid string) {
	t.Helper()
	var last string
	e2e.Poll(t, e2e.CommandTimeout, func() bool {
		last = g.MustCtl("", "recordings", "jobs", "--session", sid)
		state := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(last), "\n")[1:] {
			// ID KIND SESSION SEGMENT STATE ...: the first five never hold spaces.
			f := strings.Fields(line)
			if len(f) < 5 || f[2] != sid {
				continue
			}
			if f[4] == string(store.JobFailed) || f[4] == string(store.JobStuck) {
				t.Fatalf("recording job of %s is %s:\n%s", sid, f[4], last)
			}
			state[f[1]] = f[4]
		}
		return state[string(store.JobEncode)] == string(store.JobEncoded) && state[string(store.JobUpload)] == string(store.JobUploaded)
	}, func() string { return "the encode and upload jobs of " + sid + " to be done; last:\n" + last })
}

// renders are the files the store says the recorder made for sid.
func (g *wuiGateway) renders(t *testing.T, sid string) []store.Render {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2e.CommandTimeout)
	defer cancel()
	st, err := store.Open(ctx, filepath.Join(g.StateDir, "vigil.db"), store.Options{})
	if err != nil {
		t.Fatalf("open vigild's store: %v", err)
	}
	defer st.Close()
	rs, err := st.ListRenders(ctx, sid)
	if err != nil {
		t.Fatalf("renders of %s: %v", sid, err)
	}
	return rs
}

// wuiClient is a browser-like HTTPS client of the WUI: a cookie jar,
// redirects not followed (the test checks them), vigild's certificate
// trusted.
type wuiClient struct {
	t    *testing.T
	base string
	hc   *http.Client
	csrf string // the login session's token, from /api/v1/me
}

func (g *wuiGateway) newClient(t *testing.T) *wuiClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: g.tls.Clone()}
	t.Cleanup(tr.CloseIdleConnections)
	return &wuiClient{t: t, base: g.base, hc: &http.Client{
		Jar: jar, Transport: tr, Timeout: e2e.CommandTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// do sends one request and returns the status, body and headers.
func (c *wuiClient) do(method, path string, body []byte, header map[string]string) (int, []byte, http.Header) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return resp.StatusCode, b, resp.Header
}

func (c *wuiClient) get(path string) (int, []byte) {
	c.t.Helper()
	code, b, _ := c.do(http.MethodGet, path, nil, nil)
	return code, b
}

// getJSON GETs path, expects 200 and decodes the answer into v.
func (c *wuiClient) getJSON(path string, v any) {
	c.t.Helper()
	code, b := c.get(path)
	if code != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		c.t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

// postForm posts a form as a page does; token "" leaves csrf_token out.
func (c *wuiClient) postForm(path string, form url.Values, token string) (int, []byte, http.Header) {
	c.t.Helper()
	f := url.Values{}
	for k, v := range form {
		f[k] = v
	}
	if token != "" {
		f.Set("csrf_token", token)
	}
	return c.do(http.MethodPost, path, []byte(f.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
}

var loginFormToken = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// login fills in the login form (GET /login sets its CSRF cookie) and
// returns the status of the POST: 303 when it worked, 401 when not.
func (c *wuiClient) login(name, password string) int {
	c.t.Helper()
	code, page := c.get("/login")
	m := loginFormToken.FindSubmatch(page)
	if code != http.StatusOK || m == nil {
		c.t.Fatalf("GET /login: %d, no csrf_token in the form: %s", code, page)
	}
	code, body, _ := c.postForm("/login", url.Values{"name": {name}, "password": {password}}, string(m[1]))
	if code == http.StatusSeeOther {
		var me struct {
			Name string `json:"name"`
			CSRF string `json:"csrf_token"`
		}
		c.getJSON("/api/v1/me", &me)
		if me.Name != name || me.CSRF == "" {
			c.t.Fatalf("after logging in as %q, /api/v1/me says %+v", name, me)
		}
		c.csrf = me.CSRF
	} else if code != http.StatusUnauthorized {
		c.t.Fatalf("POST /login as %q: %d %s", name, code, body)
	}
	return code
}

// mustLogin logs in and fails the test unless it works.
func (c *wuiClient) mustLogin(name, password string) *wuiClient {
	c.t.Helper()
	if code := c.login(name, password); code != http.StatusSeeOther {
		c.t.Fatalf("login as %q: %d", name, code)
	}
	return c
}

// wuiClip is one clip of GET /api/v1/sessions/{id}/clips.
type wuiClip struct {
	Segment     int    `json:"segment"`
	Role        string `json:"role"`
	Size        int64  `json:"size"`
	DurationMS  int64  `json:"duration_ms"`
	Location    string `json:"location"`
	MediaURL    string `json:"media_url"`
	DownloadURL string `json:"download_url"`
}

func (c *wuiClient) clips(sid string) ([]wuiClip, string) {
	c.t.Helper()
	var out struct {
		Clips []wuiClip `json:"clips"`
		All   string    `json:"download_all_url"`
	}
	c.getJSON("/api/v1/sessions/"+sid+"/clips", &out)
	return out.Clips, out.All
}

// wuiEvent is one event of GET /api/v1/events.
type wuiEvent struct {
	Seq        uint64            `json:"seq"`
	Time       time.Time         `json:"time"`
	MetricName string            `json:"metric_name"`
	Level      string            `json:"levelname"`
	Message    string            `json:"message"`
	Component  string            `json:"component"`
	UserName   string            `json:"user_name"`
	SessionID  string            `json:"session_id"`
	Extra      map[string]string `json:"extra"`
}

func (c *wuiClient) events(q url.Values) []wuiEvent {
	c.t.Helper()
	var out struct {
		Events []wuiEvent `json:"events"`
	}
	c.getJSON("/api/v1/events?"+q.Encode(), &out)
	return out.Events
}

// cspWatch runs in every page before its own scripts (DevTools scripts are
// exempt from the CSP) and records what the CSP blocked.
const cspWatch = `window.__csp = []; document.addEventListener("securitypolicyviolation",
	function (e) { window.__csp.push(e.violatedDirective + " " + e.blockedURI); });`

// wuiBrowser is a real headless Chromium (one tab) for the WUI. It
// accepts every JavaScript dialog (the WUI's confirm() before a kill) and
// remembers its text, so a test can tell that no alert() ran; downloads
// land in a directory of the test.
type wuiBrowser struct {
	ctx  context.Context
	dir  string
	mu   sync.Mutex
	dlgs []string
}

// startWUIBrowser starts Chromium as the WUI's own browser tests do
// (wui/browser, a 1280x800 window). chromedp starts the process, and on
// Stop kills it by its PID, waits for it and removes its profile.
func startWUIBrowser(t *testing.T) *wuiBrowser {
	t.Helper()
	path := sdktest.RequirePeer(t, "chromium")
	br, err := wuibrowser.Start(path, 1280, 800)
	if err != nil {
		t.Fatal(err)
	}
	ctx := br.Context()
	b := &wuiBrowser{ctx: ctx, dir: t.TempDir()}
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	watching := make(chan struct{})
	go func() {
		defer close(watching)
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.dlgs = append(b.dlgs, string(ev.Type)+": "+ev.Message)
			b.mu.Unlock()
			if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		if err := br.Stop(); err != nil {
			t.Error(err)
		}
		<-watching
	})
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatch}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: b.dir, EventsEnabled: new(true),
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

// dialogs are the JavaScript dialogs the pages opened so far.
func (b *wuiBrowser) dialogs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.dlgs)
}

// do runs steps with a deadline (a safety net, not a speed assertion).
func (b *wuiBrowser) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, e2e.CommandTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		t.Fatalf("browser: %s (at %s): %v", what, loc, err)
	}
}

// wuiEval evaluates a JavaScript expression in b's page.
func wuiEval[T any](t *testing.T, b *wuiBrowser, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, e2e.CommandTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("browser: evaluate %s: %v", expr, err)
	}
	return v
}

// login fills in the login form as name and waits for the first page.
func (b *wuiBrowser) login(t *testing.T, base, name, password string) {
	t.Helper()
	b.do(t, "log in as "+name,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.sidebar .whoami`)),
	)
}

// logout presses "Log out" and waits for the login form.
func (b *wuiBrowser) logout(t *testing.T) {
	t.Helper()
	b.do(t, "log out",
		chromedp.Click(chromedp.CSS(`.whoami form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)),
	)
}

// noCSPViolations checks that the current page's CSP blocked nothing.
func (b *wuiBrowser) noCSPViolations(t *testing.T, where string) {
	t.Helper()
	if v := wuiEval[[]string](t, b, `Array.isArray(window.__csp) ? window.__csp : ["the CSP watch did not run"]`); len(v) > 0 {
		t.Errorf("%s: the CSP blocked %v", where, v)
	}
}

// download runs click, which must start one download, and returns the
// name the server suggested and the bytes that arrived.
func (b *wuiBrowser) download(t *testing.T, what string, click chromedp.Action[chromedp.Void]) (string, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, e2e.CommandTimeout)
	defer cancel()
	begin := chromedp.Events(ctx, browser.DownloadWillBegin)
	progress := chromedp.Events(ctx, browser.DownloadProgress)
	b.do(t, what, click)
	var guid, name string
	for ev, err := range begin {
		if err != nil {
			t.Fatalf("%s: no download began: %v", what, err)
		}
		guid, name = ev.GUID, ev.SuggestedFilename
		break
	}
	for ev, err := range progress {
		if err != nil {
			t.Fatalf("%s: download did not complete: %v", what, err)
		}
		if ev.GUID != guid {
			continue
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatalf("%s: download canceled", what)
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			break
		}
	}
	data, err := os.ReadFile(filepath.Join(b.dir, guid))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return name, data
}
