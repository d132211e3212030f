package wui_test

import (
	"net/url"
	"testing"

	"github.com/vigilgw/vigil/wui/wuitest"
)

// TestCSRFRefusal sends every state-changing route without the token, with
// a wrong one, and with the right one from another origin: all are 403
// and change nothing.
func TestCSRFRefusal(t *testing.T) {
	h := newHarness(t)
	fx := newFixtures(t, h)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	for _, r := range h.srv.Routes() {
		if r.Method == "GET" || r.Permission == "" {
			continue
		}
		path := fx.path(r.Pattern)
		for _, tt := range []struct {
			name string
			r    req
		}{
			{"no token", req{method: r.Method, path: path, noCSRF: true, form: url.Values{"name": {"x"}}}},
			{"wrong token", req{method: r.Method, path: path, headers: map[string]string{"X-CSRF-Token": "forged"}, noCSRF: true}},
			{"other origin", req{method: r.Method, path: path, headers: map[string]string{"Origin": "https://evil.example"}}},
		} {
			if r.API && tt.name != "no token" {
				tt.r.json = map[string]string{}
			}
			if got := s.do(tt.r).status; got != 403 {
				t.Errorf("%s %s, %s: status %d, want 403", r.Method, r.Pattern, tt.name, got)
			}
		}
	}
	// Nothing changed: the victims and the live session are still there.
	if _, err := h.fake.User(t.Context(), fx.user); err != nil {
		t.Errorf("victim user: %v", err)
	}
	live, _ := h.fake.ListLive(t.Context())
	if len(live) == 0 || live[0].ID != fx.live {
		t.Errorf("live sessions changed: %v", live)
	}
	if n := len(h.fake.Events("session.kill")); n != 0 {
		t.Errorf("%d sessions were killed", n)
	}
	// The same request with the token works.
	if got := s.do(req{method: "POST", path: "/sessions/live/" + fx.live + "/kill"}).status; got != 303 {
		t.Errorf("kill with the token: %d", got)
	}
}
