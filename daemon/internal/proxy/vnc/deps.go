package vncproxy

import (
	"context"
	"errors"

	proxygw "github.com/vigilgw/vigil/daemon/internal/proxy/gateway"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
)

// User is an authenticated gateway user.
type User = proxygw.User

// Authentication failures. An Authenticator returns one of these (wrapped
// or not); each becomes an account.login.failed_<reason> event. Any other
// error is reported with the reason "error".
var (
	ErrUnknownUser = errors.New("vncproxy: unknown user")
	ErrBadPassword = errors.New("vncproxy: invalid password")
	ErrLocked      = errors.New("vncproxy: account locked")
	ErrDisabled    = errors.New("vncproxy: account disabled")
)

// Authenticator checks gateway users' passwords against the store. It
// must take about as long for an unknown user as for a known one.
type Authenticator interface {
	AuthenticatePassword(ctx context.Context, user string, password []byte) (User, error)
}

// Target is a VNC server users reach through the gateway, with the
// credential the gateway logs in with.
type Target struct {
	ID           string
	Name         string // what users type after ':'; never contains ':'
	FriendlyName string
	Host         string
	Port         int
	// Password is the VncAuth password (only its first 8 bytes count, as
	// in every VNC implementation). Empty: the target must offer the None
	// security type.
	Password string
}

// Targets gives access to VNC targets.
type Targets interface {
	// PermittedTargets lists the VNC targets user may reach. The gateway
	// finds a target by name only among these, so a target the user may
	// not use looks exactly like one that does not exist.
	PermittedTargets(ctx context.Context, user User) ([]Target, error)
}

// SessionMeta describes a session to the Recorder. Names in it come from
// users and administrators and may hold anything ('/', "..", newlines): a
// Recorder must sanitise them before building file names from them.
// Protocol is "vnc". RecordInput says whether key events and client cut
// text are recorded; the capture writer needs no setting of its own for
// it, since the gateway leaves them out itself.
type SessionMeta = proxygw.SessionMeta

// Capture is one session's recording. *capture.Writer satisfies it.
type Capture interface {
	// Write appends one record; see README.md for what the gateway writes.
	// Write must not keep payload after it returns. A Write error ends
	// the session, since it can no longer be recorded.
	Write(kind capture.Kind, channel uint32, payload []byte) error
	// Close seals the capture.
	Close() error
}

var _ Capture = (*capture.Writer)(nil)

// Recorder opens captures.
type Recorder interface {
	// Open creates the capture file. It runs before the gateway connects
	// to the target; an error refuses the session.
	Open(ctx context.Context, meta SessionMeta) (Capture, error)
}

// Admitter decides whether a session may start; see proxygw.Admitter.
// *admission.Controller satisfies it.
type Admitter = proxygw.Admitter

// Publisher takes events for the event bus.
type Publisher = proxygw.Publisher
