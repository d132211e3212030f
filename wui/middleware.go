package wui

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Cookie and field names.
const (
	sessionCookie    = "__Host-vigil_session" // the login session token
	loginCSRFCookie  = "__Host-vigil_login"   // double-submit token of the login form
	csrfField        = "csrf_token"
	csrfHeader       = "X-CSRF-Token"
	stateKey         = "wui.request"
	contentSecPolicy = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; " +
		"img-src 'self' data:; media-src 'self'; connect-src 'self'; font-src 'self' data:; worker-src 'self' blob:; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

// request is what the middleware learns about one request; handlers read
// it through reqOf.
type request struct {
	start     time.Time
	route     *route
	login     *login
	principal Principal
	// streamed: the body is written after the handler returns, and the
	// writer logs the request when it is done.
	streamed bool
}

func reqOf(ctx *fasthttp.RequestCtx) *request {
	r, _ := ctx.UserValue(stateKey).(*request)
	if r == nil {
		r = &request{start: time.Now()}
		ctx.SetUserValue(stateKey, r)
	}
	return r
}

// handle is the server's fasthttp handler: access log, panic recovery,
// security headers, routing, authentication, CSRF and permissions, in
// that order, then the route's handler.
func (s *Server) handle(ctx *fasthttp.RequestCtx) {
	r := &request{start: time.Now()}
	ctx.SetUserValue(stateKey, r)
	defer func() {
		if p := recover(); p != nil {
			s.cfg.Logger.Error("wui: panic", "path", string(ctx.Path()), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			ctx.Response.Reset()
			setSecurityHeaders(ctx)
			ctx.Error("internal error", fasthttp.StatusInternalServerError)
			r.streamed = false
		}
		if !r.streamed {
			s.access.log(ctx, r, int64(len(ctx.Response.Body())))
		}
	}()
	setSecurityHeaders(ctx)
	s.dispatch(ctx, r)
}

func setSecurityHeaders(ctx *fasthttp.RequestCtx) {
	h := &ctx.Response.Header
	h.Set("Content-Security-Policy", contentSecPolicy)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: with no-referrer browsers send
	// "Origin: null" on form posts, and the origin check needs the real one.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	h.Set("Cache-Control", "no-store")
}

func (s *Server) dispatch(ctx *fasthttp.RequestCtx, r *request) {
	method := string(ctx.Method())
	rt, mismatch := s.router.match(ctx, method, string(ctx.Path()))
	if rt == nil {
		if mismatch {
			s.fail(ctx, strings.HasPrefix(string(ctx.Path()), "/api/"), fasthttp.StatusMethodNotAllowed, "method not allowed")
			return
		}
		s.fail(ctx, strings.HasPrefix(string(ctx.Path()), "/api/"), fasthttp.StatusNotFound, "not found")
		return
	}
	r.route = rt
	if rt.need == accessPublic {
		rt.handle(ctx)
		return
	}
	ok, err := s.authenticate(ctx, r)
	if err != nil {
		s.backendError(ctx, "authenticate", err)
		return
	}
	if !ok {
		if rt.api || method != fasthttp.MethodGet {
			s.fail(ctx, rt.api, fasthttp.StatusUnauthorized, "not logged in")
			return
		}
		next := string(ctx.RequestURI())
		redirect(ctx, "/login?next="+url.QueryEscape(next), fasthttp.StatusSeeOther)
		return
	}
	if !safeMethod(method) {
		if reason := s.checkCSRF(ctx, r); reason != "" {
			s.deny(ctx, r, reason)
			return
		}
	}
	if rt.need != accessLoggedIn && !r.principal.Can(rt.need) {
		s.deny(ctx, r, "needs "+string(rt.need))
		return
	}
	rt.handle(ctx)
}

func safeMethod(m string) bool {
	return m == fasthttp.MethodGet || m == fasthttp.MethodHead || m == fasthttp.MethodOptions
}

// authenticate loads the login session of the cookie and the user's
// current permissions. A user the backend no longer knows or allows loses
// every session.
func (s *Server) authenticate(ctx *fasthttp.RequestCtx, r *request) (bool, error) {
	l := s.logins.get(string(ctx.Request.Header.Cookie(sessionCookie)))
	if l == nil {
		return false, nil
	}
	p, err := s.b.Auth.Principal(ctx, l.userID)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrAccountDisabled) {
		s.logins.deleteUser(l.userID)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	r.login, r.principal = l, p
	return true, nil
}

// checkCSRF returns why a state-changing request is refused, or "". The
// token comes from the form field or, for the JSON API, the header; a
// request from another origin is refused whatever it carries.
func (s *Server) checkCSRF(ctx *fasthttp.RequestCtx, r *request) string {
	if !sameOrigin(ctx) {
		return "cross-origin request"
	}
	token := ctx.Request.Header.Peek(csrfHeader)
	if len(token) == 0 {
		token = ctx.PostArgs().Peek(csrfField)
	}
	if len(token) == 0 || subtle.ConstantTimeCompare(token, []byte(r.login.csrf)) != 1 {
		return "missing or invalid CSRF token"
	}
	return ""
}

// sameOrigin reports whether the Origin header, when the browser sent one,
// names this server.
func sameOrigin(ctx *fasthttp.RequestCtx) bool {
	origin := string(ctx.Request.Header.Peek("Origin"))
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == string(ctx.Host())
}

// deny answers 403 and reports the refusal as a wui.access.denied event.
func (s *Server) deny(ctx *fasthttp.RequestCtx, r *request, reason string) {
	ev := s.newEvent(ctx, "wui.access.denied", event.LevelWarning,
		fmt.Sprintf("User %s denied %s %s: %s", r.principal.Name, ctx.Method(), ctx.Path(), reason))
	ev.Result, ev.Reason = "denied", reason
	ev.Extra = map[string]string{"method": string(ctx.Method()), "path": string(ctx.Path())}
	s.note(ctx, ev)
	api := r.route != nil && r.route.api
	s.fail(ctx, api, fasthttp.StatusForbidden, "forbidden: "+reason)
}

// backendError answers 503 for a backend that failed and logs why; the
// browser learns nothing of the internals.
func (s *Server) backendError(ctx *fasthttp.RequestCtx, what string, err error) {
	s.cfg.Logger.Error("wui: backend", "op", what, "path", string(ctx.Path()), "err", err)
	api := reqOf(ctx).route != nil && reqOf(ctx).route.api
	s.fail(ctx, api, fasthttp.StatusServiceUnavailable, "the appliance could not "+what+"; see the daemon log")
}

// fail answers an error as JSON or as an error page.
func (s *Server) fail(ctx *fasthttp.RequestCtx, api bool, status int, msg string) {
	if api {
		writeJSON(ctx, status, map[string]string{"error": msg})
		return
	}
	s.render(ctx, status, "error", pageData{Title: fasthttp.StatusMessage(status), Data: errorPage{Status: status, Message: msg}})
}

type errorPage struct {
	Status  int
	Message string
}

// redirect answers 303 See Other with a relative Location, never one built
// from the request's Host header.
func redirect(ctx *fasthttp.RequestCtx, path string, status int) {
	ctx.Response.Header.Set("Location", path)
	ctx.SetStatusCode(status)
}
