package gateway

import (
	"context"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// User is an authenticated gateway user.
type User struct {
	ID     string
	Name   string
	Groups []string
	// RecordSessions is the policy of the user's groups (record_sessions):
	// true means a session must be recorded or must not happen.
	RecordSessions bool
}

// SessionMeta describes a session to a proxy's Recorder. Names in it come
// from users and administrators and may hold anything ('/', "..",
// newlines): a Recorder must sanitise them before building file names from
// them.
type SessionMeta struct {
	SessionID      string
	Protocol       string // "ssh", "vnc"
	Start          time.Time
	User           User
	TargetID       string
	TargetName     string
	TargetFriendly string
	TargetAddr     string // host:port
	ClientAddr     string // ip:port
	ListenerAddr   string // ip:port (the virtual service)
	// RecordInput says whether client input is recorded; what counts as
	// input is the proxy's to say.
	RecordInput bool
}

// Admitter decides whether a session may start. record is the user's
// recording policy. A non-nil error refuses the session; the user is shown
// the error's UserMessage() if it has one, and the admission.denied event
// carries its RefusalReason() if it has one. *admission.Controller
// satisfies it.
type Admitter interface {
	Admit(ctx context.Context, record bool) error
}

// Publisher takes events for the event bus.
type Publisher interface {
	Publish(event.Event) error
}
