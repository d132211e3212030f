package wui_test

import (
	"context"
	"encoding/json"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/vigilgw/vigil/wui"
	"github.com/vigilgw/vigil/wui/wuitest"
)

func TestHistoryPagination(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	next := regexp.MustCompile(`href="(/sessions/history\?[^"]*cursor=[^"]*)" rel="next"`)
	row := regexp.MustCompile(`id="d-([0-9A-Z]+)"`)
	seen := map[string]bool{}
	path := "/sessions/history?limit=25"
	pages := 0
	for path != "" {
		res := s.do(req{path: strings.ReplaceAll(path, "&amp;", "&")})
		if res.status != 200 {
			t.Fatalf("%s: %d", path, res.status)
		}
		for _, m := range row.FindAllStringSubmatch(res.body, -1) {
			if seen[m[1]] {
				t.Fatalf("session %s on two pages", m[1])
			}
			seen[m[1]] = true
		}
		pages++
		path = ""
		if m := next.FindStringSubmatch(res.body); m != nil {
			path = m[1]
		}
	}
	all, _ := h.fake.ListSessions(t.Context(), wui.SessionQuery{Limit: 1000})
	recorded := 0
	for _, s := range all.Sessions {
		if s.Recorded {
			recorded++
		}
	}
	if len(seen) != recorded || pages != (len(all.Sessions)+24)/25 {
		t.Errorf("%d recorded sessions over %d pages, want %d over %d", len(seen), pages, recorded, (len(all.Sessions)+24)/25)
	}
}

// A transcript search pages like the history: the next link keeps the
// search text and the filters, pages are full until the last, and no
// session repeats or goes missing.
func TestHistorySearchPagination(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	next := regexp.MustCompile(`href="(/sessions/history\?[^"]*cursor=[^"]*)" rel="next"`)
	row := regexp.MustCompile(`id="d-([0-9A-Z]+)"`)
	const text = "count(*) from orders;" // characters a query string must escape
	all, err := h.fake.ListSessions(t.Context(), wui.SessionQuery{Text: text, Limit: 1000})
	if err != nil || len(all.Sessions) < 5 {
		t.Fatalf("fixture: %d sessions match, %v", len(all.Sessions), err)
	}
	user := all.Sessions[0].UserName
	for _, filters := range []url.Values{{"q": {text}}, {"q": {text}, "user": {user}}} {
		var want []string
		for _, ss := range all.Sessions {
			if filters.Get("user") == "" || ss.UserName == user {
				want = append(want, ss.ID)
			}
		}
		filters.Set("limit", "2")
		var got []string
		path := "/sessions/history?" + filters.Encode()
		for pages := 1; path != ""; pages++ {
			res := s.do(req{path: path})
			if res.status != 200 {
				t.Fatalf("%s: %d", path, res.status)
			}
			rows := row.FindAllStringSubmatch(res.body, -1)
			for _, m := range rows {
				got = append(got, m[1])
			}
			path = ""
			if m := next.FindStringSubmatch(res.body); m != nil {
				path = html.UnescapeString(m[1])
				u, err := url.Parse(path)
				if err != nil || u.Query().Get("q") != text || u.Query().Get("user") != filters.Get("user") {
					t.Fatalf("page %d: next link %q loses the search", pages, m[1])
				}
				if len(rows) != 2 {
					t.Fatalf("page %d: %d sessions before the last page", pages, len(rows))
				}
			}
			if pages > len(want) {
				t.Fatalf("%v: more pages than sessions", filters)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%v: got %v, want %v", filters, got, want)
		}
	}
	res := s.do(req{path: "/sessions/history?q=uptime&cursor=not-a-cursor"})
	if res.status != 400 || !strings.Contains(res.body, "This page link is not valid") || !strings.Contains(res.body, "First page") {
		t.Errorf("bad cursor: %d", res.status)
	}
}

func TestHistoryFiltersAndSearch(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	tests := []struct {
		query   string
		status  int
		want    []string
		notWant []string
	}{
		{"user=carol", 200, []string{"carol"}, []string{">bob<"}},
		{"protocol=vnc", 200, []string{"Plant HMI panel"}, []string{"Orders database"}},
		{"q=systemctl", 200, []string{"<mark>systemctl</mark>", "&amp;t="}, nil},
		{"q=no-such-text-anywhere", 200, []string{"No sessions match"}, nil},
		{"from=yesterday", 400, []string{"The start date is not a date."}, nil},
		{"protocol=telnet", 400, []string{"Unknown protocol."}, nil},
	}
	for _, tt := range tests {
		res := s.do(req{path: "/sessions/history?" + tt.query})
		if res.status != tt.status {
			t.Errorf("%s: status %d, want %d", tt.query, res.status, tt.status)
		}
		contains(t, tt.query, res.body, tt.want...)
		for _, nw := range tt.notWant {
			if strings.Contains(res.body, nw) {
				t.Errorf("%s: page contains %q", tt.query, nw)
			}
		}
	}
	// Without SESSION_RECORDINGS_VIEW, rows do not expand to View and Download all.
	viewer := h.userWith("viewer", wui.PermSessionsView)
	body := viewer.do(req{path: "/sessions/history"}).body
	if strings.Contains(body, "Download all") || strings.Contains(body, "expander") {
		t.Errorf("recording options shown without SESSION_RECORDINGS_VIEW")
	}
}

func TestRecordingPageStartsAtHit(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	sess, clips := h.fake.RecordedSession(wui.RoleCast)
	body := s.do(req{path: "/recordings/" + sess.ID + "?clip=" + "1&t=12.5"}).body
	contains(t, "recording", body, `data-start="12.5"`, "asciinema-player.min.js", "asciinema-player.css", "Download all", "Clip 1",
		"/recordings/"+sess.ID+"/clips/1/download")
	if len(clips) > 1 {
		contains(t, "recording", body, "Clip 2")
	}
	video, _ := h.fake.RecordedSession(wui.RoleVideo)
	contains(t, "video recording", s.do(req{path: "/recordings/" + video.ID}).body, "<video", `preload="none"`, "/thumbnail")
	if res := s.do(req{path: "/recordings/NOSUCHSESSION"}); res.status != 404 {
		t.Errorf("unknown session: %d", res.status)
	}
	if n := len(h.events("recording.play")); n != 0 {
		t.Errorf("opening the page logged %d plays; only playing should", n)
	}
}

func TestLiveKill(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	live, _ := h.fake.ListLive(t.Context())
	res := s.do(req{method: "POST", path: "/sessions/live/" + live[0].ID + "/kill"})
	if res.status != 303 {
		t.Fatalf("kill: %d", res.status)
	}
	kills := h.events("session.kill")
	if len(kills) != 1 || kills[0].SessionID != live[0].ID || !strings.Contains(kills[0].Message, "killed by "+wuitest.AdminName) {
		t.Fatalf("kill events: %+v", kills)
	}
	if res := s.do(req{method: "POST", path: "/sessions/live/" + live[0].ID + "/kill"}); res.status != 404 {
		t.Errorf("killing it again: %d", res.status)
	}
	res = s.do(req{method: "POST", path: "/sessions/live/kill-all", form: url.Values{"user": {"bob"}}})
	if res.status != 303 || res.header["Location"] != "/sessions/live?killed=2" {
		t.Fatalf("kill all of bob: %d %q", res.status, res.header["Location"])
	}
	left, _ := h.fake.ListLive(t.Context())
	for _, l := range left {
		if l.UserName == "bob" {
			t.Errorf("bob still has %s", l.ID)
		}
	}
	res = s.do(req{method: "POST", path: "/api/v1/live/kill-all", json: map[string]string{}})
	if res.status != 200 || !strings.Contains(res.body, `"killed":2`) {
		t.Errorf("API kill all: %d %s", res.status, res.body)
	}
	// Without SESSIONS_KILL the page has no kill buttons.
	viewer := h.userWith("watcher", wui.PermSessionsView)
	if body := viewer.do(req{path: "/sessions/live"}).body; strings.Contains(body, "Kill") {
		t.Errorf("kill buttons shown without SESSIONS_KILL")
	}
}

func TestLogsDashboard(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	tests := []struct {
		query string
		check func(evs []map[string]any) bool
	}{
		{"text=destroyed&minutes=3000", func(evs []map[string]any) bool {
			for _, e := range evs {
				if !strings.Contains(e["message"].(string), "destroyed") {
					return false
				}
			}
			return len(evs) > 0
		}},
		{"level=WARNING&minutes=3000", func(evs []map[string]any) bool {
			for _, e := range evs {
				if e["levelname"] == "INFO" || e["levelname"] == "DEBUG" {
					return false
				}
			}
			return len(evs) > 0
		}},
		{"limit=5&level=DEBUG", func(evs []map[string]any) bool { return len(evs) == 5 }},
		{"component=pipeline&username=alice&minutes=3000", func(evs []map[string]any) bool {
			for _, e := range evs {
				if e["component"] != "pipeline" || e["user_name"] != "alice" {
					return false
				}
			}
			return len(evs) > 0
		}},
		{"start=2025-11-23T13:00&end=2025-11-23T13:30&level=DEBUG", func(evs []map[string]any) bool {
			for _, e := range evs {
				if tm := e["time"].(string); tm < "2025-11-23T13:00" || tm >= "2025-11-23T13:30" {
					return false
				}
			}
			return len(evs) > 0
		}},
	}
	for _, tt := range tests {
		res := s.do(req{path: "/api/v1/events?" + tt.query})
		var out struct {
			Events []map[string]any `json:"events"`
		}
		if err := json.Unmarshal([]byte(res.body), &out); err != nil || res.status != 200 || !tt.check(out.Events) {
			t.Errorf("%s: %d %v, %d events fail the check", tt.query, res.status, err, len(out.Events))
		}
		if page := s.do(req{path: "/logs?" + tt.query}); page.status != 200 {
			t.Errorf("/logs?%s: %d", tt.query, page.status)
		}
	}
	contains(t, "more filters open", s.do(req{path: "/logs?host=vigil-gw1"}).body, `<details class="more" open>`)
}

func TestReportsRefresh(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	tests := []struct {
		query   string
		refresh string // "" when the page must not refresh itself
	}{
		{"", ""},
		{"period=day&refresh=60", ""},
		{"period=week", ""},
		{"period=realtime", `<meta http-equiv="refresh" content="300">`},
		{"period=custom&start=2025-11-20&end=2025-11-22&refresh=60", `<meta http-equiv="refresh" content="60">`},
		{"period=custom&start=2025-11-20&refresh=0", ""},
	}
	for _, tt := range tests {
		body := s.do(req{path: "/reports?" + tt.query}).body
		has := strings.Contains(body, `http-equiv="refresh"`)
		if tt.refresh == "" && has || tt.refresh != "" && !strings.Contains(body, tt.refresh) {
			t.Errorf("%q: refresh wrong", tt.query)
		}
		if strings.Count(body, "<svg") != 6 || !strings.Contains(body, "<polyline") {
			t.Errorf("%q: %d charts", tt.query, strings.Count(body, "<svg"))
		}
	}
	if res := s.do(req{path: "/reports?period=custom&start=2025-11-22&end=2025-11-20"}); res.status != 400 {
		t.Errorf("inverted custom range: %d", res.status)
	}
}

func TestSettingsSecretsAndErrors(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	secret := h.fake.SecretSetting("recording.storage_secret")
	page := s.do(req{path: "/settings"}).body
	if strings.Contains(page, secret) || strings.Contains(s.do(req{path: "/api/v1/settings"}).body, secret) {
		t.Fatal("the stored secret was shown")
	}
	contains(t, "settings", page, "Object storage secret", "stored (hidden)", "Queue length", "Minimum free space", "Sinks", "[[log.sink]]")

	res := s.do(req{method: "POST", path: "/settings", form: url.Values{"recording.bitrate": {"fast"}, "recording.framerate": {"25"},
		"recording.storage_secret": {"new-secret-1"}}})
	if res.status != 400 || !strings.Contains(res.body, "must be a positive whole number") || !strings.Contains(res.body, `value="fast"`) {
		t.Fatalf("invalid bitrate: %d", res.status)
	}
	if strings.Contains(res.body, "new-secret-1") {
		t.Error("the typed secret came back in the page")
	}
	if h.fake.SecretSetting("recording.storage_secret") != secret {
		t.Error("a refused save changed the secret")
	}

	res = s.do(req{method: "POST", path: "/settings", form: url.Values{"recording.bitrate": {"2000"}, "recording.storage_secret": {"new-secret-1"}}})
	if res.status != 303 || h.fake.SecretSetting("recording.storage_secret") != "new-secret-1" {
		t.Fatalf("save: %d", res.status)
	}
	ev := h.events("settings.update")
	if len(ev) != 1 || ev[0].Extra["keys"] != "recording.bitrate,recording.storage_secret" || strings.Contains(ev[0].Message, "new-secret-1") {
		t.Errorf("settings event: %+v", ev)
	}
	// Saving the form untouched changes nothing, the secret included, and
	// the sinks' text though the browser sends its lines as CRLF.
	var sinks string
	all, _ := h.fake.Settings(context.Background())
	for _, st := range all {
		if st.Key == wui.SinksKey {
			sinks = st.Value
		}
	}
	if !strings.HasPrefix(sinks, "[[log.sink]]") {
		t.Fatalf("the fake's sinks: %q", sinks)
	}
	s.do(req{method: "POST", path: "/settings", form: url.Values{"recording.bitrate": {"2000"}, "recording.storage_secret": {""},
		wui.SinksKey: {strings.ReplaceAll(sinks, "\n", "\r\n") + "\r\n"}}})
	if h.fake.SecretSetting("recording.storage_secret") != "new-secret-1" || len(h.events("settings.update")) != 1 {
		t.Error("an untouched form changed something")
	}
	res = s.do(req{method: "PUT", path: "/api/v1/settings", json: map[string]string{"recording.framerate": "0"}})
	if res.status != 400 || !strings.Contains(res.body, `"recording.framerate"`) {
		t.Errorf("API invalid: %d %s", res.status, res.body)
	}
}

func TestTargetCredentialWriteOnly(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	const secret = "hunter2-target-password"
	res := s.do(req{method: "POST", path: "/access/targets/new", form: url.Values{"name": {"db9"}, "protocol": {"ssh"}, "host": {"10.1.1.9"},
		"port": {"22"}, "username": {"root"}, "credential_kind": {"password"}, "credential_secret": {secret}}})
	if res.status != 303 {
		t.Fatalf("create target: %d %s", res.status, res.body)
	}
	targets, _ := h.fake.ListTargets(t.Context())
	var id int64
	for _, tg := range targets {
		if tg.Name == "db9" {
			id = tg.ID
		}
	}
	if h.fake.TargetSecret(id) != secret {
		t.Fatal("secret not stored")
	}
	for _, path := range []string{"/access/targets", "/access/targets/" + itoa(id), "/api/v1/targets", "/api/v1/targets/" + itoa(id)} {
		if body := s.do(req{path: path}).body; strings.Contains(body, secret) {
			t.Errorf("%s shows the credential", path)
		}
	}
	// Saving without typing a secret keeps it.
	s.do(req{method: "POST", path: "/access/targets/" + itoa(id), form: url.Values{"name": {"db9"}, "protocol": {"ssh"}, "host": {"10.1.1.10"},
		"credential_kind": {"password"}}})
	if h.fake.TargetSecret(id) != secret {
		t.Error("an edit without a secret dropped the credential")
	}
	res = s.do(req{method: "POST", path: "/access/targets/new", form: url.Values{"name": {"bad name!"}, "protocol": {"ssh"}, "host": {""}, "port": {"99999"}}})
	if res.status != 400 || !strings.Contains(res.body, "a port is a number") {
		t.Errorf("invalid target: %d", res.status)
	}
	if n := len(h.events("access.target.create")); n != 1 {
		t.Errorf("%d target events", n)
	}
}

func TestUserAndGroupAdmin(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	res := s.do(req{method: "POST", path: "/access/groups/new", form: url.Values{"name": {"night-shift"}, "permissions": {"SESSIONS_VIEW", "LOGS_VIEW", "BOGUS"}}})
	if res.status != 303 {
		t.Fatalf("group: %d", res.status)
	}
	groups, _ := h.fake.ListGroups(t.Context())
	var g wui.Group
	for _, x := range groups {
		if x.Name == "night-shift" {
			g = x
		}
	}
	if len(g.Permissions) != 2 || g.RecordSessions {
		t.Fatalf("group saved as %+v", g)
	}
	res = s.do(req{method: "POST", path: "/access/users/new", form: url.Values{"name": {"nina"}, "password": {"short"}, "groups": {itoa(g.ID)}}})
	if res.status != 400 || !strings.Contains(res.body, "at least 8 characters") {
		t.Fatalf("short password: %d", res.status)
	}
	res = s.do(req{method: "POST", path: "/access/users/new", form: url.Values{"name": {"nina"}, "password": {"long-enough-pw"}, "groups": {itoa(g.ID)}}})
	if res.status != 303 {
		t.Fatalf("user: %d", res.status)
	}
	nina := h.login("nina", "long-enough-pw")
	if nina.do(req{path: "/logs"}).status != 200 || nina.do(req{path: "/settings"}).status != 403 {
		t.Error("nina's permissions are not her group's")
	}
	if n := len(h.events("access.user.create")) + len(h.events("access.group.create")); n != 2 {
		t.Errorf("%d admin events", n)
	}
}

func TestStaticAssets(t *testing.T) {
	h := newHarness(t)
	s := h.anon()
	res := s.do(req{path: "/static/vendor/asciinema-player/asciinema-player.min.js", headers: map[string]string{"Accept-Encoding": "gzip"}})
	if res.status != 200 || res.header["Content-Encoding"] != "gzip" || !strings.HasPrefix(res.header["Content-Type"], "text/javascript") {
		t.Fatalf("player: %d %v", res.status, res.header)
	}
	etag := res.header["Etag"]
	if etag == "" {
		etag = res.header["ETag"]
	}
	if got := s.do(req{path: "/static/app.css", headers: map[string]string{"If-None-Match": etag}}).status; got != 200 {
		t.Errorf("another file's ETag matched: %d", got)
	}
	if got := s.do(req{path: "/static/vendor/asciinema-player/asciinema-player.min.js", headers: map[string]string{"If-None-Match": etag}}).status; got != 304 {
		t.Errorf("revalidation: %d", got)
	}
	if got := s.do(req{path: "/static/../backend.go"}).status; got != 404 {
		t.Errorf("path escape: %d", got)
	}
}

func TestAPIWrites(t *testing.T) {
	h := newHarness(t)
	s := h.login(wuitest.AdminName, wuitest.AdminPassword)
	res := s.do(req{method: "POST", path: "/api/v1/users", json: map[string]any{"name": "api-user", "password": "api-password-1"}})
	if res.status != 201 || !strings.Contains(res.body, `"name":"api-user"`) || strings.Contains(res.body, "api-password-1") {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	res = s.do(req{method: "POST", path: "/api/v1/users", json: map[string]any{"name": "x", "pasword": "typo"}})
	if res.status != 400 {
		t.Errorf("unknown field: %d", res.status)
	}
	res = s.do(req{method: "POST", path: "/api/v1/users", json: map[string]any{"name": "api-user", "password": "api-password-1"}})
	if res.status != 400 || !strings.Contains(res.body, `"fields":{"name"`) {
		t.Errorf("duplicate: %d %s", res.status, res.body)
	}
	if res := s.do(req{path: "/api/v1/sessions?limit=3"}); !strings.Contains(res.body, `"next":"`) {
		t.Errorf("sessions page: %s", res.body)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
