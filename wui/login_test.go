package wui_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/vigilgw/vigil/wui"
	"github.com/vigilgw/vigil/wui/wuitest"
)

func TestLoginLogout(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	page := s.do(req{path: "/sessions/history"})
	if page.status != 200 {
		t.Fatalf("history after login: %d", page.status)
	}
	contains(t, "history", page.body, "Session history", "1.2.3-test", wuitest.AdminName)
	if evs := h.fake.Events("account.login.successful"); len(evs) == 0 || evs[len(evs)-1].UserName != wuitest.AdminName || evs[len(evs)-1].Component != "wui" {
		t.Errorf("login event: %+v", evs)
	}

	res := s.do(req{method: "POST", path: "/logout"})
	if res.status != fasthttp.StatusSeeOther || res.header["Location"] != "/login" {
		t.Fatalf("logout: %d %v", res.status, res.header)
	}
	after := s.do(req{path: "/sessions/history"})
	if after.status != fasthttp.StatusSeeOther || !strings.HasPrefix(after.header["Location"], "/login?next=") {
		t.Fatalf("history after logout: %d %v", after.status, after.header["Location"])
	}
	if n := len(h.fake.Events("account.logout")); n != 1 {
		t.Errorf("logout events: %d", n)
	}
}

func TestSessionCookie(t *testing.T) {
	h := newHarness(t)
	s := h.anon()
	page := s.do(req{path: "/login"})
	token := tokenField.FindStringSubmatch(page.body)[1]
	res := s.do(req{method: "POST", path: "/login", form: url.Values{"name": {wuitest.AdminName}, "password": {wuitest.AdminPassword}, "csrf_token": {token}}})
	cookie := res.cookies["__Host-vigil_session"]
	for _, want := range []string{"__Host-vigil_session=", "HttpOnly", "secure", "SameSite=Strict", "path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("session cookie %q lacks %q", cookie, want)
		}
	}
	id := s.cookies["__Host-vigil_session"]
	if len(id) < 43 { // 256 bits, base64url
		t.Errorf("session id %q is shorter than 256 bits", id)
	}
}

func TestLoginFailureAndLockout(t *testing.T) {
	h := newHarness(t)
	_, res := h.tryLogin("nobody", "x")
	if res.status != fasthttp.StatusUnauthorized || !strings.Contains(res.body, "Login failed") {
		t.Fatalf("unknown user: %d", res.status)
	}
	if n := len(h.fake.Events("account.login.failed_unknown_user")); n != 1 {
		t.Errorf("unknown-user events: %d", n)
	}
	h.fake.AddUser("frank", "right-password", wui.PermSessionsView)
	for i := 1; i <= wuitest.MaxFailures; i++ {
		_, res := h.tryLogin("frank", "wrong")
		if res.status != fasthttp.StatusUnauthorized {
			t.Fatalf("attempt %d: %d", i, res.status)
		}
	}
	failed := h.events("account.login.failed_invalid_password")
	if len(failed) != wuitest.MaxFailures {
		t.Fatalf("failed-password events: %d", len(failed))
	}
	if ev := failed[0]; ev.Component != "wui" || ev.UserName != "frank" || ev.Result != "failure" || ev.RequestIP == "" || ev.UserAgent != "wui-test" {
		t.Errorf("failed event: %+v", ev)
	}
	locked := h.events("account.locked")
	if len(locked) != 1 || locked[0].UserName != "frank" || locked[0].Component != "wui" {
		t.Fatalf("account.locked events: %+v", locked)
	}
	// Locked: even the right password fails, and says the same thing.
	if _, res := h.tryLogin("frank", "right-password"); res.status != fasthttp.StatusUnauthorized {
		t.Fatalf("locked login: %d", res.status)
	}
	if n := len(h.fake.Events("account.login.failed_account_locked")); n != 1 {
		t.Errorf("locked-login events: %d", n)
	}
	h.advance(wuitest.LockDuration + time.Second)
	h.login("frank", "right-password")
}

func TestLoginCSRF(t *testing.T) {
	h := newHarness(t)
	s := h.anon()
	s.do(req{path: "/login"})
	res := s.do(req{method: "POST", path: "/login", noCSRF: true, form: url.Values{"name": {wuitest.AdminName}, "password": {wuitest.AdminPassword}}})
	if res.status != fasthttp.StatusForbidden {
		t.Fatalf("login without token: %d", res.status)
	}
	res = s.do(req{method: "POST", path: "/login", form: url.Values{"name": {wuitest.AdminName}, "password": {wuitest.AdminPassword}, "csrf_token": {"forged"}}})
	if res.status != fasthttp.StatusForbidden {
		t.Fatalf("login with a forged token: %d", res.status)
	}
}

func TestSessionTimeouts(t *testing.T) {
	tests := []struct {
		name  string
		steps []time.Duration // clock moves before each request
		want  []int
	}{
		{"active use keeps the session", []time.Duration{20 * time.Minute, 20 * time.Minute, 15 * time.Minute}, []int{200, 200, 200}},
		{"idle timeout", []time.Duration{10 * time.Minute, 31 * time.Minute}, []int{200, 303}},
		{"absolute timeout", []time.Duration{25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute}, []int{200, 200, 303, 303}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *wui.Config) { c.IdleTimeout, c.AbsoluteTimeout = 30*time.Minute, 60*time.Minute })
			s := h.login(wuitest.AdminName, wuitest.AdminPassword)
			for i, d := range tt.steps {
				h.advance(d)
				if got := s.do(req{path: "/sessions/live"}).status; got != tt.want[i] {
					t.Fatalf("request %d after %s: status %d, want %d", i, d, got, tt.want[i])
				}
			}
		})
	}
}

func TestDisabledUserLosesSession(t *testing.T) {
	h := newHarness(t)
	id := h.fake.AddUser("gina", "gina-password", wui.PermSessionsView)
	s := h.login("gina", "gina-password")
	h.fake.SetDisabled(id, true)
	if got := s.do(req{path: "/api/v1/sessions"}).status; got != fasthttp.StatusUnauthorized {
		t.Fatalf("disabled user's API call: %d", got)
	}
	h.fake.SetDisabled(id, false)
	if got := s.do(req{path: "/api/v1/sessions"}).status; got != fasthttp.StatusUnauthorized {
		t.Fatalf("the old session came back: %d", got)
	}
}

func TestSafeNext(t *testing.T) {
	h := newHarness(t)
	for _, tt := range []struct{ next, want string }{
		{"/logs?level=ERROR", "/logs?level=ERROR"},
		{"//evil.example/", "/"},
		{"https://evil.example/", "/"},
		{"/\\evil.example", "/"},
	} {
		s := h.anon()
		page := s.do(req{path: "/login?next=" + url.QueryEscape(tt.next)})
		token := tokenField.FindStringSubmatch(page.body)[1]
		res := s.do(req{method: "POST", path: "/login", form: url.Values{"name": {wuitest.AdminName}, "password": {wuitest.AdminPassword},
			"csrf_token": {token}, "next": {tt.next}}})
		if res.header["Location"] != tt.want {
			t.Errorf("next %q: redirected to %q, want %q", tt.next, res.header["Location"], tt.want)
		}
	}
}
