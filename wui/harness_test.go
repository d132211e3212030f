package wui_test

import (
	"context"
	"encoding/json"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
	"github.com/vigilgw/vigil/wui"
	"github.com/vigilgw/vigil/wui/wuitest"
)

// harness runs the real WUI on the fake backend over fasthttp's in-memory
// listener.
type harness struct {
	t      *testing.T
	fake   *wuitest.Fake
	srv    *wui.Server
	client *fasthttp.Client
	access *sdktest.SyncBuffer
	seeded uint64 // Seq of the last seeded event

	mu  sync.Mutex
	now time.Time
}

func newHarness(t *testing.T, mutate ...func(*wui.Config)) *harness {
	t.Helper()
	h := &harness{t: t, access: &sdktest.SyncBuffer{}, now: time.Date(2025, 11, 23, 14, 0, 0, 0, time.UTC)}
	h.fake = wuitest.New(wuitest.Options{Now: h.clock, Sessions: 60})
	if evs := h.fake.Events(""); len(evs) > 0 {
		h.seeded = evs[len(evs)-1].Seq
	}
	cfg := wui.Config{InsecureHTTP: true, Version: "1.2.3-test", AccessLog: h.access, Now: h.clock, Hostname: "test-host"}
	for _, m := range mutate {
		m(&cfg)
	}
	srv, err := wui.New(cfg, h.fake.Backend())
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	ln := fasthttputil.NewInmemoryListener()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		if err := <-served; err != nil {
			t.Error(err)
		}
	})
	h.client = &fasthttp.Client{Dial: func(string) (net.Conn, error) { return ln.Dial() }}
	return h
}

func (h *harness) clock() time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now
}

func (h *harness) advance(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.now = h.now.Add(d)
}

// response is what a request got back.
type response struct {
	status  int
	header  map[string]string
	cookies map[string]string // name -> the whole Set-Cookie value
	body    string
}

// browserSession holds a login's cookies and CSRF token.
type browserSession struct {
	h       *harness
	cookies map[string]string
	csrf    string
}

func (h *harness) anon() *browserSession {
	return &browserSession{h: h, cookies: map[string]string{}}
}

type req struct {
	method  string
	path    string
	form    url.Values
	json    any
	headers map[string]string
	noCSRF  bool
}

// do sends a request with the session's cookies, adding the CSRF token to
// writes unless noCSRF, and keeps the cookies the response sets.
func (s *browserSession) do(r req) response {
	s.h.t.Helper()
	rq := fasthttp.AcquireRequest()
	rs := fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(rq)
	defer fasthttp.ReleaseResponse(rs)
	if r.method == "" {
		r.method = fasthttp.MethodGet
	}
	rq.Header.SetMethod(r.method)
	rq.SetRequestURI("http://vigil.test" + r.path)
	rq.Header.Set("User-Agent", "wui-test")
	for k, v := range s.cookies {
		rq.Header.SetCookie(k, v)
	}
	write := r.method != fasthttp.MethodGet && r.method != fasthttp.MethodHead
	switch {
	case r.json != nil:
		b, _ := json.Marshal(r.json)
		rq.Header.SetContentType("application/json")
		rq.SetBody(b)
		if write && !r.noCSRF {
			rq.Header.Set("X-CSRF-Token", s.csrf)
		}
	case write:
		form := url.Values{}
		for k, v := range r.form {
			form[k] = v
		}
		if !r.noCSRF && form.Get("csrf_token") == "" {
			form.Set("csrf_token", s.csrf)
		}
		rq.Header.SetContentType("application/x-www-form-urlencoded")
		rq.SetBodyString(form.Encode())
	}
	for k, v := range r.headers {
		rq.Header.Set(k, v)
	}
	if err := s.h.client.DoTimeout(rq, rs, 10*time.Second); err != nil {
		s.h.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	out := response{status: rs.StatusCode(), header: map[string]string{}, cookies: map[string]string{}, body: string(rs.Body())}
	for k, v := range rs.Header.All() {
		out.header[string(k)] = string(v)
	}
	for k, v := range rs.Header.Cookies() {
		out.cookies[string(k)] = string(v)
		c := fasthttp.AcquireCookie()
		c.ParseBytes(v)
		if c.Expire().Before(time.Now()) && !c.Expire().Equal(fasthttp.CookieExpireUnlimited) {
			delete(s.cookies, string(k))
		} else {
			s.cookies[string(k)] = string(c.Value())
		}
		fasthttp.ReleaseCookie(c)
	}
	return out
}

var tokenField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// login logs in through the form, as a browser does, and returns the
// session with its CSRF token.
func (h *harness) login(name, password string) *browserSession {
	h.t.Helper()
	s, res := h.tryLogin(name, password)
	if res.status != fasthttp.StatusSeeOther {
		h.t.Fatalf("login %s: status %d: %s", name, res.status, res.body)
	}
	me := s.do(req{path: "/api/v1/me"})
	var m struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.Unmarshal([]byte(me.body), &m); err != nil || m.CSRF == "" {
		h.t.Fatalf("me: %d %s", me.status, me.body)
	}
	s.csrf = m.CSRF
	return s
}

func (h *harness) tryLogin(name, password string) (*browserSession, response) {
	h.t.Helper()
	s := h.anon()
	page := s.do(req{path: "/login"})
	m := tokenField.FindStringSubmatch(page.body)
	if m == nil {
		h.t.Fatalf("login page has no CSRF token: %s", page.body)
	}
	res := s.do(req{method: "POST", path: "/login", form: url.Values{"name": {name}, "password": {password}, "csrf_token": {m[1]}}})
	return s, res
}

// userWith creates a user holding exactly perms and logs in as them.
func (h *harness) userWith(name string, perms ...wui.Permission) *browserSession {
	h.t.Helper()
	h.fake.AddUser(name, "password-"+name, perms...)
	return h.login(name, "password-"+name)
}

func contains(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s: missing %q", what, w)
		}
	}
}

// events returns the events of metric published since the harness
// started (the fake seeds others before).
func (h *harness) events(metric string) []event.Event {
	var out []event.Event
	for _, ev := range h.fake.Events(metric) {
		if ev.Seq > h.seeded {
			out = append(out, ev)
		}
	}
	return out
}

func urlEscape(s string) string { return url.QueryEscape(s) }
