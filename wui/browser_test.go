package wui_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
	"github.com/vigilgw/vigil/wui"
	wuibrowser "github.com/vigilgw/vigil/wui/browser"
	"github.com/vigilgw/vigil/wui/wuitest"
)

// cspWatch runs in every page before its own scripts (DevTools scripts are
// exempt from the CSP) and records what the CSP blocked.
const cspWatch = `window.__csp = []; document.addEventListener("securitypolicyviolation",
	function (e) { window.__csp.push(e.violatedDirective + " " + e.blockedURI); });`

// browserHarness serves the WUI over real TLS to a real headless Chromium.
type browserHarness struct {
	fake *wuitest.Fake
	base string
	ctx  context.Context
}

func newBrowserHarness(t *testing.T) *browserHarness {
	t.Helper()
	path := sdktest.RequirePeer(t, "chromium")
	dir := t.TempDir()
	fake := wuitest.New(wuitest.Options{Sessions: 30})
	srv, err := wui.New(wui.Config{CertFile: filepath.Join(dir, "wui.crt"), KeyFile: filepath.Join(dir, "wui.key"), SelfSigned: true,
		Version: "1.2.3-browser"}, fake.Backend())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	b, err := wuibrowser.Start(path, 1280, 800)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Error(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-served; err != nil {
			t.Error(err)
		}
	})
	if _, err := chromedp.Call(b.Context(), page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspWatch}); err != nil {
		t.Fatal(err)
	}
	return &browserHarness{fake: fake, base: "https://" + ln.Addr().String(), ctx: b.Context()}
}

// do runs steps with a deadline (the browser's own context has none: a
// deadline on it would stop the browser).
func (bh *browserHarness) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(bh.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func (bh *browserHarness) noCSPViolations(t *testing.T, where string) {
	t.Helper()
	v, err := chromedp.Run(bh.ctx, chromedp.Evaluate[[]string](`Array.isArray(window.__csp) ? window.__csp : ["the CSP watch did not run"]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(v) > 0 {
		t.Errorf("%s: the CSP blocked %v", where, v)
	}
}

// TestBrowserAuditorFlow: log in, open the history, expand a session, play
// its terminal recording (the player shows the recorded text) and download
// a clip, in Chromium, with the CSP of the real server.
func TestBrowserAuditorFlow(t *testing.T) {
	bh := newBrowserHarness(t)
	sess, clips := bh.fake.RecordedSession(wui.RoleCast)

	bh.do(t, "log in",
		chromedp.Navigate(bh.base+"/sessions/history"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=password]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), wuitest.AdminName),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), wuitest.AdminPassword),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.history`)),
	)
	if loc, _ := chromedp.Run(bh.ctx, chromedp.Location()); !strings.HasSuffix(loc, "/sessions/history") {
		t.Errorf("after login the browser is at %s", loc)
	}
	bh.noCSPViolations(t, "history")

	detail := chromedp.CSS(fmt.Sprintf(`#d-%s`, sess.ID))
	bh.do(t, "expand the session",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`button[aria-controls="d-%s"]`, sess.ID))),
		chromedp.WaitVisible(detail),
	)
	text, err := chromedp.Run(bh.ctx, chromedp.Text(detail))
	if err != nil || !strings.Contains(text, "View") || !strings.Contains(text, "Download all") {
		t.Fatalf("expanded row: %q %v", text, err)
	}

	bh.do(t, "play the terminal recording",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`#d-%s a.btn.primary`, sess.ID))),
		chromedp.WaitVisible(chromedp.CSS(`.ap-player`)),
		chromedp.Click(chromedp.CSS(`.ap-player`)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`(document.querySelector('.ap-term') || {textContent: ''}).textContent.includes(%q)`, wuitest.Banner),
			chromedp.WithPollingTimeout(30*time.Second)),
	)
	bh.noCSPViolations(t, "recording")
	want := fmt.Sprintf("User %s played %s video: %s", wuitest.AdminName, sess.ID, clips[0].Location)
	sdktest.WaitFor(t, 10*time.Second, "the play event", func() bool {
		for _, ev := range bh.fake.Events("recording.play") {
			if ev.Message == want {
				return true
			}
		}
		return false
	})

	dir := t.TempDir()
	waitCtx, cancel := context.WithTimeout(bh.ctx, 30*time.Second)
	defer cancel()
	progress := chromedp.Events(waitCtx, browser.DownloadProgress)
	if _, err := chromedp.Call(bh.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: dir, EventsEnabled: ptr(true),
	}); err != nil {
		t.Fatal(err)
	}
	bh.do(t, "download clip 1", chromedp.Click(chromedp.CSS(`.clip-list li:first-child a.icon-btn`)))
	var file string
	for ev, err := range progress {
		if err != nil || waitCtx.Err() != nil {
			t.Fatalf("download: %v %v", err, waitCtx.Err())
		}
		if ev.State == browser.DownloadProgressStateCompleted {
			file = filepath.Join(dir, ev.GUID)
			break
		}
		if ev.State == browser.DownloadProgressStateCanceled {
			t.Fatal("download canceled")
		}
	}
	got, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(got, bh.fake.ClipData(sess.ID, clips[0].Segment)) {
		t.Fatalf("downloaded file: %v, %d bytes differ from the clip", err, len(got))
	}
	wantDL := fmt.Sprintf("User %s downloaded %s video: %s", wuitest.AdminName, sess.ID, clips[0].Location)
	found := false
	for _, ev := range bh.fake.Events("recording.download") {
		found = found || ev.Message == wantDL
	}
	if !found {
		t.Errorf("no event %q", wantDL)
	}
}

// TestBrowserVideoSeeks plays an MP4 clip from a transcript-style offset:
// Chromium fetches it with Range requests and starts where asked.
func TestBrowserVideoSeeks(t *testing.T) {
	bh := newBrowserHarness(t)
	sess, _ := bh.fake.RecordedSession(wui.RoleVideo)
	bh.do(t, "log in",
		chromedp.Navigate(bh.base+"/login"),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), wuitest.AdminName),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), wuitest.AdminPassword),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`.sidebar`)),
	)
	bh.do(t, "play from 3 s",
		chromedp.Navigate(bh.base+"/recordings/"+sess.ID+"?clip=1&t=3"),
		chromedp.WaitVisible(chromedp.CSS(`video#player`)),
		chromedp.Click(chromedp.CSS(`video#player`)),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('player').play(), undefined`),
		chromedp.Poll[chromedp.Void](`document.getElementById('player').currentTime >= 3.2`, chromedp.WithPollingTimeout(30*time.Second)),
	)
	bh.noCSPViolations(t, "video")
	errCode, err := chromedp.Run(bh.ctx, chromedp.Evaluate[int](`(document.getElementById('player').error || {code: 0}).code`))
	if err != nil || errCode != 0 {
		t.Errorf("media error %d %v", errCode, err)
	}
}

func ptr[T any](v T) *T { return &v }
