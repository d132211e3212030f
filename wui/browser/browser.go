package browser

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/chromedp/chromedp"
)

// DefaultPath is where Debian's chromium package installs the browser.
const DefaultPath = "/usr/bin/chromium"

// Browser is one running headless Chromium.
type Browser struct {
	ctx         context.Context
	cancelAlloc context.CancelFunc
	cancelTab   context.CancelFunc
}

// Start runs Chromium at path with a window of width×height and opens a
// tab. The TLS certificate of test servers is self-signed, so certificate
// errors are ignored: this browser never leaves 127.0.0.1.
func Start(path string, width, height int) (*Browser, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("browser: %w", err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.IgnoreCertErrors,
		chromedp.WindowSize(width, height),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	// The first action starts the browser; it must run on a context
	// without a deadline, which would stop the browser with it.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		cancelTab()
		cancelAlloc()
		return nil, fmt.Errorf("browser: start %s: %w", path, err)
	}
	return &Browser{ctx: ctx, cancelAlloc: cancelAlloc, cancelTab: cancelTab}, nil
}

// Context is the chromedp context of the browser's tab.
func (b *Browser) Context() context.Context { return b.ctx }

// Stop closes the browser, waits for its process to exit and removes its
// profile.
func (b *Browser) Stop() error {
	err := chromedp.Cancel(b.ctx)
	b.cancelTab()
	b.cancelAlloc() // waits for the process
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("browser: stop: %w", err)
	}
	return nil
}
