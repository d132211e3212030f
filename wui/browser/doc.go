// Package browser starts a real headless Chromium for the WUI's browser
// tests and its screenshots program, driven through chromedp over the
// DevTools pipe. chromedp starts the process, waits for it, and on Stop
// kills it and its children by their process ids and removes its
// temporary profile.
package browser
