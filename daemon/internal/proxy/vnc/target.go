package vncproxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/rfbwire"
)

// ErrTargetRefused: the target refused the gateway's login (a wrong stored
// password, a security type the gateway cannot use, a refusal message).
var ErrTargetRefused = errors.New("vncproxy: the target refused the login")

// targetConn is a logged-in connection to a target, ServerInit read.
type targetConn struct {
	net.Conn
	r        *bufio.Reader
	version  rfbwire.Version
	security string // "none" or "vncauth"
	init     rfbwire.ServerInit
}

// relayBufferSize is the size of the relay's read buffers.
const relayBufferSize = 64 << 10

// dialTarget connects to t, logs in with its stored credential and reads
// its ServerInit, all within timeout. onConn is given the connection as
// soon as it exists, so that the caller can close it to abort.
func dialTarget(ctx context.Context, t Target, timeout time.Duration, exclusive bool, onConn func(net.Conn)) (*targetConn, error) {
	addr := net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("vncproxy: connecting to %s: %w", addr, err)
	}
	onConn(nc)
	deadline, _ := ctx.Deadline()
	nc.SetDeadline(deadline)
	tc := &targetConn{Conn: nc, r: bufio.NewReaderSize(nc, relayBufferSize)}
	if err := tc.login(t, exclusive); err != nil {
		nc.Close()
		return nil, fmt.Errorf("vncproxy: logging in to %s: %w", addr, err)
	}
	nc.SetDeadline(time.Time{})
	return tc, nil
}

func (tc *targetConn) login(t Target, exclusive bool) error {
	v, err := rfbwire.ReadVersion(tc.r)
	if err != nil {
		return err
	}
	tc.version = min(v, rfbwire.V38)
	if _, err := tc.Write(tc.version.Bytes()); err != nil {
		return err
	}
	var sec uint32
	if tc.version == rfbwire.V33 {
		if sec, err = rfbwire.ReadSecurityType33(tc.r); err != nil {
			return refused(err)
		}
		if sec != rfbwire.SecNone && sec != rfbwire.SecVncAuth {
			return fmt.Errorf("%w: RFB 3.3 security type %d is not None or VncAuth", ErrTargetRefused, sec)
		}
	} else {
		types, err := rfbwire.ReadSecurityTypes(tc.r)
		if err != nil {
			return refused(err)
		}
		switch {
		case slices.Contains(types, rfbwire.SecNone):
			sec = rfbwire.SecNone
		case slices.Contains(types, rfbwire.SecVncAuth):
			sec = rfbwire.SecVncAuth
		default:
			return fmt.Errorf("%w: it offers security types %v, and the gateway logs in with None (1) or VncAuth (2)", ErrTargetRefused, types)
		}
		if _, err := tc.Write([]byte{byte(sec)}); err != nil {
			return err
		}
	}
	tc.security = "none"
	if sec == rfbwire.SecVncAuth {
		tc.security = "vncauth"
		if t.Password == "" {
			return fmt.Errorf("%w: it asks for VncAuth and no password is stored for it", ErrTargetRefused)
		}
		var challenge [16]byte
		if _, err := io.ReadFull(tc.r, challenge[:]); err != nil {
			return err
		}
		resp := rfbwire.VncAuthResponse(t.Password, challenge)
		if _, err := tc.Write(resp[:]); err != nil {
			return err
		}
	}
	if sec != rfbwire.SecNone || tc.version == rfbwire.V38 {
		if err := rfbwire.ReadSecurityResult(tc.r, tc.version); err != nil {
			return refused(err)
		}
	}
	shared := byte(1)
	if exclusive {
		shared = 0
	}
	if _, err := tc.Write([]byte{shared}); err != nil {
		return err
	}
	tc.init, err = rfbwire.ReadServerInit(tc.r)
	return err
}

// refused marks the target's own refusals (failure messages) as
// ErrTargetRefused; I/O errors pass as they are.
func refused(err error) error {
	var re *rfbwire.RefusedError
	if errors.As(err, &re) {
		return fmt.Errorf("%w: %w", ErrTargetRefused, err)
	}
	return err
}
