package wui

import "github.com/valyala/fasthttp"

const (
	get  = fasthttp.MethodGet
	post = fasthttp.MethodPost
	put  = fasthttp.MethodPut
	del  = fasthttp.MethodDelete
)

// routes is the one route table: every page, asset and API call, and what
// each needs. The middleware enforces need (login, CSRF on writes,
// permission) before a handler runs. API.md documents the /api/v1 rows.
func (s *Server) routes() []route {
	return []route{
		{method: get, pattern: "/static/{path...}", need: accessPublic, handle: s.static.serve},
		{method: get, pattern: "/login", need: accessPublic, handle: s.loginPage},
		{method: post, pattern: "/login", need: accessPublic, handle: s.loginSubmit},
		{method: post, pattern: "/logout", need: accessLoggedIn, handle: s.logout},
		{method: get, pattern: "/", need: accessLoggedIn, handle: s.home},

		{method: get, pattern: "/sessions/history", need: PermSessionsView, handle: s.historyPage},
		{method: get, pattern: "/sessions/live", need: PermSessionsView, handle: s.livePage},
		{method: post, pattern: "/sessions/live/{id}/kill", need: PermSessionsKill, handle: s.liveKill},
		{method: post, pattern: "/sessions/live/kill-all", need: PermSessionsKill, handle: s.liveKillAll},

		{method: get, pattern: "/recordings/{id}", need: PermSessionRecordingsView, handle: s.recordingPage},
		{method: get, pattern: "/recordings/{id}/download", need: PermSessionRecordingsView, handle: s.downloadAll},
		{method: get, pattern: "/recordings/{id}/clips/{segment}/media", need: PermSessionRecordingsView, handle: s.clipMedia},
		{method: get, pattern: "/recordings/{id}/clips/{segment}/download", need: PermSessionRecordingsView, handle: s.clipDownload},
		{method: get, pattern: "/recordings/{id}/clips/{segment}/thumbnail", need: PermSessionRecordingsView, handle: s.clipThumbnail},

		{method: get, pattern: "/logs", need: PermLogsView, handle: s.logsPage},
		{method: get, pattern: "/reports", need: PermReportsView, handle: s.reportsPage},
		{method: get, pattern: "/status", need: PermReportsView, handle: s.statusPage},
		{method: get, pattern: "/settings", need: PermSettingsEdit, handle: s.settingsPage},
		{method: post, pattern: "/settings", need: PermSettingsEdit, handle: s.settingsSubmit},

		{method: get, pattern: "/access/users", need: PermUsersAdmin, handle: s.usersPage},
		{method: get, pattern: "/access/users/new", need: PermUsersAdmin, handle: s.userForm},
		{method: post, pattern: "/access/users/new", need: PermUsersAdmin, handle: s.userSubmit},
		{method: get, pattern: "/access/users/{id}", need: PermUsersAdmin, handle: s.userForm},
		{method: post, pattern: "/access/users/{id}", need: PermUsersAdmin, handle: s.userSubmit},
		{method: post, pattern: "/access/users/{id}/unlock", need: PermUsersAdmin, handle: s.userUnlock},
		{method: post, pattern: "/access/users/{id}/delete", need: PermUsersAdmin, handle: s.userDelete},
		{method: get, pattern: "/access/groups", need: PermUsersAdmin, handle: s.groupsPage},
		{method: get, pattern: "/access/groups/new", need: PermUsersAdmin, handle: s.groupForm},
		{method: post, pattern: "/access/groups/new", need: PermUsersAdmin, handle: s.groupSubmit},
		{method: get, pattern: "/access/groups/{id}", need: PermUsersAdmin, handle: s.groupForm},
		{method: post, pattern: "/access/groups/{id}", need: PermUsersAdmin, handle: s.groupSubmit},
		{method: post, pattern: "/access/groups/{id}/delete", need: PermUsersAdmin, handle: s.groupDelete},
		{method: get, pattern: "/access/targets", need: PermUsersAdmin, handle: s.targetsPage},
		{method: get, pattern: "/access/targets/new", need: PermUsersAdmin, handle: s.targetForm},
		{method: post, pattern: "/access/targets/new", need: PermUsersAdmin, handle: s.targetSubmit},
		{method: get, pattern: "/access/targets/{id}", need: PermUsersAdmin, handle: s.targetForm},
		{method: post, pattern: "/access/targets/{id}", need: PermUsersAdmin, handle: s.targetSubmit},
		{method: post, pattern: "/access/targets/{id}/delete", need: PermUsersAdmin, handle: s.targetDelete},

		{method: get, pattern: "/api/v1/me", need: accessLoggedIn, api: true, handle: s.apiMe},
		{method: get, pattern: "/api/v1/sessions", need: PermSessionsView, api: true, handle: s.apiSessions},
		{method: get, pattern: "/api/v1/sessions/{id}", need: PermSessionsView, api: true, handle: s.apiSession},
		{method: get, pattern: "/api/v1/sessions/{id}/clips", need: PermSessionRecordingsView, api: true, handle: s.apiClips},
		{method: get, pattern: "/api/v1/live", need: PermSessionsView, api: true, handle: s.apiLive},
		{method: del, pattern: "/api/v1/live/{id}", need: PermSessionsKill, api: true, handle: s.apiKill},
		{method: post, pattern: "/api/v1/live/kill-all", need: PermSessionsKill, api: true, handle: s.apiKillAll},
		{method: get, pattern: "/api/v1/events", need: PermLogsView, api: true, handle: s.apiEvents},
		{method: get, pattern: "/api/v1/reports", need: PermReportsView, api: true, handle: s.apiReports},
		{method: get, pattern: "/api/v1/status", need: PermReportsView, api: true, handle: s.apiStatus},
		{method: get, pattern: "/api/v1/settings", need: PermSettingsEdit, api: true, handle: s.apiSettings},
		{method: put, pattern: "/api/v1/settings", need: PermSettingsEdit, api: true, handle: s.apiSaveSettings},
		{method: get, pattern: "/api/v1/users", need: PermUsersAdmin, api: true, handle: s.apiUsers},
		{method: post, pattern: "/api/v1/users", need: PermUsersAdmin, api: true, handle: s.apiCreateUser},
		{method: get, pattern: "/api/v1/users/{id}", need: PermUsersAdmin, api: true, handle: s.apiUser},
		{method: put, pattern: "/api/v1/users/{id}", need: PermUsersAdmin, api: true, handle: s.apiUpdateUser},
		{method: del, pattern: "/api/v1/users/{id}", need: PermUsersAdmin, api: true, handle: s.apiDeleteUser},
		{method: post, pattern: "/api/v1/users/{id}/unlock", need: PermUsersAdmin, api: true, handle: s.apiUnlockUser},
		{method: get, pattern: "/api/v1/groups", need: PermUsersAdmin, api: true, handle: s.apiGroups},
		{method: post, pattern: "/api/v1/groups", need: PermUsersAdmin, api: true, handle: s.apiCreateGroup},
		{method: get, pattern: "/api/v1/groups/{id}", need: PermUsersAdmin, api: true, handle: s.apiGroup},
		{method: put, pattern: "/api/v1/groups/{id}", need: PermUsersAdmin, api: true, handle: s.apiUpdateGroup},
		{method: del, pattern: "/api/v1/groups/{id}", need: PermUsersAdmin, api: true, handle: s.apiDeleteGroup},
		{method: get, pattern: "/api/v1/targets", need: PermUsersAdmin, api: true, handle: s.apiTargets},
		{method: post, pattern: "/api/v1/targets", need: PermUsersAdmin, api: true, handle: s.apiCreateTarget},
		{method: get, pattern: "/api/v1/targets/{id}", need: PermUsersAdmin, api: true, handle: s.apiTarget},
		{method: put, pattern: "/api/v1/targets/{id}", need: PermUsersAdmin, api: true, handle: s.apiUpdateTarget},
		{method: del, pattern: "/api/v1/targets/{id}", need: PermUsersAdmin, api: true, handle: s.apiDeleteTarget},
	}
}

// RouteInfo describes one route of the table: for API.md, for tests that
// check every route's permission, and for the daemon's diagnostics.
type RouteInfo struct {
	Method  string
	Pattern string
	// Permission is what the route needs: a permission, "LOGGED_IN" for
	// any logged-in user, or "" for none (the login page, assets).
	Permission Permission
	API        bool
}

// Routes lists the route table.
func (s *Server) Routes() []RouteInfo {
	table := s.routes()
	out := make([]RouteInfo, len(table))
	for i, r := range table {
		out[i] = RouteInfo{Method: r.method, Pattern: r.pattern, Permission: r.need, API: r.api}
	}
	return out
}
