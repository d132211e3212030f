package wui_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/vigilgw/vigil/wui"
)

// fixtures are ids the route table's parameters are filled with.
type fixtures struct {
	session, live    string
	user, group, tgt int64
}

func newFixtures(t *testing.T, h *harness) fixtures {
	t.Helper()
	ctx := context.Background()
	sess, clips := h.fake.RecordedSession(wui.RoleCast)
	if len(clips) == 0 {
		t.Fatal("no recorded terminal session in the fake")
	}
	live, _ := h.fake.ListLive(ctx)
	g, err := h.fake.CreateGroup(ctx, wui.GroupInput{Name: "victim-group"})
	if err != nil {
		t.Fatal(err)
	}
	tgt, err := h.fake.CreateTarget(ctx, wui.TargetInput{Name: "victim-target", Protocol: "ssh", Host: "10.9.9.9"})
	if err != nil {
		t.Fatal(err)
	}
	return fixtures{session: sess.ID, live: live[0].ID, user: h.fake.AddUser("victim", "victim-password"), group: g.ID, tgt: tgt.ID}
}

// path fills a route pattern's parameters.
func (f fixtures) path(pattern string) string {
	id := ""
	switch {
	case strings.HasPrefix(pattern, "/recordings/"), strings.HasPrefix(pattern, "/api/v1/sessions/"):
		id = f.session
	case strings.Contains(pattern, "/live/"):
		id = f.live
	case strings.Contains(pattern, "/users/"):
		id = fmt.Sprint(f.user)
	case strings.Contains(pattern, "/groups/"):
		id = fmt.Sprint(f.group)
	case strings.Contains(pattern, "/targets/"):
		id = fmt.Sprint(f.tgt)
	}
	p := strings.ReplaceAll(pattern, "{id}", id)
	p = strings.ReplaceAll(p, "{segment}", "1")
	return strings.ReplaceAll(p, "{path...}", "app.css")
}

// wantPermission is the specification: what each route needs. The test
// fails when the server has a route this table does not name, or names
// another permission for it.
var wantPermission = map[string]wui.Permission{
	"GET /sessions/history":                          wui.PermSessionsView,
	"GET /sessions/live":                             wui.PermSessionsView,
	"POST /sessions/live/{id}/kill":                  wui.PermSessionsKill,
	"POST /sessions/live/kill-all":                   wui.PermSessionsKill,
	"GET /recordings/{id}":                           wui.PermSessionRecordingsView,
	"GET /recordings/{id}/download":                  wui.PermSessionRecordingsView,
	"GET /recordings/{id}/clips/{segment}/media":     wui.PermSessionRecordingsView,
	"GET /recordings/{id}/clips/{segment}/download":  wui.PermSessionRecordingsView,
	"GET /recordings/{id}/clips/{segment}/thumbnail": wui.PermSessionRecordingsView,
	"GET /logs":                        wui.PermLogsView,
	"GET /reports":                     wui.PermReportsView,
	"GET /status":                      wui.PermReportsView,
	"GET /settings":                    wui.PermSettingsEdit,
	"POST /settings":                   wui.PermSettingsEdit,
	"GET /access/users":                wui.PermUsersAdmin,
	"GET /access/users/new":            wui.PermUsersAdmin,
	"POST /access/users/new":           wui.PermUsersAdmin,
	"GET /access/users/{id}":           wui.PermUsersAdmin,
	"POST /access/users/{id}":          wui.PermUsersAdmin,
	"POST /access/users/{id}/unlock":   wui.PermUsersAdmin,
	"POST /access/users/{id}/delete":   wui.PermUsersAdmin,
	"GET /access/groups":               wui.PermUsersAdmin,
	"GET /access/groups/new":           wui.PermUsersAdmin,
	"POST /access/groups/new":          wui.PermUsersAdmin,
	"GET /access/groups/{id}":          wui.PermUsersAdmin,
	"POST /access/groups/{id}":         wui.PermUsersAdmin,
	"POST /access/groups/{id}/delete":  wui.PermUsersAdmin,
	"GET /access/targets":              wui.PermUsersAdmin,
	"GET /access/targets/new":          wui.PermUsersAdmin,
	"POST /access/targets/new":         wui.PermUsersAdmin,
	"GET /access/targets/{id}":         wui.PermUsersAdmin,
	"POST /access/targets/{id}":        wui.PermUsersAdmin,
	"POST /access/targets/{id}/delete": wui.PermUsersAdmin,
	"GET /api/v1/sessions":             wui.PermSessionsView,
	"GET /api/v1/sessions/{id}":        wui.PermSessionsView,
	"GET /api/v1/sessions/{id}/clips":  wui.PermSessionRecordingsView,
	"GET /api/v1/live":                 wui.PermSessionsView,
	"DELETE /api/v1/live/{id}":         wui.PermSessionsKill,
	"POST /api/v1/live/kill-all":       wui.PermSessionsKill,
	"GET /api/v1/events":               wui.PermLogsView,
	"GET /api/v1/reports":              wui.PermReportsView,
	"GET /api/v1/status":               wui.PermReportsView,
	"GET /api/v1/settings":             wui.PermSettingsEdit,
	"PUT /api/v1/settings":             wui.PermSettingsEdit,
	"GET /api/v1/users":                wui.PermUsersAdmin,
	"POST /api/v1/users":               wui.PermUsersAdmin,
	"GET /api/v1/users/{id}":           wui.PermUsersAdmin,
	"PUT /api/v1/users/{id}":           wui.PermUsersAdmin,
	"DELETE /api/v1/users/{id}":        wui.PermUsersAdmin,
	"POST /api/v1/users/{id}/unlock":   wui.PermUsersAdmin,
	"GET /api/v1/groups":               wui.PermUsersAdmin,
	"POST /api/v1/groups":              wui.PermUsersAdmin,
	"GET /api/v1/groups/{id}":          wui.PermUsersAdmin,
	"PUT /api/v1/groups/{id}":          wui.PermUsersAdmin,
	"DELETE /api/v1/groups/{id}":       wui.PermUsersAdmin,
	"GET /api/v1/targets":              wui.PermUsersAdmin,
	"POST /api/v1/targets":             wui.PermUsersAdmin,
	"GET /api/v1/targets/{id}":         wui.PermUsersAdmin,
	"PUT /api/v1/targets/{id}":         wui.PermUsersAdmin,
	"DELETE /api/v1/targets/{id}":      wui.PermUsersAdmin,
	"GET /api/v1/me":                   "LOGGED_IN",
	"POST /logout":                     "LOGGED_IN",
	"GET /":                            "LOGGED_IN",
	"GET /login":                       "",
	"POST /login":                      "",
	"GET /static/{path...}":            "",
}

func allBut(p wui.Permission) []wui.Permission {
	var out []wui.Permission
	for _, q := range wui.AllPermissions() {
		if q != p {
			out = append(out, q)
		}
	}
	return out
}

// TestEveryRoutePermission checks every route of the table: without its
// permission the answer is 403 and a wui.access.denied event; with only
// that permission it is anything but 401 or 403.
func TestEveryRoutePermission(t *testing.T) {
	h := newHarness(t)
	fx := newFixtures(t, h)
	routes := h.srv.Routes()
	seen := map[string]bool{}
	for _, r := range routes {
		key := r.Method + " " + r.Pattern
		seen[key] = true
		want, ok := wantPermission[key]
		if !ok {
			t.Errorf("route %s is not in the test's permission table", key)
			continue
		}
		if r.Permission != want {
			t.Errorf("route %s needs %q, want %q", key, r.Permission, want)
			continue
		}
		if want == "" || want == "LOGGED_IN" {
			continue
		}
		t.Run(key, func(t *testing.T) {
			path := fx.path(r.Pattern)
			denied := h.userWith("no-"+strings.NewReplacer("/", "-", " ", "-", "{", "", "}", "").Replace(key), allBut(want)...)
			before := len(h.fake.Events("wui.access.denied"))
			res := denied.do(req{method: r.Method, path: path, json: jsonBody(r)})
			if res.status != 403 {
				t.Fatalf("without %s: status %d, want 403", want, res.status)
			}
			evs := h.fake.Events("wui.access.denied")
			if len(evs) != before+1 {
				t.Fatalf("without %s: %d access-denied events, want 1", want, len(evs)-before)
			}
			ev := evs[len(evs)-1]
			if ev.Extra["path"] != path || ev.Extra["method"] != r.Method || ev.Component != "wui" || !strings.HasPrefix(ev.UserName, "no-") ||
				!strings.Contains(ev.Message, string(want)) {
				t.Errorf("event: %+v", ev)
			}
			if r.API && !strings.Contains(res.header["Content-Type"], "json") {
				t.Errorf("API refusal is %q, not JSON", res.header["Content-Type"])
			}

			allowed := h.userWith("only-"+strings.NewReplacer("/", "-", " ", "-", "{", "", "}", "").Replace(key), want)
			if got := allowed.do(req{method: r.Method, path: path, json: jsonBody(r)}).status; got == 403 || got == 401 {
				t.Fatalf("with %s: status %d", want, got)
			}
		})
	}
	for key := range wantPermission {
		if !seen[key] {
			t.Errorf("the table names %s, which the server does not route", key)
		}
	}
}

// jsonBody gives the API's writes a JSON body (the refusal must come
// before the body is read, whatever it holds).
func jsonBody(r wui.RouteInfo) any {
	if !r.API || r.Method == "GET" || r.Method == "DELETE" {
		return nil
	}
	return map[string]string{}
}

func TestUnauthenticated(t *testing.T) {
	h := newHarness(t)
	fx := newFixtures(t, h)
	anon := h.anon()
	for _, r := range h.srv.Routes() {
		if r.Permission == "" {
			continue
		}
		res := anon.do(req{method: r.Method, path: fx.path(r.Pattern), noCSRF: true})
		want := 401
		if !r.API && r.Method == "GET" {
			want = 303
		}
		if res.status != want {
			t.Errorf("%s %s without login: %d, want %d", r.Method, r.Pattern, res.status, want)
		}
	}
}
