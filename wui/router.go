package wui

import (
	"strings"

	"github.com/valyala/fasthttp"
)

// access is what a route requires: a Permission, or one of the two
// pseudo-permissions below.
const (
	accessPublic   Permission = "" // no login
	accessLoggedIn Permission = "LOGGED_IN"
)

// route is one row of the route table.
type route struct {
	method  string
	pattern string     // literal segments and {name} parameters; a final {name...} takes the rest
	need    Permission // accessPublic, accessLoggedIn or a permission
	api     bool       // JSON errors instead of pages, 401 instead of a redirect
	handle  fasthttp.RequestHandler

	segs []string
}

// router matches a request to a route. The table is small, so a scan over
// the routes of the first path segment is enough.
type router struct {
	byFirst map[string][]*route
}

func newRouter(routes []route) *router {
	r := &router{byFirst: map[string][]*route{}}
	for i := range routes {
		rt := &routes[i]
		rt.segs = strings.Split(strings.Trim(rt.pattern, "/"), "/")
		first := rt.segs[0]
		if strings.HasPrefix(first, "{") {
			panic("wui: route " + rt.pattern + " starts with a parameter")
		}
		for _, other := range r.byFirst[first] {
			if other.method == rt.method && other.pattern == rt.pattern {
				panic("wui: duplicate route " + rt.method + " " + rt.pattern)
			}
		}
		r.byFirst[first] = append(r.byFirst[first], rt)
	}
	return r
}

// match finds the route of method and path and sets its parameters as user
// values on ctx. methodMismatch is true when the path exists with another
// method.
func (r *router) match(ctx *fasthttp.RequestCtx, method, path string) (rt *route, methodMismatch bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, cand := range r.byFirst[segs[0]] {
		params, ok := matchSegs(cand.segs, segs)
		if !ok {
			continue
		}
		if cand.method != method && !(method == fasthttp.MethodHead && cand.method == fasthttp.MethodGet) {
			methodMismatch = true
			continue
		}
		for i := 0; i+1 < len(params); i += 2 {
			ctx.SetUserValue(params[i], params[i+1])
		}
		return cand, false
	}
	return nil, methodMismatch
}

func matchSegs(pattern, segs []string) ([]string, bool) {
	var params []string
	for i, p := range pattern {
		if strings.HasPrefix(p, "{") && strings.HasSuffix(p, "...}") {
			if i >= len(segs) {
				return nil, false
			}
			return append(params, p[1:len(p)-4], strings.Join(segs[i:], "/")), true
		}
		if i >= len(segs) {
			return nil, false
		}
		if strings.HasPrefix(p, "{") {
			if segs[i] == "" {
				return nil, false
			}
			params = append(params, p[1:len(p)-1], segs[i])
			continue
		}
		if p != segs[i] {
			return nil, false
		}
	}
	return params, len(pattern) == len(segs)
}

// param returns a path parameter of the matched route.
func param(ctx *fasthttp.RequestCtx, name string) string {
	s, _ := ctx.UserValue(name).(string)
	return s
}
