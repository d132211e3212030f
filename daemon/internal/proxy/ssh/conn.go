package sshproxy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vigilgw/vigil/daemon/internal/loginname"
	"github.com/vigilgw/vigil/daemon/internal/sessions"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Why a session ended: the reason of session.destroy.
const (
	reasonNormal          = "normal"
	reasonKilled          = "killed"
	reasonIdle            = "idle_timeout"
	reasonTargetClosed    = "target_closed"
	reasonRecordingFailed = "recording_failed"
	reasonShutdown        = "server_shutdown"
)

// Reasons of admission.denied besides the Admitter's own.
const (
	denyTargetNotPermitted = "target_not_permitted"
	denyNoTarget           = "no_target"
	denyTargetsUnavailable = "targets_unavailable"
	denyCaptureFailed      = "capture_failed"
	denyAdmissionError     = "admission_error"
)

// refusalGrace is how long a refused connection stays open for the client
// to read the refusal and disconnect by itself.
const refusalGrace = 5 * time.Second

// userKey and methodKey key the authenticated User and the method that
// authenticated it in ssh.Permissions.ExtraData.
type (
	userKey   struct{}
	methodKey struct{}
)

// gwConn is one client connection and, once set up, its session: the
// connection to the target, the capture and the registry entry.
type gwConn struct {
	srv    *Server
	cfg    *Config
	nc     net.Conn
	id     string
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger

	// recordFailed is set once the capture could not be written: from then
	// on the pumps relay nothing more, so no output goes unrecorded while
	// the client is told why its session ends.
	recordFailed atomic.Bool

	clientIP, clientPort, listenerAddr string

	// Authentication (only the handshake goroutine touches these).
	lastFail *authFailure

	// Set once the handshake succeeded.
	sconn     *ssh.ServerConn
	login     loginname.Name
	user      User
	permitted []Target

	lastActivity atomic.Int64 // unix nanoseconds
	idleTimer    *time.Timer
	chanSeq      atomic.Uint32
	remoteFwd    atomic.Bool // the client asked for tcpip-forward and the target agreed
	agentFwd     atomic.Bool // a session asked for agent forwarding and it is allowed

	mu           sync.Mutex
	closing      bool
	endReason    string
	wg           sync.WaitGroup // channel handlers and other tracked goroutines
	menuPending  bool           // no target yet: the first shell shows the menu
	menuTaken    bool
	setupStarted bool
	setupDone    chan struct{} // closed when setup has a result
	settleOnce   sync.Once
	result       setupResult
	target       *Target
	sessionsOpen map[ssh.Channel]bool // client session channels, for kill notices

	// Set by setup before setupDone is closed; read-only afterwards.
	tconn   ssh.Conn
	gate    *readGate // tconn's network connection
	rs      string
	capture Capture
	tee     *tee
	handle  *sessions.Handle
	created bool
	start   time.Time
}

// setupResult is the outcome of admission and connecting to the target.
type setupResult struct {
	ok      bool
	message string // for the user when !ok
}

type authFailure struct {
	user, method, reason string
	reported             bool
}

func newConn(s *Server, nc net.Conn) *gwConn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &gwConn{
		srv:          s,
		cfg:          s.live.Load(),
		nc:           nc,
		id:           newSessionID(),
		ctx:          ctx,
		cancel:       cancel,
		setupDone:    make(chan struct{}),
		sessionsOpen: map[ssh.Channel]bool{},
	}
	c.clientIP, c.clientPort, _ = net.SplitHostPort(nc.RemoteAddr().String())
	c.listenerAddr = nc.LocalAddr().String()
	c.log = s.cfg.Logger.With("session_id", c.id, "client", nc.RemoteAddr().String())
	c.touch()
	return c
}

func newSessionID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("sshproxy: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

func (c *gwConn) touch() { c.lastActivity.Store(time.Now().UnixNano()) }

// serve runs the connection from handshake to teardown.
func (c *gwConn) serve() {
	defer c.cancel()
	c.nc.SetDeadline(time.Now().Add(c.cfg.LoginGrace))
	sconn, chans, reqs, err := ssh.NewServerConn(c.nc, c.srv.serverConfig(c))
	if err != nil {
		c.authFailed(err)
		c.nc.Close()
		return
	}
	c.nc.SetDeadline(time.Time{})
	c.sconn = sconn
	c.run(chans, reqs)
}

// --- authentication ---

func (c *gwConn) authPassword(loginName, method string, password []byte) (*ssh.Permissions, error) {
	ln, err := loginname.Parse(loginName)
	if err != nil {
		c.authFail(loginName, method, "invalid_login_name", true)
		return nil, fmt.Errorf("sshproxy: %w", err)
	}
	u, err := c.cfg.Authenticator.AuthenticatePassword(c.ctx, ln.User, password)
	if err != nil {
		c.authFail(ln.User, method, failureReason(err), true)
		return nil, err
	}
	return &ssh.Permissions{ExtraData: map[any]any{userKey{}: u, methodKey{}: method}}, nil
}

func (c *gwConn) authPublicKey(loginName string, key ssh.PublicKey) (*ssh.Permissions, error) {
	ln, err := loginname.Parse(loginName)
	if err != nil {
		c.authFail(loginName, "publickey", "invalid_login_name", false)
		return nil, fmt.Errorf("sshproxy: %w", err)
	}
	u, err := c.cfg.Authenticator.AuthenticatePublicKey(c.ctx, ln.User, key)
	if err != nil {
		// Clients offer every key they have: a rejected key is reported
		// only if no later attempt on this connection succeeds or fails
		// with its own event (see authFailed).
		c.authFail(ln.User, "publickey", failureReason(err), false)
		return nil, err
	}
	return &ssh.Permissions{ExtraData: map[any]any{userKey{}: u, methodKey{}: "publickey"}}, nil
}

// failureReason maps an Authenticator error to the suffix of
// account.login.failed_<reason>.
func failureReason(err error) string {
	switch {
	case errors.Is(err, ErrUnknownUser):
		return "unknown_user"
	case errors.Is(err, ErrBadPassword):
		return "invalid_password"
	case errors.Is(err, ErrBadKey):
		return "invalid_key"
	case errors.Is(err, ErrLocked):
		return "locked"
	case errors.Is(err, ErrDisabled):
		return "disabled"
	}
	return "error"
}

func (c *gwConn) authFail(user, method, reason string, report bool) {
	c.lastFail = &authFailure{user: user, method: method, reason: reason}
	if report {
		c.reportAuthFailure()
	}
}

func (c *gwConn) reportAuthFailure() {
	f := c.lastFail
	if f == nil || f.reported {
		return
	}
	f.reported = true
	e := c.newEvent("account.login.failed_"+f.reason, event.LevelWarning, "SSH login failed")
	e.UserName = f.user
	e.SessionID = ""
	e.Result = "failure"
	e.Reason = f.reason
	e.Extra = map[string]string{"method": f.method}
	c.publish(e)
}

// authFailed ends a connection whose handshake failed, reporting the last
// rejected public key if nothing else was reported for it.
func (c *gwConn) authFailed(err error) {
	c.reportAuthFailure()
	c.log.Debug("sshproxy: handshake failed", "err", err)
}

// --- the authenticated connection ---

func (c *gwConn) run(chans <-chan ssh.NewChannel, reqs <-chan *ssh.Request) {
	c.login, _ = loginname.Parse(c.sconn.User()) // authentication parsed it already
	c.user, _ = c.sconn.Permissions.ExtraData[userKey{}].(User)
	c.log = c.log.With("user", c.user.Name)

	target, refusal := c.resolveTarget()
	e := c.newEvent("account.login.successful", event.LevelInfo, "SSH login succeeded")
	e.Result = "success"
	method, _ := c.sconn.Permissions.ExtraData[methodKey{}].(string)
	e.Extra = map[string]string{"method": method}
	c.publish(e)
	switch {
	case refusal != nil:
		c.deny(refusal.reason, refusal.message)
	case target != nil:
		c.goTracked(func() { c.setup(*target) })
	}
	if c.cfg.IdleTimeout > 0 {
		c.idleTimer = time.AfterFunc(c.cfg.IdleTimeout, c.checkIdle)
	}

	c.goTracked(func() { c.globalRequests(reqs) })
	for nc := range chans {
		c.goTracked(func() { c.dispatch(nc) })
	}
	c.finish()
}

// refusal is why a session cannot start, for the event and for the user.
type refusal struct {
	reason, message string
}

// resolveTarget picks the target from the login name, or the user's only
// target. With several targets and none named it returns neither a target
// nor a refusal: the first shell shows a menu.
func (c *gwConn) resolveTarget() (*Target, *refusal) {
	permitted, err := c.cfg.Targets.PermittedTargets(c.ctx, c.user)
	if err != nil {
		c.log.Error("sshproxy: listing permitted targets", "err", err)
		return nil, &refusal{denyTargetsUnavailable, "vigil: the list of targets is unavailable; try again later or contact your administrator"}
	}
	c.permitted = permitted
	var chosen *Target
	switch {
	case c.login.Target != "":
		for _, t := range permitted {
			if t.Name == c.login.Target {
				chosen = &t
				break
			}
		}
		if chosen == nil {
			return nil, &refusal{denyTargetNotPermitted, fmt.Sprintf("vigil: target %q does not exist or is not available to you", c.login.Target)}
		}
	case len(permitted) == 1:
		chosen = &permitted[0]
	case len(permitted) == 0:
		return nil, &refusal{denyNoTarget, "vigil: no targets are available to you; contact your administrator"}
	default:
		c.mu.Lock()
		c.menuPending = true
		c.mu.Unlock()
		return nil, nil
	}
	c.mu.Lock()
	c.target = chosen
	c.mu.Unlock()
	return chosen, nil
}

// deny settles setup as refused and reports admission.denied.
func (c *gwConn) deny(reason, message string) {
	e := c.newEvent("admission.denied", event.LevelWarning, "SSH session refused")
	e.Result = "denied"
	e.Reason = reason
	c.publish(e)
	c.settle(setupResult{message: message})
}

// settle records the setup result, once, and wakes everyone waiting for
// it. A refused connection is closed after refusalGrace if the client has
// not left by itself.
func (c *gwConn) settle(r setupResult) {
	c.settleOnce.Do(func() {
		c.mu.Lock()
		c.setupStarted = true
		c.result = r
		c.mu.Unlock()
		close(c.setupDone)
		if !r.ok {
			time.AfterFunc(refusalGrace, func() { c.terminate(reasonNormal, "") })
		}
	})
}

// waitSetup waits for the setup result; ok is false when the connection
// closed first.
func (c *gwConn) waitSetup() (setupResult, bool) {
	select {
	case <-c.setupDone:
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.result, true
	case <-c.ctx.Done():
		return setupResult{}, false
	}
}

// setup admits the session, opens its capture, connects to the target and
// registers the session. It runs once per connection.
func (c *gwConn) setup(t Target) {
	c.mu.Lock()
	if c.setupStarted {
		c.mu.Unlock()
		return
	}
	c.setupStarted = true
	c.target = &t
	c.mu.Unlock()
	c.rs = net.JoinHostPort(t.Host, strconv.Itoa(t.Port))

	record := c.user.RecordSessions
	if err := c.cfg.Admission.Admit(c.ctx, record); err != nil {
		c.log.Warn("sshproxy: admission refused", "err", err)
		msg := "vigil: session refused by the gateway's admission checks; contact your administrator"
		var um interface{ UserMessage() string }
		if errors.As(err, &um) {
			msg = um.UserMessage()
		}
		reason := denyAdmissionError
		var rr interface{ RefusalReason() string }
		if errors.As(err, &rr) {
			reason = rr.RefusalReason()
		}
		c.deny(reason, msg)
		return
	}
	c.start = time.Now()
	var capture Capture
	if record {
		var err error
		capture, err = c.cfg.Recorder.Open(c.ctx, c.sessionMeta(t))
		if err != nil {
			c.log.Error("sshproxy: opening the capture", "err", err)
			c.deny(denyCaptureFailed, "vigil: session refused: the recording could not be started; contact your administrator")
			return
		}
	}
	tconn, tchans, treqs, hostKey, err := c.dialTarget(c.ctx, t)
	if err != nil {
		if capture != nil {
			closeErr := capture.Close()
			c.log.Debug("sshproxy: closed the capture of a session that never connected", "err", closeErr)
		}
		msg := fmt.Sprintf("vigil: could not connect to target %q; contact your administrator", t.Name)
		if errors.Is(err, ErrHostKeyMismatch) {
			msg = fmt.Sprintf("vigil: session refused: the host key of target %q does not match the key pinned for it (possible man-in-the-middle attack); contact your administrator", t.Name)
		} else {
			c.log.Warn("sshproxy: connecting to the target", "target", t.Name, "rs", c.rs, "err", err)
			e := c.newEvent("target.connect.failed", event.LevelError, "connecting to the SSH target failed")
			e.Result = "failure"
			e.Reason = "connect_failed"
			e.Extra = map[string]string{"error": err.Error()}
			c.publish(e)
		}
		c.settle(setupResult{message: msg})
		return
	}

	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		tconn.Close()
		if capture != nil {
			capture.Close()
		}
		c.settle(setupResult{message: "vigil: connection closed"})
		return
	}
	c.capture = capture
	c.tconn = tconn
	c.created = true
	c.mu.Unlock()
	c.tee = newTee(capture, func(err error) {
		c.recordFailed.Store(true)
		c.log.Error("sshproxy: recording failed; ending the session", "err", err)
		go c.terminate(reasonRecordingFailed, "vigil: the session was ended because it could no longer be recorded")
	})
	go c.tee.run()
	c.tee.meta(0, metaRecord{
		SessionID: c.id, User: c.user.Name, Target: t.Name, TargetAddr: c.rs,
		ClientAddr: c.nc.RemoteAddr().String(), Protocol: "ssh", Start: c.start,
		Extra: map[string]string{
			"user_id": c.user.ID, "target_id": t.ID, "target_friendly_name": t.FriendlyName,
			"vs": c.listenerAddr, "target_host_key": ssh.FingerprintSHA256(hostKey),
			"record_input": strconv.FormatBool(c.cfg.RecordInput),
		},
	})
	c.handle = c.cfg.Sessions.Register(sessions.Info{
		ID: c.id, Protocol: "ssh", User: c.user.Name, Target: t.Name,
		Client: c.nc.RemoteAddr().String(), Start: c.start, Recorded: record,
	}, c.kill)

	e := c.newEvent("session.create", event.LevelInfo, "SSH session started")
	e.Result = "success"
	e.Extra = map[string]string{"recorded": strconv.FormatBool(record)}
	c.publish(e)

	c.goTracked(func() { c.targetChannels(tchans) })
	go ssh.DiscardRequests(treqs)
	go func() {
		tconn.Wait()
		c.terminate(reasonTargetClosed, "")
	}()
	c.settle(setupResult{ok: true})
}

func (c *gwConn) sessionMeta(t Target) SessionMeta {
	return SessionMeta{
		SessionID: c.id, Protocol: "ssh", Start: c.start, User: c.user,
		TargetID: t.ID, TargetName: t.Name, TargetFriendly: t.FriendlyName, TargetAddr: c.rs,
		ClientAddr: c.nc.RemoteAddr().String(), ListenerAddr: c.listenerAddr,
		RecordInput: c.cfg.RecordInput,
	}
}

// kill is the session's sessions.KillFunc.
func (c *gwConn) kill(k sessions.KillRequest) {
	metric := "session.kill"
	if k.All {
		metric = "session.kill_all"
	}
	e := c.newEvent(metric, event.LevelWarning, "SSH session killed")
	e.Result = "success"
	e.Extra = map[string]string{"by": k.By}
	c.publish(e)
	go c.terminate(reasonKilled, "vigil: this session was ended by an administrator")
}

func (c *gwConn) checkIdle() {
	idle := time.Since(time.Unix(0, c.lastActivity.Load()))
	if rem := c.cfg.IdleTimeout - idle; rem > 0 {
		c.idleTimer.Reset(rem)
		return
	}
	c.terminate(reasonIdle, fmt.Sprintf("vigil: session closed after %s without activity", c.cfg.IdleTimeout))
}

// goTracked runs fn as part of the connection: teardown waits for it. It
// does nothing once teardown has begun.
func (c *gwConn) goTracked(fn func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return true
}

// terminate ends the connection for reason, first showing msg (if any) on
// the stderr of every open session for a moment. Only the first reason is
// kept.
func (c *gwConn) terminate(reason, msg string) {
	type notice struct {
		ch  ssh.Channel
		pty bool
	}
	c.mu.Lock()
	if c.endReason == "" {
		c.endReason = reason
	}
	var open []notice
	for ch, pty := range c.sessionsOpen {
		open = append(open, notice{ch, pty})
	}
	c.mu.Unlock()
	if msg != "" && len(open) > 0 {
		done := make(chan struct{}, len(open))
		for _, n := range open {
			go func() {
				n.ch.Stderr().Write([]byte(lineFor(msg, n.pty)))
				done <- struct{}{}
			}()
		}
		// A kill or a shutdown must end the session promptly, notice or
		// not. After a recording failure the pumps relay nothing any more,
		// so the notice may wait longer for the client's window.
		wait := 250 * time.Millisecond
		if reason == reasonRecordingFailed {
			wait = 2 * time.Second
		}
		deadline := time.After(wait)
	wait:
		for range open {
			select {
			case <-done:
			case <-deadline:
				break wait
			}
		}
	}
	c.closeConns()
}

// lineFor ends msg as the client's terminal expects.
func lineFor(msg string, pty bool) string {
	if pty {
		return "\r\n" + msg + "\r\n"
	}
	return msg + "\n"
}

func (c *gwConn) closeConns() {
	c.cancel()
	c.nc.Close()
	c.mu.Lock()
	tconn := c.tconn
	c.mu.Unlock()
	if tconn != nil {
		tconn.Close()
	}
}

// finish tears the connection down once the client side is gone.
func (c *gwConn) finish() {
	c.mu.Lock()
	c.closing = true
	if c.endReason == "" {
		c.endReason = reasonNormal
	}
	c.mu.Unlock()
	c.closeConns()
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	c.wg.Wait() // channel handlers, setup and the target's channels
	c.closeConns()
	c.mu.Lock()
	created, reason := c.created, c.endReason
	c.mu.Unlock()
	if !created {
		return
	}
	c.tee.close()
	if c.capture != nil {
		if err := c.capture.Close(); err != nil {
			c.log.Error("sshproxy: closing the capture", "err", err)
		}
	}
	in, out := c.handle.Bytes()
	c.handle.Done()
	e := c.newEvent("session.destroy", event.LevelInfo, "SSH session ended")
	e.Result = "success"
	e.Reason = reason
	e.Extra = map[string]string{
		"duration":  strconv.FormatFloat(time.Since(c.start).Seconds(), 'f', 3, 64),
		"bytes_in":  strconv.FormatInt(in, 10),
		"bytes_out": strconv.FormatInt(out, 10),
	}
	c.publish(e)
}

// --- events ---

func (c *gwConn) newEvent(metric, level, msg string) event.Event {
	e := event.Event{
		Time: time.Now().UTC(), MetricName: metric, Level: level, Message: msg,
		Component: "ssh", Protocol: "ssh",
		RequestIP: c.clientIP, RequestPort: c.clientPort, VS: c.listenerAddr,
		UserName: c.user.Name, UserID: c.user.ID,
	}
	if c.user.Name == "" {
		e.UserName = c.login.User
	}
	c.mu.Lock()
	t := c.target
	c.mu.Unlock()
	if t != nil {
		e.TargetID, e.TargetName, e.TargetFriendlyName = t.ID, t.Name, t.FriendlyName
		e.RS = net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	}
	if c.sconn != nil {
		e.SessionID = c.id
	}
	return e
}

func (c *gwConn) publish(e event.Event) {
	if err := c.cfg.Events.Publish(e); err != nil {
		c.log.Error("sshproxy: publishing event", "metric", e.MetricName, "err", err)
	}
}

// targetNames lists the permitted targets for messages.
func (c *gwConn) targetNames() string {
	names := make([]string, len(c.permitted))
	for i, t := range c.permitted {
		names[i] = sanitize(t.Name)
	}
	return strings.Join(names, ", ")
}
