// Package wui is Vigil's web user interface: server-rendered pages and the
// JSON API behind them (API.md), served over HTTPS by fasthttp from assets
// embedded in the binary.
//
// It owns login sessions, CSRF protection, permission checks, the audit
// events of the people using it (logins, plays, downloads, denied access)
// and its access log. It knows the rest of the appliance only through the
// small interfaces it declares in backend.go, which the daemon implements
// with adapters; wuitest holds an in-memory implementation for tests and
// screenshots.
package wui
