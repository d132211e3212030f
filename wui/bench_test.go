package wui_test

import (
	"context"
	"testing"
	"time"

	"github.com/vigilgw/vigil/wui"
	"github.com/vigilgw/vigil/wui/wuitest"
)

// benchServer is the WUI on a fake backend of 2000 sessions.
func benchServer(b *testing.B) (*wuitest.Fake, *wui.Server, string) {
	b.Helper()
	fake := wuitest.New(wuitest.Options{Sessions: 2000})
	srv, err := wui.New(wui.Config{InsecureHTTP: true}, fake.Backend())
	if err != nil {
		b.Fatal(err)
	}
	cookie, err := wuitest.LoginCookie(srv.Handler(), wuitest.AdminName, wuitest.AdminPassword)
	if err != nil {
		b.Fatal(err)
	}
	return fake, srv, cookie
}

// BenchmarkHistoryPage: "baseline" is the backend's page query alone, the
// floor the page cannot beat; "vigil" is the whole page (session lookup,
// permission check, query, template, access log).
func BenchmarkHistoryPage(b *testing.B) {
	fake, srv, cookie := benchServer(b)
	q := wui.SessionQuery{Protocol: "ssh", Limit: 50}
	b.Run("baseline", func(b *testing.B) {
		wuitest.Latency(b, func() error { _, err := fake.ListSessions(context.Background(), q); return err })
	})
	b.Run("vigil", func(b *testing.B) {
		wuitest.PageLatency(b, srv.Handler(), cookie, "/sessions/history?protocol=ssh&limit=50")
	})
}

// BenchmarkLogSearch: the logging dashboard's message search over the last
// two days, against the event query alone.
func BenchmarkLogSearch(b *testing.B) {
	fake, srv, cookie := benchServer(b)
	q := wui.EventQuery{Level: "INFO", Text: "destroyed", Since: time.Now().Add(-48 * time.Hour), Limit: 100}
	b.Run("baseline", func(b *testing.B) {
		wuitest.Latency(b, func() error { _, err := fake.QueryEvents(context.Background(), q); return err })
	})
	b.Run("vigil", func(b *testing.B) {
		wuitest.PageLatency(b, srv.Handler(), cookie, "/logs?level=INFO&text=destroyed&minutes=2880&limit=100")
	})
}
