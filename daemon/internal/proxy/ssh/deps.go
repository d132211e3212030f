package sshproxy

import (
	"context"
	"errors"
	"strconv"

	"golang.org/x/crypto/ssh"

	proxygw "github.com/vigilgw/vigil/daemon/internal/proxy/gateway"
)

// User is an authenticated gateway user.
type User = proxygw.User

// Authentication failures. An Authenticator returns one of these (wrapped
// or not); each becomes an account.login.failed_<reason> event. Any other
// error is reported with the reason "error".
var (
	ErrUnknownUser = errors.New("sshproxy: unknown user")
	ErrBadPassword = errors.New("sshproxy: invalid password")
	ErrBadKey      = errors.New("sshproxy: public key not accepted")
	ErrLocked      = errors.New("sshproxy: account locked")
	ErrDisabled    = errors.New("sshproxy: account disabled")
)

// Authenticator checks gateway users against the store. Both methods must
// take about as long for an unknown user as for a known one.
type Authenticator interface {
	AuthenticatePassword(ctx context.Context, user string, password []byte) (User, error)
	// AuthenticatePublicKey says whether key is one of user's keys. The
	// gateway has already checked (or will check) the signature.
	AuthenticatePublicKey(ctx context.Context, user string, key ssh.PublicKey) (User, error)
}

// Target is an SSH server users reach through the gateway, with the
// credential the gateway logs in with.
type Target struct {
	ID           string
	Name         string // what users type after ':'; never contains ':'
	FriendlyName string
	Host         string
	Port         int
	Username     string
	Password     string // used when set
	PrivateKey   []byte // PEM, used when set (before Password)
	// PinnedHostKey is the target's host key as an authorized_keys line,
	// nil until first use pins it.
	PinnedHostKey        []byte
	AllowPortForwarding  bool
	AllowAgentForwarding bool
}

// Targets gives access to targets.
type Targets interface {
	// PermittedTargets lists the targets user may reach, in menu order.
	// The gateway finds a target by name only among these, so a target the
	// user may not use looks exactly like one that does not exist.
	PermittedTargets(ctx context.Context, user User) ([]Target, error)
	// PinHostKey records key (an authorized_keys line) as the target's host
	// key on first use. It should fail if another key was pinned meanwhile.
	PinHostKey(ctx context.Context, targetID string, key []byte) error
}

// Kind is the kind of a capture record. The values and payload encodings
// are those of the capture format (plugins/sdk/capture), so an adapter
// converts a Kind with capture.Kind(k) and passes payloads unchanged.
type Kind uint8

// Record kinds and their payloads:
//
//	KindOutput     target stdout bytes as relayed
//	KindStderr     target stderr (SSH extended data) bytes
//	KindInput      client stdin bytes (only when input recording is on)
//	KindResize     four uvarints: cols, rows, width and height in pixels
//	KindExec       the exec command, as sent
//	KindExitStatus a uvarint, the exit status
//	KindSignal     the signal's name as sent by the client ("INT")
//	KindMeta       a JSON object shaped like the capture format's SessionMeta,
//	               which readers merge in order: the session's facts first,
//	               then per-channel facts under "extra" keys "ch<N>.<fact>"
//	               (type, start, subsystem, pty, env.<NAME>, forward,
//	               exit_signal, exit_core_dumped, exit_message)
//	KindTransfer   JSON {"path","size","direction","protocol","name","complete"}
const (
	KindOutput Kind = iota + 16
	KindStderr
	KindInput
	KindResize
	KindExec
	KindExitStatus
	KindSignal
	KindMeta
	KindTransfer
)

var kindNames = map[Kind]string{
	KindOutput: "output", KindStderr: "stderr", KindInput: "input", KindResize: "resize", KindExec: "exec",
	KindExitStatus: "exit-status", KindSignal: "signal", KindMeta: "meta", KindTransfer: "transfer",
}

func (k Kind) String() string {
	if n, ok := kindNames[k]; ok {
		return n
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// SessionMeta describes a session to the Recorder. Names in it come from
// users and administrators and may hold anything ('/', "..", newlines): a
// Recorder must sanitise them before building file names from them.
// Protocol is "ssh". RecordInput says whether client input is recorded
// (KindInput).
type SessionMeta = proxygw.SessionMeta

// Capture is one session's recording.
type Capture interface {
	// Write appends one record. channel numbers the SSH channels of the
	// connection from 0. Write must not keep payload after it returns: the
	// gateway reuses the buffer. A Write error ends the session, since it
	// can no longer be recorded. Write may block: the session waits.
	Write(kind Kind, channel uint32, payload []byte) error
	// Close seals the capture. The gateway never calls Write and Close
	// concurrently, nor Write from two goroutines at once.
	Close() error
}

// Recorder opens captures.
type Recorder interface {
	// Open creates the capture file. It runs before the gateway connects to
	// the target; an error refuses the session.
	Open(ctx context.Context, meta SessionMeta) (Capture, error)
}

// Admitter decides whether a session may start; see proxygw.Admitter.
// *admission.Controller satisfies it.
type Admitter = proxygw.Admitter

// Publisher takes events for the event bus.
type Publisher = proxygw.Publisher
