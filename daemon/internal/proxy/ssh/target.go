package sshproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Target connection errors.
var (
	ErrHostKeyMismatch = errors.New("sshproxy: target host key does not match the pinned key")
	ErrBadPin          = errors.New("sshproxy: pinned host key is not a valid authorized_keys line")
	ErrNoCredential    = errors.New("sshproxy: target has no password or private key")
)

// clientVersion is how the gateway identifies itself to targets.
const clientVersion = "SSH-2.0-Vigil"

// dialTarget connects and logs in to t with its stored credential. The
// target's host key must match the pinned one; with none pinned, the key
// presented is pinned first (trust on first use) and the login proceeds
// only if pinning succeeded.
func (c *gwConn) dialTarget(ctx context.Context, t Target) (ssh.Conn, <-chan ssh.NewChannel, <-chan *ssh.Request, ssh.PublicKey, error) {
	var pinned ssh.PublicKey
	if len(bytes.TrimSpace(t.PinnedHostKey)) > 0 {
		k, _, _, _, err := ssh.ParseAuthorizedKey(t.PinnedHostKey)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("%w: target %s: %w", ErrBadPin, t.ID, err)
		}
		pinned = k
	}
	var auth []ssh.AuthMethod
	if len(t.PrivateKey) > 0 {
		signer, err := ssh.ParsePrivateKey(t.PrivateKey)
		if err != nil {
			return nil, nil, nil, nil, fmt.Errorf("sshproxy: target %s: private key: %w", t.ID, err)
		}
		auth = append(auth, ssh.PublicKeys(signer))
	}
	if t.Password != "" {
		pw := t.Password
		auth = append(auth, ssh.Password(pw), ssh.KeyboardInteractive(
			func(_, _ string, questions []string, echos []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range questions {
					if !echos[i] {
						answers[i] = pw
					}
				}
				return answers, nil
			}))
	}
	if len(auth) == 0 {
		return nil, nil, nil, nil, fmt.Errorf("%w: %s", ErrNoCredential, t.ID)
	}

	var presented ssh.PublicKey
	cfg := &ssh.ClientConfig{
		User:          t.Username,
		Auth:          auth,
		ClientVersion: clientVersion,
		Timeout:       c.cfg.ConnectTimeout,
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			presented = key
			if pinned != nil {
				if bytes.Equal(key.Marshal(), pinned.Marshal()) {
					return nil
				}
				e := c.newEvent("target.hostkey.mismatch", event.LevelCritical, "SSH target host key does not match the pinned key; connection refused")
				e.Result = "denied"
				e.Reason = "hostkey_mismatch"
				e.Extra = map[string]string{
					"pinned_fingerprint":    ssh.FingerprintSHA256(pinned),
					"presented_fingerprint": ssh.FingerprintSHA256(key),
				}
				c.publish(e)
				return ErrHostKeyMismatch
			}
			line := bytes.TrimSpace(ssh.MarshalAuthorizedKey(key))
			if err := c.cfg.Targets.PinHostKey(ctx, t.ID, line); err != nil {
				return fmt.Errorf("sshproxy: pinning the host key of target %s: %w", t.ID, err)
			}
			e := c.newEvent("target.hostkey.pinned", event.LevelInfo, "SSH target host key pinned on first use")
			e.Result = "success"
			e.Extra = map[string]string{"fingerprint": ssh.FingerprintSHA256(key), "key_type": key.Type()}
			c.publish(e)
			return nil
		},
	}
	if pinned != nil {
		// Ask for the pinned key's type, or a target with several host keys
		// would show another one and look like an attack.
		cfg.HostKeyAlgorithms = hostKeyAlgorithms(pinned.Type())
	}

	addr := net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, nil, nil, fmt.Errorf("sshproxy: target %s: %w", t.ID, err)
	}
	nc := newReadGate(raw)
	// The handshake gets the same deadline; a cancelled ctx (the client
	// left) also cuts it short.
	deadline, _ := ctx.Deadline()
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	conn, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	stop()
	if err != nil {
		nc.Close()
		if errors.Is(err, ErrHostKeyMismatch) {
			return nil, nil, nil, presented, err
		}
		return nil, nil, nil, nil, fmt.Errorf("sshproxy: target %s: %w", t.ID, err)
	}
	nc.SetDeadline(time.Time{})
	c.gate = nc
	return conn, chans, reqs, presented, nil
}

// hostKeyAlgorithms lists the signature algorithms for a host key type.
func hostKeyAlgorithms(keyType string) []string {
	switch keyType {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01}
	}
	return []string{keyType}
}

// sanitize makes administrator-supplied text safe to print on a terminal:
// control characters become '?'.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
			return '?'
		}
		return r
	}, s)
}
