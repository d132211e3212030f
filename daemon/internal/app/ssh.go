package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/vigilgw/vigil/daemon/internal/admission"
	"github.com/vigilgw/vigil/daemon/internal/config"
	sshproxy "github.com/vigilgw/vigil/daemon/internal/proxy/ssh"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
)

// startSSH starts the SSH gateway on [ssh] listen.
func (d *Daemon) startSSH(ctx context.Context) error {
	cfg := d.Config()
	if !cfg.SSH.Enabled {
		return nil
	}
	ln, err := listen("ssh", cfg.SSH.Listen)
	if err != nil {
		return err
	}
	live := sshReloadable(cfg)
	srv, err := sshproxy.New(sshproxy.Config{
		ListenAddr:    cfg.SSH.Listen,
		HostKeyPath:   cfg.SSH.HostKey,
		Banner:        live.Banner,
		EnvAllowlist:  live.EnvAllowlist,
		LoginGrace:    live.LoginGrace,
		MaxAuthTries:  live.MaxAuthTries,
		IdleTimeout:   live.IdleTimeout,
		RecordInput:   live.RecordInput,
		Authenticator: sshAuth{storeAuth{d.store}},
		Targets:       storeTargets{d.store, store.ProtocolSSH},
		Recorder:      &captureRecorder{d: d},
		Admission:     admitter{d},
		Events:        d.bus,
		Sessions:      d.sessions,
		Logger:        d.slogger("ssh"),
	})
	if err != nil {
		ln.Close()
		return err
	}
	// New connections follow reloads; open sessions keep their settings.
	d.reloaders = append(d.reloaders, func(cfg *config.Config) error { return srv.Reload(sshReloadable(cfg)) })
	d.serve("ssh", "ssh ", ln, srv.Serve, sshproxy.ErrServerClosed)
	d.stopGateway("ssh", srv)
	return nil
}

// sshReloadable is what of cfg the running SSH gateway follows.
func sshReloadable(cfg *config.Config) sshproxy.Reloadable {
	return sshproxy.Reloadable{
		Banner:       cfg.SSH.Banner,
		EnvAllowlist: cfg.SSH.EnvAllow,
		LoginGrace:   cfg.SSH.LoginGrace,
		MaxAuthTries: cfg.SSH.MaxAuthTries,
		IdleTimeout:  cfg.SSH.IdleTimeout,
		RecordInput:  cfg.Recording.RecordInput,
	}
}

// startAdmission builds the admission controller over the spool and
// rebuilds it when a reload changes min_free_bytes.
func (d *Daemon) startAdmission(context.Context) error {
	build := func(cfg *config.Config) (*admission.Controller, error) {
		return admission.New(admission.Config{SpoolDir: d.layout.SpoolActive(), MinFreeBytes: uint64(cfg.Recording.MinFreeBytes)})
	}
	ctl, err := build(d.Config())
	if err != nil {
		return err
	}
	d.admission = ctl
	d.reloaders = append(d.reloaders, func(cfg *config.Config) error {
		ctl, err := build(cfg)
		if err != nil {
			return err
		}
		d.mu.Lock()
		d.admission = ctl
		d.mu.Unlock()
		return nil
	})
	return nil
}

// admitter asks the current admission controller, so every gateway follows
// reloads without being rebuilt.
type admitter struct{ d *Daemon }

func (a admitter) Admit(ctx context.Context, record bool) error {
	a.d.mu.RLock()
	ctl := a.d.admission
	a.d.mu.RUnlock()
	return ctl.Admit(ctx, record)
}

// storeAuth authenticates gateway users against the store, for every
// gateway: each maps the store's failures onto its own sentinels.
type storeAuth struct{ st *store.Store }

// gatewayUser is a user as every gateway sees it.
type gatewayUser struct {
	ID, Name       string
	Groups         []string
	RecordSessions bool
}

func (a storeAuth) password(ctx context.Context, name string, password []byte) (gatewayUser, error) {
	u, err := a.st.Authenticate(ctx, name, string(password))
	if err != nil {
		return gatewayUser{}, err
	}
	return a.gatewayUser(ctx, u)
}

func (a storeAuth) gatewayUser(ctx context.Context, u store.User) (gatewayUser, error) {
	groups, err := a.st.UserGroups(ctx, u.ID)
	if err != nil {
		return gatewayUser{}, err
	}
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.Name
	}
	record, err := a.st.UserRecordSessions(ctx, u.ID)
	if err != nil {
		return gatewayUser{}, err
	}
	return gatewayUser{ID: strconv.FormatInt(u.ID, 10), Name: u.Name, Groups: names, RecordSessions: record}, nil
}

// sshAuth is storeAuth for the SSH gateway (passwords and public keys).
type sshAuth struct{ storeAuth }

func (u gatewayUser) ssh() sshproxy.User {
	return sshproxy.User{ID: u.ID, Name: u.Name, Groups: u.Groups, RecordSessions: u.RecordSessions}
}

func (a sshAuth) AuthenticatePassword(ctx context.Context, name string, password []byte) (sshproxy.User, error) {
	u, err := a.password(ctx, name, password)
	if err != nil {
		return sshproxy.User{}, sshAuthError(err)
	}
	return u.ssh(), nil
}

func (a sshAuth) AuthenticatePublicKey(ctx context.Context, name string, key ssh.PublicKey) (sshproxy.User, error) {
	u, err := a.st.FindUserByKeyFingerprint(ctx, ssh.FingerprintSHA256(key))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return sshproxy.User{}, sshproxy.ErrBadKey
	case err != nil:
		return sshproxy.User{}, err
	case u.Name != name:
		return sshproxy.User{}, sshproxy.ErrBadKey
	case u.Disabled:
		return sshproxy.User{}, sshproxy.ErrDisabled
	case u.LockedUntil.After(time.Now()):
		return sshproxy.User{}, sshproxy.ErrLocked
	}
	if err := a.st.RecordLoginSuccess(ctx, u.ID); err != nil {
		return sshproxy.User{}, err
	}
	gu, err := a.gatewayUser(ctx, u)
	return gu.ssh(), err
}

// sshAuthError maps the store's login failures onto the SSH gateway's,
// whose names become the account.login.failed_<reason> metrics.
func sshAuthError(err error) error {
	switch {
	case errors.Is(err, store.ErrUnknownUser):
		return sshproxy.ErrUnknownUser
	case errors.Is(err, store.ErrUserLocked):
		return sshproxy.ErrLocked
	case errors.Is(err, store.ErrUserDisabled):
		return sshproxy.ErrDisabled
	case errors.Is(err, store.ErrBadCredentials):
		return sshproxy.ErrBadPassword
	}
	return err
}

// defaultPorts are the targets' ports when a target leaves it 0.
var defaultPorts = map[store.Protocol]int{store.ProtocolSSH: 22, store.ProtocolVNC: 5900, store.ProtocolRDP: 3389}

// storeTargets gives the gateway the targets a user may reach, with their
// credentials decrypted only here, on the way to the target.
type storeTargets struct {
	st       *store.Store
	protocol store.Protocol
}

func (t storeTargets) PermittedTargets(ctx context.Context, u sshproxy.User) ([]sshproxy.Target, error) {
	id, err := strconv.ParseInt(u.ID, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("targets: user id %q: %w", u.ID, err)
	}
	ts, err := t.st.PermittedTargets(ctx, id)
	if err != nil {
		return nil, err
	}
	var out []sshproxy.Target
	for _, tg := range ts {
		if tg.Protocol != t.protocol {
			continue
		}
		gt := sshproxy.Target{
			ID: strconv.FormatInt(tg.ID, 10), Name: tg.Name, FriendlyName: tg.FriendlyName,
			Host: tg.Host, Port: tg.Port, Username: tg.Username,
			AllowPortForwarding: tg.AllowPortForwarding, AllowAgentForwarding: tg.AllowAgentForwarding,
		}
		if gt.Port == 0 {
			gt.Port = defaultPorts[t.protocol]
		}
		if tg.HostKey != "" {
			gt.PinnedHostKey = []byte(tg.HostKey)
		}
		cred, err := t.st.TargetCredential(ctx, tg.ID)
		switch {
		case errors.Is(err, store.ErrNoCredential):
		case err != nil:
			return nil, fmt.Errorf("targets: %s: %w", tg.Name, err)
		case cred.Kind == store.CredentialPassword:
			gt.Password = string(cred.Secret)
		default:
			gt.PrivateKey = cred.Secret
		}
		out = append(out, gt)
	}
	return out, nil
}

func (t storeTargets) PinHostKey(ctx context.Context, targetID string, key []byte) error {
	id, err := strconv.ParseInt(targetID, 10, 64)
	if err != nil {
		return fmt.Errorf("targets: id %q: %w", targetID, err)
	}
	err = t.st.PinTargetHostKey(ctx, id, string(key))
	if errors.Is(err, store.ErrHostKeyMismatch) {
		return sshproxy.ErrHostKeyMismatch
	}
	return err
}

// captureRecorder opens a signed capture per recorded session.
type captureRecorder struct{ d *Daemon }

func (r *captureRecorder) Open(ctx context.Context, m sshproxy.SessionMeta) (sshproxy.Capture, error) {
	w, err := r.d.openCapture(m.SessionID, m.User.Name, m.Protocol, m.Start, m.RecordInput)
	if err != nil {
		return nil, err
	}
	return sshCapture{w}, nil
}

type sshCapture struct{ w *capture.Writer }

func (c sshCapture) Write(k sshproxy.Kind, channel uint32, p []byte) error {
	return c.w.Write(capture.Kind(k), channel, p)
}
func (c sshCapture) Close() error { return c.w.Close() }
