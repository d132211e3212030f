package wuitest

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// BatchSize is how many requests one benchmark iteration makes, so that
// percentiles mean something even at -benchtime 1x.
const BatchSize = 100

var benchAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}

// serve runs one request through h without a network.
func serve(h fasthttp.RequestHandler, method, path, cookie string, form url.Values) *fasthttp.RequestCtx {
	var rq fasthttp.Request
	rq.Header.SetMethod(method)
	rq.SetRequestURI(path)
	rq.Header.SetHost("vigil.bench")
	if cookie != "" {
		rq.Header.Set("Cookie", cookie)
	}
	if form != nil {
		rq.Header.SetContentType("application/x-www-form-urlencoded")
		rq.SetBodyString(form.Encode())
	}
	ctx := new(fasthttp.RequestCtx)
	ctx.Init(&rq, benchAddr, nil)
	h(ctx)
	return ctx
}

var loginToken = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// LoginCookie logs in through the handler's login form and returns the
// Cookie header of the session, for benchmarks of pages behind the login.
func LoginCookie(h fasthttp.RequestHandler, name, password string) (string, error) {
	page := serve(h, "GET", "/login", "", nil)
	m := loginToken.FindSubmatch(page.Response.Body())
	var pre []byte
	for k, v := range page.Response.Header.Cookies() {
		if string(k) == "__Host-vigil_login" {
			c := fasthttp.AcquireCookie()
			c.ParseBytes(v)
			pre = append(pre, c.Value()...)
			fasthttp.ReleaseCookie(c)
		}
	}
	if m == nil || pre == nil {
		return "", fmt.Errorf("wuitest: no login form")
	}
	res := serve(h, "POST", "/login", "__Host-vigil_login="+string(pre), url.Values{"name": {name}, "password": {password}, "csrf_token": {string(m[1])}})
	for k, v := range res.Response.Header.Cookies() {
		if string(k) == "__Host-vigil_session" {
			c := fasthttp.AcquireCookie()
			defer fasthttp.ReleaseCookie(c)
			c.ParseBytes(v)
			return "__Host-vigil_session=" + string(c.Value()), nil
		}
	}
	return "", fmt.Errorf("wuitest: login as %s failed: %d", name, res.Response.StatusCode())
}

// PageLatency benchmarks GET path through h in batches of BatchSize and
// reports the p50 and p99 of single requests, in microseconds.
func PageLatency(b *testing.B, h fasthttp.RequestHandler, cookie, path string) {
	b.Helper()
	if got := serve(h, "GET", path, cookie, nil).Response.StatusCode(); got != 200 {
		b.Fatalf("GET %s: status %d", path, got)
	}
	Latency(b, func() error {
		if code := serve(h, "GET", path, cookie, nil).Response.StatusCode(); code != 200 {
			return fmt.Errorf("GET %s: status %d", path, code)
		}
		return nil
	})
}

// Latency benchmarks call in batches of BatchSize and reports the p50 and
// p99 of single calls, in microseconds.
func Latency(b *testing.B, call func() error) {
	b.Helper()
	lat := make([]time.Duration, 0, b.N*BatchSize)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for range BatchSize {
			t0 := time.Now()
			if err := call(); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50_us")
	b.ReportMetric(float64(lat[(len(lat)*99)/100].Nanoseconds())/1e3, "p99_us")
}
