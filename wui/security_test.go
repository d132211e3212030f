package wui_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigilgw/vigil/wui"
	"github.com/vigilgw/vigil/wui/wuitest"
)

func TestSecurityHeaders(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	for _, path := range []string{"/login", "/sessions/history", "/api/v1/me", "/static/app.css", "/no/such/page"} {
		res := s.do(req{path: path})
		csp := res.header["Content-Security-Policy"]
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "'unsafe-eval'") ||
			!strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		for k, v := range map[string]string{"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin"} {
			if res.header[k] != v {
				t.Errorf("%s: %s = %q, want %q", path, k, res.header[k], v)
			}
		}
	}
}

// TestNoInlineScript checks the pages carry no inline script or handler,
// which the CSP would block anyway.
func TestNoInlineScript(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	sess, _ := h.fake.RecordedSession(wui.RoleCast)
	for _, path := range []string{"/sessions/history", "/recordings/" + sess.ID, "/logs", "/reports", "/settings", "/status", "/access/users/new"} {
		body := s.do(req{path: path}).body
		for _, bad := range []string{"<script>", " onclick=", " onload=", "javascript:", " style="} {
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q", path, bad)
			}
		}
	}
}

// TestScriptUsernameIsInert: a user named <script>…</script> shows up
// escaped on every page that names users, and in JSON.
func TestScriptUsernameIsInert(t *testing.T) {
	h := newHarness(t)
	admin := h.login(wuitest.AdminName, wuitest.AdminPassword)
	xss := h.login(wuitest.XSSUser, "xss-pw-12345")
	h.fake.AddLive(wui.LiveSession{ID: "LIVEXSS", UserName: wuitest.XSSUser, TargetName: "web01", Protocol: "ssh"})
	pages := []struct {
		s    *browserSession
		path string
	}{
		{admin, "/sessions/history?user=" + urlEscape(wuitest.XSSUser)},
		{admin, "/sessions/live"},
		{admin, "/access/users"},
		{admin, "/logs?level=DEBUG&minutes=100000"},
		{xss, "/"},
	}
	for _, p := range pages {
		res := p.s.do(req{path: p.path})
		if res.status >= 300 && res.status < 400 {
			res = p.s.do(req{path: res.header["Location"]})
		}
		if strings.Contains(res.body, wuitest.XSSUser) {
			t.Errorf("%s: the name is in the page unescaped", p.path)
		}
		if !strings.Contains(res.body, "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;") {
			t.Errorf("%s: the escaped name is missing", p.path)
		}
	}
	res := admin.do(req{path: "/api/v1/sessions?user=" + urlEscape(wuitest.XSSUser)})
	var page wui.SessionPage
	if err := json.Unmarshal([]byte(res.body), &page); err != nil || len(page.Sessions) == 0 || page.Sessions[0].UserName != wuitest.XSSUser {
		t.Errorf("API: %v %s", err, res.body)
	}
	if strings.Contains(res.body, "<script>") {
		t.Errorf("API JSON carries raw markup")
	}
}
