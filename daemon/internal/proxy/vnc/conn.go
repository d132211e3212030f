package vncproxy

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/loginname"
	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/rfbwire"
	"github.com/vigilgw/vigil/daemon/internal/sessions"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Why a session ended: the reason of session.destroy.
const (
	reasonNormal              = "normal"
	reasonKilled              = "killed"
	reasonIdle                = "idle_timeout"
	reasonTargetClosed        = "target_closed"
	reasonTargetProtocolError = "target_protocol_error"
	reasonClientProtocolError = "client_protocol_error"
	reasonRecordingFailed     = "recording_failed"
	reasonShutdown            = "server_shutdown"
)

// Reasons of admission.denied besides the Admitter's own.
const (
	denyTargetNotPermitted = "target_not_permitted"
	denyNoTarget           = "no_target"
	denyAmbiguousTarget    = "target_not_chosen"
	denyTargetsUnavailable = "targets_unavailable"
	denyCaptureFailed      = "capture_failed"
	denyAdmissionError     = "admission_error"
)

// loginMethod names how users authenticate, in events.
const loginMethod = "vencrypt-x509plain"

// Bounds on the VeNCrypt Plain credentials a client may send.
const (
	maxPasswordLength = 1024
)

// gwConn is one client connection and, once set up, its session.
type gwConn struct {
	srv    *Server
	cfg    *Config
	nc     net.Conn // the client's TCP connection
	cc     net.Conn // what the session runs over: nc wrapped in TLS
	id     string
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger

	clientIP, clientPort, listenerAddr string
	version                            rfbwire.Version

	mu        sync.Mutex
	login     loginname.Name
	user      User
	authed    bool
	target    *Target
	tnc       net.Conn // the target's TCP connection, once dialled
	endReason string

	// Set by setup; read-only while relaying.
	tc      *targetConn
	capture Capture
	tee     *tee
	handle  *sessions.Handle
	start   time.Time
	created bool

	// pendingPF is the client's latest SetPixelFormat, forwarded to the
	// target but not yet applied to the server stream.
	pendingPF atomic.Pointer[rfbwire.PixelFormat]
	out       *chunk // server data framed but not yet relayed
	outMark   int    // where the message being framed starts in out
	lastInput atomic.Int64
	idleTimer *time.Timer
}

func newConn(s *Server, nc net.Conn) *gwConn {
	ctx, cancel := context.WithCancel(context.Background())
	c := &gwConn{srv: s, cfg: &s.cfg, nc: nc, id: newSessionID(), ctx: ctx, cancel: cancel}
	c.clientIP, c.clientPort, _ = net.SplitHostPort(nc.RemoteAddr().String())
	c.listenerAddr = nc.LocalAddr().String()
	c.log = s.cfg.Logger.With("session_id", c.id, "client", nc.RemoteAddr().String())
	return c
}

func newSessionID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("vncproxy: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// serve runs the connection from handshake to teardown.
func (c *gwConn) serve() {
	defer c.cancel()
	c.nc.SetDeadline(time.Now().Add(c.cfg.LoginGrace))
	if !c.setup() {
		c.closeConns()
		return
	}
	c.nc.SetDeadline(time.Time{})
	c.relay()
	c.finish()
}

// --- handshake ---

// setup runs the handshake up to the start of the relay: protocol version,
// VeNCrypt, authentication, target, admission, capture, target login, and
// the client's ServerInit. It reports whether the session is ready.
func (c *gwConn) setup() bool {
	if _, err := c.nc.Write(rfbwire.V38.Bytes()); err != nil {
		return false
	}
	v, err := rfbwire.ReadVersion(c.nc)
	if err != nil {
		c.log.Debug("vncproxy: handshake", "err", err)
		return false
	}
	c.version = v
	if v == rfbwire.V33 {
		// RFB 3.3 lets the server pick one security type, and VeNCrypt
		// is not one 3.3 viewers know: refuse, saying why.
		msg := "vigil: this viewer speaks RFB 3.3, which cannot send a user name; use a viewer with VeNCrypt (X509Plain), such as TigerVNC"
		c.nc.Write(rfbwire.AppendString([]byte{0, 0, 0, 0}, msg))
		c.log.Info("vncproxy: refused an RFB 3.3 viewer")
		return false
	}
	if _, err := c.nc.Write([]byte{1, rfbwire.SecVeNCrypt}); err != nil {
		return false
	}
	var choice [1]byte
	if _, err := io.ReadFull(c.nc, choice[:]); err != nil {
		return false
	}
	if choice[0] != rfbwire.SecVeNCrypt {
		c.nc.Write(rfbwire.SecurityResult(v, "vigil: the gateway only accepts VeNCrypt (X509Plain)"))
		c.log.Info("vncproxy: the viewer chose an unoffered security type", "type", choice[0])
		return false
	}
	user, password, err := c.veNCrypt()
	if err != nil {
		c.log.Info("vncproxy: VeNCrypt negotiation failed", "err", err)
		return false
	}
	if !c.authenticate(user, password) {
		return false
	}
	t, ok := c.resolveTarget()
	if !ok {
		return false
	}
	return c.connect(t)
}

// veNCrypt negotiates VeNCrypt 0.2 with the X509Plain subtype, starts TLS
// and reads the user name and password.
func (c *gwConn) veNCrypt() (user string, password []byte, err error) {
	if _, err := c.nc.Write([]byte{0, 2}); err != nil {
		return "", nil, err
	}
	var ver [2]byte
	if _, err := io.ReadFull(c.nc, ver[:]); err != nil {
		return "", nil, err
	}
	if ver != [2]byte{0, 2} {
		c.nc.Write([]byte{0xff})
		return "", nil, fmt.Errorf("vncproxy: VeNCrypt version %d.%d, want 0.2: %w", ver[0], ver[1], rfbwire.ErrProtocol)
	}
	msg := []byte{0, 1}
	msg = binary.BigEndian.AppendUint32(msg, rfbwire.VeNCryptX509Plain)
	if _, err := c.nc.Write(msg); err != nil {
		return "", nil, err
	}
	var sub [4]byte
	if _, err := io.ReadFull(c.nc, sub[:]); err != nil {
		return "", nil, err
	}
	if st := binary.BigEndian.Uint32(sub[:]); st != rfbwire.VeNCryptX509Plain {
		c.nc.Write([]byte{0})
		return "", nil, fmt.Errorf("vncproxy: VeNCrypt subtype %d, want X509Plain (262): %w", st, rfbwire.ErrProtocol)
	}
	if _, err := c.nc.Write([]byte{1}); err != nil {
		return "", nil, err
	}
	tc := tls.Server(c.nc, c.srv.tls)
	if err := tc.HandshakeContext(c.ctx); err != nil {
		return "", nil, fmt.Errorf("vncproxy: tls handshake: %w", err)
	}
	c.cc = tc
	var lens [8]byte
	if _, err := io.ReadFull(tc, lens[:]); err != nil {
		return "", nil, err
	}
	ulen, plen := binary.BigEndian.Uint32(lens[:4]), binary.BigEndian.Uint32(lens[4:])
	if ulen > loginname.MaxLen || plen > maxPasswordLength {
		tc.Write(rfbwire.SecurityResult(c.version, "vigil: authentication failed"))
		return "", nil, fmt.Errorf("vncproxy: Plain credentials of %d and %d bytes: %w", ulen, plen, rfbwire.ErrProtocol)
	}
	buf := make([]byte, ulen+plen)
	if _, err := io.ReadFull(tc, buf); err != nil {
		return "", nil, err
	}
	return string(buf[:ulen]), buf[ulen:], nil
}

// refuse fails the security handshake with msg (shown by 3.8 viewers).
func (c *gwConn) refuse(msg string) {
	c.cc.Write(rfbwire.SecurityResult(c.version, msg))
}

// authenticate checks the user; on failure it reports and refuses.
func (c *gwConn) authenticate(name string, password []byte) bool {
	ln, err := loginname.Parse(name)
	if err != nil {
		c.authFailed(name, "invalid_login_name")
		c.refuse("vigil: authentication failed")
		return false
	}
	c.mu.Lock()
	c.login = ln
	c.mu.Unlock()
	u, err := c.cfg.Authenticator.AuthenticatePassword(c.ctx, ln.User, password)
	clear(password)
	if err != nil {
		c.authFailed(ln.User, failureReason(err))
		c.refuse("vigil: authentication failed")
		return false
	}
	c.mu.Lock()
	c.user, c.authed = u, true
	c.mu.Unlock()
	c.log = c.log.With("user", u.Name)
	e := c.newEvent("account.login.successful", event.LevelInfo, "VNC login succeeded")
	e.Result = "success"
	e.Extra = map[string]string{"method": loginMethod}
	c.publish(e)
	return true
}

// failureReason maps an Authenticator error to the suffix of
// account.login.failed_<reason>.
func failureReason(err error) string {
	switch {
	case errors.Is(err, ErrUnknownUser):
		return "unknown_user"
	case errors.Is(err, ErrBadPassword):
		return "invalid_password"
	case errors.Is(err, ErrLocked):
		return "locked"
	case errors.Is(err, ErrDisabled):
		return "disabled"
	}
	return "error"
}

func (c *gwConn) authFailed(user, reason string) {
	e := c.newEvent("account.login.failed_"+reason, event.LevelWarning, "VNC login failed")
	e.UserName = user
	e.Result = "failure"
	e.Reason = reason
	e.Extra = map[string]string{"method": loginMethod}
	c.publish(e)
}

// resolveTarget picks the target named in the login name, or the user's
// only VNC target. VNC has no menu: a user with several targets must name
// one.
func (c *gwConn) resolveTarget() (Target, bool) {
	permitted, err := c.cfg.Targets.PermittedTargets(c.ctx, c.user)
	if err != nil {
		c.log.Error("vncproxy: listing permitted targets", "err", err)
		c.deny(denyTargetsUnavailable, "vigil: the list of targets is unavailable; try again later or contact your administrator")
		return Target{}, false
	}
	switch {
	case c.login.Target != "":
		for _, t := range permitted {
			if t.Name == c.login.Target {
				return c.chose(t), true
			}
		}
		c.deny(denyTargetNotPermitted, fmt.Sprintf("vigil: target %q does not exist or is not available to you", c.login.Target))
	case len(permitted) == 1:
		return c.chose(permitted[0]), true
	case len(permitted) == 0:
		c.deny(denyNoTarget, "vigil: no VNC targets are available to you; contact your administrator")
	default:
		c.deny(denyAmbiguousTarget, "vigil: several VNC targets are available to you: log in as USER:TARGET to choose one")
	}
	return Target{}, false
}

func (c *gwConn) chose(t Target) Target {
	c.mu.Lock()
	c.target = &t
	c.mu.Unlock()
	return t
}

// deny refuses the session with message and reports admission.denied.
func (c *gwConn) deny(reason, message string) {
	e := c.newEvent("admission.denied", event.LevelWarning, "VNC session refused")
	e.Result = "denied"
	e.Reason = reason
	c.publish(e)
	c.refuse(message)
}

// connect admits the session, opens its capture, logs in to the target,
// finishes the client's handshake and registers the session.
func (c *gwConn) connect(t Target) bool {
	record := c.user.RecordSessions
	if err := c.cfg.Admission.Admit(c.ctx, record); err != nil {
		c.log.Warn("vncproxy: admission refused", "err", err)
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
		return false
	}
	c.start = time.Now()
	rs := net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	var capt Capture
	if record {
		var err error
		capt, err = c.cfg.Recorder.Open(c.ctx, SessionMeta{
			SessionID: c.id, Protocol: "vnc", Start: c.start, User: c.user,
			TargetID: t.ID, TargetName: t.Name, TargetFriendly: t.FriendlyName, TargetAddr: rs,
			ClientAddr: c.nc.RemoteAddr().String(), ListenerAddr: c.listenerAddr, RecordInput: c.cfg.RecordInput,
		})
		if err != nil {
			c.log.Error("vncproxy: opening the capture", "err", err)
			c.deny(denyCaptureFailed, "vigil: session refused: the recording could not be started; contact your administrator")
			return false
		}
	}
	tc, err := dialTarget(c.ctx, t, c.cfg.ConnectTimeout, c.cfg.Exclusive, func(nc net.Conn) {
		c.mu.Lock()
		c.tnc = nc
		c.mu.Unlock()
	})
	if err != nil {
		if capt != nil {
			if cerr := capt.Close(); cerr != nil {
				c.log.Error("vncproxy: closing the capture of a session that never connected", "err", cerr)
			}
		}
		c.log.Warn("vncproxy: connecting to the target", "target", t.Name, "rs", rs, "err", err)
		e := c.newEvent("target.connect.failed", event.LevelError, "connecting to the VNC target failed")
		e.Result = "failure"
		e.Reason = "connect_failed"
		if errors.Is(err, ErrTargetRefused) {
			e.Reason = "login_refused"
		}
		e.Extra = map[string]string{"error": err.Error()}
		c.publish(e)
		c.refuse(fmt.Sprintf("vigil: could not connect to target %q; contact your administrator", t.Name))
		return false
	}
	c.tc, c.capture = tc, capt
	c.tee = newTee(capt, func(err error) {
		c.log.Error("vncproxy: recording failed; ending the session", "err", err)
		go c.terminate(reasonRecordingFailed)
	})

	// The client's ServerInit: the target's, with the banner in the name.
	si := tc.init
	if record {
		si.Name = fmt.Sprintf("%s [%s]", si.Name, c.cfg.Banner)
		if len(si.Name) > rfbwire.MaxNameLength {
			si.Name = si.Name[:rfbwire.MaxNameLength]
		}
	}
	if _, err := c.cc.Write(rfbwire.SecurityResult(c.version, "")); err != nil {
		return c.abandon()
	}
	var clientInit [1]byte // the viewer's shared flag: the gateway decides (Config.Exclusive)
	if _, err := io.ReadFull(c.cc, clientInit[:]); err != nil {
		return c.abandon()
	}
	siBytes := si.Bytes()
	if _, err := c.cc.Write(siBytes); err != nil {
		return c.abandon()
	}
	go c.tee.run()
	if record {
		c.tee.copy(capture.Meta, capture.SessionMeta{
			SessionID: c.id, User: c.user.Name, Target: t.Name, TargetAddr: rs,
			ClientAddr: c.nc.RemoteAddr().String(), Protocol: "vnc", Start: c.start,
			PixelFormat: si.PixelFormat.String(),
			Extra: map[string]string{
				"rfb_width": strconv.Itoa(si.Width), "rfb_height": strconv.Itoa(si.Height), "rfb_name": si.Name,
				"rfb_client_version": c.version.String(), "rfb_target_version": tc.version.String(),
				"rfb_target_security": tc.security, "rfb_client_security": loginMethod,
				"record_input": strconv.FormatBool(c.cfg.RecordInput), "vs": c.listenerAddr,
				"target_friendly_name": t.FriendlyName, "user_id": c.user.ID,
			},
		}.Marshal())
		c.tee.copy(capture.Resize, capture.AppendResize(nil, capture.Size{Width: uint32(si.Width), Height: uint32(si.Height)}))
		c.tee.copy(capture.ScreenServer, siBytes)
	}
	c.mu.Lock()
	c.created = true
	c.mu.Unlock()
	c.handle = c.cfg.Sessions.Register(sessions.Info{
		ID: c.id, Protocol: "vnc", User: c.user.Name, Target: t.Name,
		Client: c.nc.RemoteAddr().String(), Start: c.start, Recorded: record,
	}, c.kill)
	e := c.newEvent("session.create", event.LevelInfo, "VNC session started")
	e.Result = "success"
	e.Extra = map[string]string{"recorded": strconv.FormatBool(record)}
	c.publish(e)
	return true
}

// abandon gives up on a session whose viewer left between the target's
// login and the relay.
func (c *gwConn) abandon() bool {
	c.tc.Close()
	if c.capture != nil {
		if err := c.capture.Close(); err != nil {
			c.log.Error("vncproxy: closing the capture of a session that never started", "err", err)
		}
	}
	return false
}

// --- the relay ---

func (c *gwConn) relay() {
	c.touch()
	if c.cfg.IdleTimeout > 0 {
		c.idleTimer = time.AfterFunc(c.cfg.IdleTimeout, c.checkIdle)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		err := c.clientToTarget()
		reason := reasonNormal
		if errors.Is(err, rfbwire.ErrProtocol) {
			reason = reasonClientProtocolError
			c.log.Warn("vncproxy: the viewer broke the protocol; ending the session", "err", err)
		}
		c.terminate(reason)
	}()
	go func() {
		defer wg.Done()
		err := c.targetToClient()
		reason := reasonTargetClosed
		if errors.Is(err, rfbwire.ErrProtocol) {
			reason = reasonTargetProtocolError
			c.log.Warn("vncproxy: the target broke the protocol; ending the session", "err", err)
		}
		c.terminate(reason)
	}()
	wg.Wait()
}

func (c *gwConn) touch() { c.lastInput.Store(time.Now().UnixNano()) }

func (c *gwConn) checkIdle() {
	idle := time.Since(time.Unix(0, c.lastInput.Load()))
	if rem := c.cfg.IdleTimeout - idle; rem > 0 {
		c.idleTimer.Reset(rem)
		return
	}
	c.terminate(reasonIdle)
}

// clientToTarget relays the viewer's messages: the pixel format is noted
// for the server stream, SetEncodings is narrowed to what the recorder
// decodes, and messages are recorded (key events and cut text only with
// input recording).
func (c *gwConn) clientToTarget() error {
	cr := rfbwire.NewClientReader(bufio.NewReaderSize(c.cc, 16<<10))
	tw := bufio.NewWriterSize(c.tc, 16<<10)
	for {
		m, err := cr.Next()
		if err != nil {
			tw.Flush()
			return err
		}
		c.handle.AddBytes(int64(len(m.Raw)), 0)
		out, record := m.Raw, true
		switch m.Type {
		case rfbwire.MsgSetPixelFormat:
			pf := m.PixelFormat
			c.pendingPF.Store(&pf)
		case rfbwire.MsgSetEncodings:
			kept := rfbwire.FilterEncodings(m.Encodings)
			if len(kept) != len(m.Encodings) {
				c.log.Debug("vncproxy: narrowed the viewer's encodings", "asked", m.Encodings, "kept", kept)
			}
			out = rfbwire.SetEncodings(kept)
		case rfbwire.MsgKeyEvent, rfbwire.MsgClientCutText:
			record = c.cfg.RecordInput
			c.touch()
		case rfbwire.MsgPointerEvent:
			c.touch()
		}
		if record {
			c.tee.copy(capture.ScreenClient, out)
		}
		if _, err := tw.Write(out); err != nil {
			return err
		}
		if cr.Buffered() == 0 {
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
}

// targetToClient frames the target's messages and relays them, recording
// every byte, and the pixel format and desktop size when they change, at
// the message boundary where they take effect.
func (c *gwConn) targetToClient() error {
	fr := rfbwire.NewServerFramer(c.tc.r, c.tc.init, c.emit)
	for {
		if fr.Buffered() == 0 { // about to wait: relay what is complete
			if err := c.flush(); err != nil {
				return err
			}
		}
		if err := fr.Wait(); err != nil {
			return err
		}
		if pf := c.pendingPF.Swap(nil); pf != nil {
			// The viewer applies its SetPixelFormat from the first update
			// it receives after sending it; so does the gateway, from the
			// first message to arrive after it saw it.
			if err := c.flush(); err != nil {
				return err
			}
			fr.SetPixelFormat(*pf)
			c.tee.copy(capture.Meta, capture.SessionMeta{PixelFormat: pf.String()}.Marshal())
		}
		c.outMark = 0
		if c.out != nil {
			c.outMark = c.out.n
		}
		m, err := fr.Next()
		if err != nil {
			// What the target sent is recorded, even a malformed or cut
			// message; the viewer gets the messages before it, and none of
			// it (beyond what was relayed while it arrived, for a long
			// one).
			c.flushBefore(c.outMark)
			if errors.Is(err, rfbwire.ErrProtocol) {
				c.tee.copy(capture.Meta, capture.SessionMeta{Extra: map[string]string{"rfb_target_error": err.Error()}}.Marshal())
			}
			return err
		}
		if m.Resized {
			if err := c.flush(); err != nil {
				return err
			}
			c.tee.copy(capture.Resize, capture.AppendResize(nil, capture.Size{Width: uint32(m.Width), Height: uint32(m.Height)}))
			c.tee.copy(capture.Meta, capture.SessionMeta{Extra: map[string]string{
				"rfb_width": strconv.Itoa(m.Width), "rfb_height": strconv.Itoa(m.Height),
			}}.Marshal())
		}
	}
}

// emit takes framed server bytes into the current chunk, relaying full
// chunks.
func (c *gwConn) emit(b []byte) error {
	for len(b) > 0 {
		if c.out == nil {
			c.out = getChunk()
		}
		n := copy(c.out.b[c.out.n:], b)
		c.out.n += n
		b = b[n:]
		if c.out.n == len(c.out.b) {
			if err := c.flush(); err != nil {
				return err
			}
			c.outMark = 0 // the message began in a chunk already relayed
		}
	}
	return nil
}

// flush records the current chunk and relays it to the viewer.
func (c *gwConn) flush() error {
	if c.out == nil {
		return nil
	}
	return c.flushBefore(c.out.n)
}

// flushBefore records the current chunk and relays its first n bytes.
func (c *gwConn) flushBefore(n int) error {
	ck := c.out
	if ck == nil || ck.n == 0 {
		return nil
	}
	c.out = nil
	ck.refs.Store(2)
	c.tee.chunk(capture.ScreenServer, ck)
	var err error
	if n > 0 {
		c.handle.AddBytes(0, int64(n))
		_, err = c.cc.Write(ck.b[:n])
	}
	ck.release()
	return err
}

// kill is the session's sessions.KillFunc.
func (c *gwConn) kill(k sessions.KillRequest) {
	metric := "session.kill"
	if k.All {
		metric = "session.kill_all"
	}
	e := c.newEvent(metric, event.LevelWarning, "VNC session killed")
	e.Result = "success"
	e.Extra = map[string]string{"by": k.By}
	c.publish(e)
	c.terminate(reasonKilled)
}

// terminate ends the connection for reason; only the first reason is kept.
// It closes both sides at once, without waiting for anything.
func (c *gwConn) terminate(reason string) {
	c.mu.Lock()
	if c.endReason == "" {
		c.endReason = reason
	}
	c.mu.Unlock()
	c.closeConns()
}

func (c *gwConn) closeConns() {
	c.cancel()
	c.nc.Close() // the TLS connection's own Close could wait to send an alert
	c.mu.Lock()
	tnc := c.tnc
	c.mu.Unlock()
	if tnc != nil {
		tnc.Close()
	}
}

// finish tears the session down once both pumps have stopped.
func (c *gwConn) finish() {
	if c.idleTimer != nil {
		c.idleTimer.Stop()
	}
	c.closeConns()
	c.tee.close()
	if c.capture != nil {
		if err := c.capture.Close(); err != nil {
			c.log.Error("vncproxy: closing the capture", "err", err)
		}
	}
	in, out := c.handle.Bytes()
	c.handle.Done()
	c.mu.Lock()
	reason := c.endReason
	c.mu.Unlock()
	e := c.newEvent("session.destroy", event.LevelInfo, "VNC session ended")
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
		Component: "vnc", Protocol: "vnc",
		RequestIP: c.clientIP, RequestPort: c.clientPort, VS: c.listenerAddr,
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e.UserName, e.UserID = c.user.Name, c.user.ID
	if e.UserName == "" {
		e.UserName = c.login.User
	}
	if t := c.target; t != nil {
		e.TargetID, e.TargetName, e.TargetFriendlyName = t.ID, t.Name, t.FriendlyName
		e.RS = net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	}
	if c.authed {
		e.SessionID = c.id
	}
	return e
}

func (c *gwConn) publish(e event.Event) {
	if err := c.cfg.Events.Publish(e); err != nil {
		c.log.Error("vncproxy: publishing event", "metric", e.MetricName, "err", err)
	}
}
