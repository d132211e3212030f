package wui

import (
	"context"
	"io"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Backend is everything the WUI needs from the rest of the appliance, one
// small interface per concern. The daemon fills it with adapters over its
// store, config, event bus, session registry and pipeline; tests use
// wuitest.Backend. Every field is required.
type Backend struct {
	Auth       Auth
	Users      Users
	Groups     Groups
	Targets    Targets
	Sessions   Sessions
	Recordings Recordings
	Live       LiveSessions
	Events     Events
	Reports    Reports
	Settings   Settings
	Status     Status
}

// Auth checks passwords and says what a user may do.
type Auth interface {
	// Login verifies a name and password and applies the lockout policy:
	// a wrong password counts against the account and locks it after too
	// many in a row. The outcome says what happened; the error is only for
	// when the backend could not decide (the WUI then refuses the login).
	Login(ctx context.Context, name, password string) (LoginResult, error)

	// Principal returns the user's current name and permissions. It is
	// called on every request so that a disabled, locked or deleted user, or
	// a permission taken away, takes effect at once. It returns an error
	// wrapping ErrNotFound for a deleted user and ErrAccountDisabled for one
	// that is disabled or locked.
	Principal(ctx context.Context, userID int64) (Principal, error)
}

// LoginOutcome is the result of one login attempt.
type LoginOutcome int

// Login outcomes. Every failure is reported to the browser the same way.
const (
	LoginOK LoginOutcome = iota
	LoginUnknownUser
	LoginBadPassword
	LoginLocked   // the account is locked out; the password was not checked
	LoginDisabled // the account is disabled
)

// LoginResult is what Auth.Login decided.
type LoginResult struct {
	Outcome LoginOutcome `json:"outcome"`
	// Principal is the user; on failures only UserID and Name are set, and
	// only when the account exists.
	Principal Principal `json:"principal"`
	// LockedNow is true when this failure locked the account.
	LockedNow   bool      `json:"locked_now"`
	LockedUntil time.Time `json:"locked_until"`
}

// Permission is a right a group grants its members.
type Permission string

// The permissions the WUI checks.
const (
	PermSessionsView          Permission = "SESSIONS_VIEW"           // session history, live sessions
	PermSessionRecordingsView Permission = "SESSION_RECORDINGS_VIEW" // play and download recordings
	PermSessionsKill          Permission = "SESSIONS_KILL"
	PermLogsView              Permission = "LOGS_VIEW"
	PermReportsView           Permission = "REPORTS_VIEW" // reports and system status
	PermSettingsEdit          Permission = "SETTINGS_EDIT"
	PermUsersAdmin            Permission = "USERS_ADMIN" // users, groups, targets
)

// AllPermissions lists every permission in the order forms show them.
func AllPermissions() []Permission {
	return []Permission{
		PermSessionsView, PermSessionRecordingsView, PermSessionsKill, PermLogsView,
		PermReportsView, PermSettingsEdit, PermUsersAdmin,
	}
}

// Principal is a logged-in user as the WUI sees it.
type Principal struct {
	UserID      int64        `json:"user_id"`
	Name        string       `json:"name"`
	Permissions []Permission `json:"permissions"`
}

// Can reports whether the principal holds perm.
func (p Principal) Can(perm Permission) bool {
	for _, q := range p.Permissions {
		if q == perm {
			return true
		}
	}
	return false
}

// User is a local account as the access-management pages show it. The
// password never leaves the backend.
type User struct {
	ID           int64     `json:"id"`
	Name         string    `json:"name"`
	HasPassword  bool      `json:"has_password"`
	Disabled     bool      `json:"disabled"`
	FailedLogins int       `json:"failed_logins"`
	LockedUntil  time.Time `json:"locked_until"` // zero: not locked
	LastLogin    time.Time `json:"last_login"`   // zero: never
	Created      time.Time `json:"created"`
	Groups       []int64   `json:"groups"`
}

// UserInput creates or changes a user. Password is write-only: "" keeps
// the current one.
type UserInput struct {
	Name     string  `json:"name"`
	Password string  `json:"password"`
	Disabled bool    `json:"disabled"`
	Groups   []int64 `json:"groups"`
}

// Users administers local accounts. Invalid input is a FieldErrors.
type Users interface {
	ListUsers(ctx context.Context) ([]User, error)
	User(ctx context.Context, id int64) (User, error)
	CreateUser(ctx context.Context, in UserInput) (User, error)
	UpdateUser(ctx context.Context, id int64, in UserInput) (User, error)
	UnlockUser(ctx context.Context, id int64) error
	DeleteUser(ctx context.Context, id int64) error
}

// Group grants permissions and the record_sessions policy to its members.
type Group struct {
	ID             int64        `json:"id"`
	Name           string       `json:"name"`
	Permissions    []Permission `json:"permissions"`
	RecordSessions bool         `json:"record_sessions"`
	Members        int          `json:"members"`
}

// GroupInput creates or changes a group.
type GroupInput struct {
	Name           string       `json:"name"`
	Permissions    []Permission `json:"permissions"`
	RecordSessions bool         `json:"record_sessions"`
}

// Groups administers groups. Invalid input is a FieldErrors.
type Groups interface {
	ListGroups(ctx context.Context) ([]Group, error)
	Group(ctx context.Context, id int64) (Group, error)
	CreateGroup(ctx context.Context, in GroupInput) (Group, error)
	UpdateGroup(ctx context.Context, id int64, in GroupInput) (Group, error)
	DeleteGroup(ctx context.Context, id int64) error
}

// Target is a server users reach through the gateway. Its credential is
// write-only: only its kind is ever read back.
type Target struct {
	ID             int64   `json:"id"`
	Name           string  `json:"name"`
	FriendlyName   string  `json:"friendly_name"`
	Protocol       string  `json:"protocol"` // ssh, vnc, rdp
	Host           string  `json:"host"`
	Port           int     `json:"port"`            // 0: the protocol's default
	Username       string  `json:"username"`        // what the gateway logs in to the target as
	CredentialKind string  `json:"credential_kind"` // "password", "private_key", or "" for none
	Groups         []int64 `json:"groups"`
}

// TargetInput creates or changes a target. CredentialSecret is
// write-only: "" keeps the stored credential.
type TargetInput struct {
	Name             string  `json:"name"`
	FriendlyName     string  `json:"friendly_name"`
	Protocol         string  `json:"protocol"`
	Host             string  `json:"host"`
	Port             int     `json:"port"`
	Username         string  `json:"username"`
	CredentialKind   string  `json:"credential_kind"`
	CredentialSecret string  `json:"credential_secret"`
	Groups           []int64 `json:"groups"`
}

// Targets administers targets. Invalid input is a FieldErrors.
type Targets interface {
	ListTargets(ctx context.Context) ([]Target, error)
	Target(ctx context.Context, id int64) (Target, error)
	CreateTarget(ctx context.Context, in TargetInput) (Target, error)
	UpdateTarget(ctx context.Context, id int64, in TargetInput) (Target, error)
	DeleteTarget(ctx context.Context, id int64) error
}

// SessionQuery selects past sessions for the history page. Zero fields
// match everything.
type SessionQuery struct {
	UserName   string    `json:"user_name"`
	TargetName string    `json:"target_name"`
	Protocol   string    `json:"protocol"`
	Since      time.Time `json:"since"` // started at or after
	Until      time.Time `json:"until"` // started before
	// Text searches recorded transcripts: only sessions with a matching
	// line are returned, each with its hits.
	Text   string `json:"text"`
	Cursor string `json:"cursor"` // "" for the first page; SessionPage.Next for the following ones
	Limit  int    `json:"limit"`  // the WUI asks for 1 to 200
}

// SessionPage is one keyset-paginated page of sessions, newest first.
type SessionPage struct {
	Sessions []SessionSummary `json:"sessions"`
	Next     string           `json:"next"` // cursor of the next page; "" after the last
}

// SessionSummary is one session as the history shows it.
type SessionSummary struct {
	ID                 string          `json:"id"`
	UserName           string          `json:"user_name"`
	TargetName         string          `json:"target_name"`
	TargetFriendlyName string          `json:"target_friendly_name"`
	Protocol           string          `json:"protocol"`
	ClientIP           string          `json:"client_ip"`
	StartedAt          time.Time       `json:"started_at"`
	EndedAt            time.Time       `json:"ended_at"` // zero while active
	State              string          `json:"state"`    // active, ended, killed, refused
	BytesIn            int64           `json:"bytes_in"`
	BytesOut           int64           `json:"bytes_out"`
	Recorded           bool            `json:"recorded"`
	RecordingState     string          `json:"recording_state"` // none, recording, sealed, encoding, uploaded, failed, stuck
	SignatureState     string          `json:"signature_state"` // unknown, verified, invalid
	Hits               []TranscriptHit `json:"hits"`
}

// Snippet markers: TranscriptHit.Snippet holds the matched terms between
// SnippetStart and SnippetEnd; the WUI escapes the text and marks them.
const (
	SnippetStart = "\x02"
	SnippetEnd   = "\x03"
)

// TranscriptHit is one transcript line that matched SessionQuery.Text:
// where to start the player.
type TranscriptHit struct {
	Segment  int    `json:"segment"`
	OffsetMS int64  `json:"offset_ms"` // from the start of the segment's clip
	Snippet  string `json:"snippet"`
}

// Sessions is the session history.
type Sessions interface {
	ListSessions(ctx context.Context, q SessionQuery) (SessionPage, error)
	// Session returns one session, or an error wrapping ErrNotFound.
	Session(ctx context.Context, id string) (SessionSummary, error)
}

// ClipRole names one file of a recorded segment.
type ClipRole string

// Clip roles the WUI serves.
const (
	RoleCast      ClipRole = "cast"      // asciicast v2 (terminal sessions)
	RoleVideo     ClipRole = "video"     // MP4 (screen sessions)
	RoleThumbnail ClipRole = "thumbnail" // a still of the clip
)

// Clip is one playable segment of a session's recording.
type Clip struct {
	Segment    int      `json:"segment"` // 1-based
	Role       ClipRole `json:"role"`    // RoleCast or RoleVideo
	Size       int64    `json:"size"`    // bytes of the media file
	DurationMS int64    `json:"duration_ms"`
	// Location is where the media lives (an object URL such as
	// s3://bucket@endpoint/key, or a local spool path before upload). It
	// is named in the play and download audit events.
	Location string `json:"location"`
	// ThumbnailSize is the size of the clip's thumbnail, 0 when there is
	// none; ThumbnailType its content type (image/png, image/jpeg).
	ThumbnailSize int64  `json:"thumbnail_size"`
	ThumbnailType string `json:"thumbnail_type"`
}

// Recordings serves the clips of recorded sessions.
type Recordings interface {
	// Clips lists a session's playable clips by segment; none when nothing
	// is playable yet.
	Clips(ctx context.Context, sessionID string) ([]Clip, error)
	// OpenClip returns length bytes of one file of a clip starting at
	// offset (length -1: to the end), from the spool or the storage
	// plugin, whichever holds it. The WUI validates the range against
	// the clip's size first. An unknown clip is an error wrapping
	// ErrNotFound.
	OpenClip(ctx context.Context, sessionID string, segment int, role ClipRole, offset, length int64) (io.ReadCloser, error)
}

// LiveSession is a session in progress.
type LiveSession struct {
	ID         string    `json:"id"`
	UserName   string    `json:"user_name"`
	TargetName string    `json:"target_name"`
	Protocol   string    `json:"protocol"`
	ClientIP   string    `json:"client_ip"`
	StartedAt  time.Time `json:"started_at"`
	BytesIn    int64     `json:"bytes_in"`
	BytesOut   int64     `json:"bytes_out"`
}

// LiveSessions lists and ends sessions in progress.
type LiveSessions interface {
	ListLive(ctx context.Context) ([]LiveSession, error)
	// Kill ends one session (an error wrapping ErrNotFound when it is not
	// live). The backend emits the session.kill event naming by, the
	// administrator, as it does for kills from vigilctl.
	Kill(ctx context.Context, id, by string) error
	// KillAll ends every live session, or only userName's when it is not
	// "", and returns how many it ended.
	KillAll(ctx context.Context, userName, by string) (int, error)
}

// EventQuery selects events for the logging dashboard. Zero fields match
// everything; string fields match exactly except Text.
type EventQuery struct {
	Level     string    `json:"level"` // minimum level: DEBUG < INFO < WARNING < ERROR < CRITICAL
	Since     time.Time `json:"since"`
	Until     time.Time `json:"until"`
	Component string    `json:"component"`
	Process   string    `json:"process"`
	Host      string    `json:"host"`
	UserName  string    `json:"user_name"`
	Text      string    `json:"text"`  // message contains, case-insensitive
	Limit     int       `json:"limit"` // the WUI asks for 1 to 10000
}

// Events reads the event index and publishes the WUI's own audit events.
type Events interface {
	// QueryEvents returns matching events, newest first.
	QueryEvents(ctx context.Context, q EventQuery) ([]event.Event, error)
	// Publish puts an event on the bus. An audit event (a play, a
	// download) that cannot be published refuses the action it reports.
	Publish(ctx context.Context, ev event.Event) error
}

// Report series keys.
const (
	SeriesLoginsOK           = "logins_ok"
	SeriesLoginsFailed       = "logins_failed"
	SeriesSessionsCreated    = "sessions_created"
	SeriesSessionsDestroyed  = "sessions_destroyed"
	SeriesSessionsConcurrent = "sessions_concurrent" // peak within the bucket
	SeriesRecordingsEncoded  = "recordings_encoded"
	SeriesRecordingsUploaded = "recordings_uploaded"
	SeriesRecordingsFailed   = "recordings_failed"
	SeriesDiskFreeBytes      = "disk_free_bytes"     // lowest within the bucket
	SeriesEncodeSlotsInUse   = "encode_slots_in_use" // highest within the bucket
)

// ReportQuery asks for time series over [Since, Until) in buckets.
type ReportQuery struct {
	Since  time.Time     `json:"since"`
	Until  time.Time     `json:"until"`
	Bucket time.Duration `json:"bucket"`
}

// Report holds one value per bucket for each series it has: bucket i
// covers [Since + i×Bucket, Since + (i+1)×Bucket). A missing key is drawn
// as "no data".
type Report struct {
	Since  time.Time            `json:"since"`
	Bucket time.Duration        `json:"bucket"`
	Series map[string][]float64 `json:"series"`
}

// Reports computes the report charts.
type Reports interface {
	Report(ctx context.Context, q ReportQuery) (Report, error)
}

// Setting is one effective configuration value.
type Setting struct {
	Key    string `json:"key"`    // dotted TOML path, e.g. recording.bitrate
	Value  string `json:"value"`  // "" for a secret
	Secret bool   `json:"secret"` // write-only: the value is never read back
	IsSet  bool   `json:"is_set"` // for a secret: whether one is stored
	Origin string `json:"origin"` // default, vigil.toml, settings.toml
}

// Settings reads and changes the values administrators may edit.
type Settings interface {
	// Settings returns every editable setting with secrets masked.
	Settings(ctx context.Context) ([]Setting, error)
	// SaveSettings validates and applies changes (key -> new value) all or
	// nothing; invalid values are a FieldErrors keyed by setting key.
	SaveSettings(ctx context.Context, changes map[string]string, by string) error
}

// StatusInfo is the appliance's health at one moment.
type StatusInfo struct {
	Version    string         `json:"version"`
	StartedAt  time.Time      `json:"started_at"`
	Hostname   string         `json:"hostname"`
	CPUs       int            `json:"cpus"`
	CPUPercent float64        `json:"cpu_percent"`
	MemTotal   uint64         `json:"mem_total"`
	MemUsed    uint64         `json:"mem_used"`
	Disks      []DiskUsage    `json:"disks"`
	Plugins    []PluginHealth `json:"plugins"`
	Queues     []QueueDepth   `json:"queues"`
}

// DiskUsage is one filesystem the appliance writes to.
type DiskUsage struct {
	Name  string `json:"name"` // what it holds: spool, state, logs
	Path  string `json:"path"`
	Total uint64 `json:"total"`
	Free  uint64 `json:"free"`
}

// PluginHealth is one plugin process.
type PluginHealth struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"` // recorder, storage, logformat
	Version  string `json:"version"`
	Healthy  bool   `json:"healthy"`
	Detail   string `json:"detail"` // why it is unhealthy, or ""
	Restarts int    `json:"restarts"`
}

// QueueDepth is one work queue.
type QueueDepth struct {
	Name     string `json:"name"` // encode, upload, events
	Waiting  int    `json:"waiting"`
	Running  int    `json:"running"`
	Capacity int    `json:"capacity"` // slots; 0 when unbounded
}

// Status reports the appliance's health.
type Status interface {
	Status(ctx context.Context) (StatusInfo, error)
}
