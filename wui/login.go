package wui

import (
	"crypto/subtle"
	"fmt"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Bounds of the login form's fields: longer input is refused unread.
const (
	maxNameLen     = 256
	maxPasswordLen = 1024
)

type loginView struct {
	Token string // the login form's double-submit CSRF token
	Next  string
	Name  string
	Error string
}

// loginPage shows the login form. It has no session yet to hang a CSRF
// token on, so the token is a random value in both a cookie and the form
// (double submit): another site can neither read nor set the cookie.
func (s *Server) loginPage(ctx *fasthttp.RequestCtx) {
	next := safeNext(string(ctx.QueryArgs().Peek("next")))
	if s.logins.get(string(ctx.Request.Header.Cookie(sessionCookie))) != nil {
		redirect(ctx, next, fasthttp.StatusSeeOther)
		return
	}
	s.renderLogin(ctx, fasthttp.StatusOK, loginView{Next: next})
}

func (s *Server) renderLogin(ctx *fasthttp.RequestCtx, status int, v loginView) {
	v.Token = randomToken()
	setCookie(ctx, loginCSRFCookie, v.Token, 15*time.Minute)
	s.render(ctx, status, "login", pageData{Title: "Log in", Data: v})
}

func (s *Server) loginSubmit(ctx *fasthttp.RequestCtx) {
	args := ctx.PostArgs()
	v := loginView{Next: safeNext(string(args.Peek("next"))), Name: string(args.Peek("name"))}
	cookie := ctx.Request.Header.Cookie(loginCSRFCookie)
	token := args.Peek(csrfField)
	if !sameOrigin(ctx) || len(cookie) == 0 || subtle.ConstantTimeCompare(cookie, token) != 1 {
		v.Error = "The login form expired. Please try again."
		s.renderLogin(ctx, fasthttp.StatusForbidden, v)
		return
	}
	password := string(args.Peek("password"))
	if v.Name == "" || len(v.Name) > maxNameLen || len(password) > maxPasswordLen {
		v.Error = "Enter your user name and password."
		s.renderLogin(ctx, fasthttp.StatusUnauthorized, v)
		return
	}
	res, err := s.b.Auth.Login(ctx, v.Name, password)
	if err != nil {
		s.backendError(ctx, "check the password", err)
		return
	}
	if res.Outcome != LoginOK {
		s.loginFailed(ctx, v.Name, res)
		v.Error = "Login failed: wrong user name or password, or the account is locked or disabled."
		s.renderLogin(ctx, fasthttp.StatusUnauthorized, v)
		return
	}
	l, sessionToken := s.logins.create(res.Principal.UserID, res.Principal.Name)
	r := reqOf(ctx)
	r.login, r.principal = l, res.Principal
	setCookie(ctx, sessionCookie, sessionToken, 0)
	clearCookie(ctx, loginCSRFCookie)
	ev := s.newEvent(ctx, "account.login.successful", event.LevelInfo, fmt.Sprintf("User %s logged in", res.Principal.Name))
	ev.Result = "success"
	s.note(ctx, ev)
	redirect(ctx, v.Next, fasthttp.StatusSeeOther)
}

// loginFailed reports a failed login, and the lock it caused.
func (s *Server) loginFailed(ctx *fasthttp.RequestCtx, name string, res LoginResult) {
	metric, reason := "account.login.failed_invalid_password", "invalid password"
	switch res.Outcome {
	case LoginUnknownUser:
		metric, reason = "account.login.failed_unknown_user", "unknown user"
	case LoginLocked:
		metric, reason = "account.login.failed_account_locked", "account locked"
	case LoginDisabled:
		metric, reason = "account.login.failed_account_disabled", "account disabled"
	}
	ev := s.newEvent(ctx, metric, event.LevelWarning, fmt.Sprintf("Login failed for user %s: %s", name, reason))
	ev.UserName, ev.Result, ev.Reason = name, "failure", reason
	if res.Principal.UserID != 0 {
		ev.UserID = fmt.Sprint(res.Principal.UserID)
	}
	s.note(ctx, ev)
	if res.LockedNow {
		lock := s.newEvent(ctx, "account.locked", event.LevelWarning,
			fmt.Sprintf("User %s locked out until %s after repeated failed logins", name, res.LockedUntil.UTC().Format(time.RFC3339)))
		lock.UserName, lock.UserID, lock.Result, lock.Reason = name, ev.UserID, "locked", "too many failed logins"
		lock.Extra = map[string]string{"locked_until": res.LockedUntil.UTC().Format(time.RFC3339)}
		s.note(ctx, lock)
	}
}

func (s *Server) logout(ctx *fasthttp.RequestCtx) {
	r := reqOf(ctx)
	s.logins.delete(r.login.key)
	clearCookie(ctx, sessionCookie)
	s.note(ctx, s.newEvent(ctx, "account.logout", event.LevelInfo, fmt.Sprintf("User %s logged out", r.principal.Name)))
	redirect(ctx, "/login", fasthttp.StatusSeeOther)
}

// home sends the user to the first page they may see.
func (s *Server) home(ctx *fasthttp.RequestCtx) {
	p := reqOf(ctx).principal
	for _, c := range []struct {
		perm Permission
		path string
	}{
		{PermSessionsView, "/sessions/history"}, {PermLogsView, "/logs"}, {PermReportsView, "/reports"},
		{PermSettingsEdit, "/settings"}, {PermUsersAdmin, "/access/users"},
	} {
		if p.Can(c.perm) {
			redirect(ctx, c.path, fasthttp.StatusSeeOther)
			return
		}
	}
	s.render(ctx, fasthttp.StatusOK, "error", pageData{Title: "No access", Data: errorPage{
		Message: "Your account has no permissions yet. Ask an administrator to add you to a group.",
	}})
}

// safeNext keeps a post-login redirect on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n") || strings.HasPrefix(next, "/login") {
		return "/"
	}
	return next
}

// setCookie sets an HttpOnly, Secure, SameSite=Strict cookie for the whole
// site; maxAge 0 makes it last until the browser closes.
func setCookie(ctx *fasthttp.RequestCtx, name, value string, maxAge time.Duration) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(name)
	c.SetValue(value)
	c.SetPath("/")
	c.SetHTTPOnly(true)
	c.SetSecure(true)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	if maxAge > 0 {
		c.SetMaxAge(int(maxAge / time.Second))
	}
	ctx.Response.Header.SetCookie(c)
}

func clearCookie(ctx *fasthttp.RequestCtx, name string) {
	c := fasthttp.AcquireCookie()
	defer fasthttp.ReleaseCookie(c)
	c.SetKey(name)
	c.SetPath("/")
	c.SetHTTPOnly(true)
	c.SetSecure(true)
	c.SetSameSite(fasthttp.CookieSameSiteStrictMode)
	c.SetExpire(fasthttp.CookieExpireDelete)
	ctx.Response.Header.SetCookie(c)
}
