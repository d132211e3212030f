// Command screenshots serves the WUI on the in-memory fake backend
// (wuitest) and saves a 1280x800 PNG of every page, taken by a real
// headless Chromium, into a directory: for design work without a daemon.
// `make screenshots` photographs a real vigild instead (TestWUIScreenshots
// in daemon/e2e); this command uses the fake.
//
//	go run ./wui/cmd/screenshots -out screenshots
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/vigilgw/vigil/wui"
	"github.com/vigilgw/vigil/wui/browser"
	"github.com/vigilgw/vigil/wui/wuitest"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "screenshots:", err)
		os.Exit(1)
	}
}

// shot is one picture: a path to open, then optional steps before the
// picture is taken.
type shot struct {
	name  string
	path  string
	steps []chromedp.Action[chromedp.Void]
}

func run() error {
	out := flag.String("out", "screenshots", "directory to write the PNG files into")
	chromium := flag.String("chromium", browser.DefaultPath, "Chromium executable")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "vigil-screenshots-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	fake := wuitest.New(wuitest.Options{})
	srv, err := wui.New(wui.Config{
		CertFile: filepath.Join(tmp, "wui.crt"), KeyFile: filepath.Join(tmp, "wui.key"), SelfSigned: true,
		Version: "0.9.0-demo",
	}, fake.Backend())
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
	}()
	base := "https://" + ln.Addr().String()

	b, err := browser.Start(*chromium, 1280, 800)
	if err != nil {
		return err
	}
	defer b.Stop()
	ctx := b.Context()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		return err
	}

	castSession, _ := fake.RecordedSession(wui.RoleCast)
	videoSession, _ := fake.RecordedSession(wui.RoleVideo)
	logIn := func(name, password string) []chromedp.Action[chromedp.Void] {
		return []chromedp.Action[chromedp.Void]{
			chromedp.SendKeys(chromedp.CSS(`input[name=name]`), name),
			chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
			chromedp.Click(chromedp.CSS(`button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`.sidebar`)),
		}
	}
	shots := []shot{
		{name: "01-login", path: "/login"},
		{name: "02-history", path: "/sessions/history", steps: logIn(wuitest.AdminName, wuitest.AdminPassword)},
		{name: "03-history-expanded", path: "/sessions/history", steps: []chromedp.Action[chromedp.Void]{
			chromedp.Click(chromedp.CSS(`button.expander`)),
			chromedp.WaitVisible(chromedp.CSS(`tr.detail:not([hidden])`)),
		}},
		{name: "04-history-transcript-search", path: "/sessions/history?q=systemctl"},
		{name: "05-recording-terminal", path: "/recordings/" + castSession.ID, steps: []chromedp.Action[chromedp.Void]{
			chromedp.WaitVisible(chromedp.CSS(`.ap-player`)),
			chromedp.Click(chromedp.CSS(`.ap-player`)),
			chromedp.Poll[chromedp.Void](`document.querySelector('.ap-term') && document.querySelector('.ap-term').textContent.includes('$ ') && document.querySelector('.ap-term').textContent.split('$').length > 3`,
				chromedp.WithPollingTimeout(30*time.Second)),
			chromedp.Click(chromedp.CSS(`.ap-player`)), // pause, so the picture holds still
		}},
		{name: "06-recording-video", path: "/recordings/" + videoSession.ID},
		{name: "07-live-sessions", path: "/sessions/live"},
		{name: "08-logs", path: "/logs?level=DEBUG&limit=100&minutes=240"},
		{name: "09-logs-more-filters", path: "/logs?level=INFO&component=pipeline&text=uploaded&minutes=2880", steps: []chromedp.Action[chromedp.Void]{
			chromedp.Click(chromedp.CSS(`table.logs details summary`)),
		}},
		{name: "10-reports-last-day", path: "/reports"},
		{name: "11-reports-realtime", path: "/reports?period=realtime"},
		{name: "12-reports-week", path: "/reports?period=week"},
		{name: "13-status", path: "/status"},
		{name: "14-settings", path: "/settings"},
		{name: "15-settings-invalid", path: "/settings", steps: []chromedp.Action[chromedp.Void]{
			chromedp.SetValue(chromedp.CSS(`input[name="recording.bitrate"]`), "fast"),
			chromedp.SetValue(chromedp.CSS(`input[name="recording.upload_location"]`), "ftp://old-server/recordings"),
			chromedp.Click(chromedp.CSS(`.settings button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`.field-error`)),
		}},
		{name: "16-users", path: "/access/users"},
		{name: "17-user-edit", path: "/access/users/new"},
		{name: "18-groups", path: "/access/groups"},
		{name: "19-group-edit", path: "/access/groups/1"},
		{name: "20-targets", path: "/access/targets"},
		{name: "21-target-edit", path: "/access/targets/new"},
	}
	for _, s := range shots {
		steps := append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(base + s.path)}, s.steps...)
		if err := chromedp.Do(ctx, steps...); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		file := filepath.Join(*out, s.name+".png")
		if err := os.WriteFile(file, png, 0o644); err != nil {
			return err
		}
		fmt.Println(file)
	}
	return nil
}
