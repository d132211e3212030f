package event

import "time"

// Levels, named as Python's logging names them (Kasm's JSON logs use these).
const (
	LevelDebug    = "DEBUG"
	LevelInfo     = "INFO"
	LevelWarning  = "WARNING"
	LevelError    = "ERROR"
	LevelCritical = "CRITICAL"
)

// Event is one thing that happened on the appliance: a login, a session, a
// kill, a recording step, a plugin restart. Every field except Time,
// MetricName, Level, Message and Component is optional.
//
// Values are stored as given (they may hold anything a hostile client sent:
// newlines, '|', '=', invalid UTF-8); escaping is each log format's job.
type Event struct {
	// Seq is the event's position in the appliance's event journal, assigned
	// when the event is accepted. It orders events and lets sinks resume.
	Seq uint64 `json:"seq,omitempty"`

	Time       time.Time `json:"time"`
	MetricName string    `json:"metric_name"` // dotted, e.g. session.create
	Level      string    `json:"levelname"`
	Message    string    `json:"message"`
	Component  string    `json:"component"` // e.g. ssh, vnc, wui, pipeline, plugins, core
	Process    string    `json:"process,omitempty"`
	Host       string    `json:"host,omitempty"`
	ServerID   string    `json:"server_id,omitempty"`

	RequestIP   string `json:"request_ip,omitempty"`
	RequestPort string `json:"request_port,omitempty"`
	UserAgent   string `json:"user_agent,omitempty"`
	UserID      string `json:"user_id,omitempty"`
	UserName    string `json:"user_name,omitempty"`
	Domain      string `json:"domain,omitempty"`

	TargetID           string `json:"target_id,omitempty"`
	TargetName         string `json:"target_name,omitempty"`
	TargetFriendlyName string `json:"target_friendly_name,omitempty"`
	VS                 string `json:"vs,omitempty"` // virtual service: listener ip:port
	RS                 string `json:"rs,omitempty"` // real server: target ip:port
	Protocol           string `json:"protocol,omitempty"`
	SessionID          string `json:"session_id,omitempty"`

	Result string `json:"result,omitempty"` // e.g. success, failure, denied
	Reason string `json:"reason,omitempty"`

	// Extra carries fields particular to one metric (duration, bytes, path,
	// size, direction, attempt, ...). Keys are lowercase snake_case.
	Extra map[string]string `json:"extra,omitempty"`
}
