package app

import (
	"context"
	"errors"
	"path/filepath"

	vncproxy "github.com/vigilgw/vigil/daemon/internal/proxy/vnc"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
)

// startVNC starts the VNC gateway on [vnc] listen: RFB for native viewers,
// users authenticated as themselves over VeNCrypt, the target logged into
// with its stored password.
func (d *Daemon) startVNC(ctx context.Context) error {
	cfg := d.Config()
	if !cfg.VNC.Enabled {
		return nil
	}
	cert, key := cfg.VNC.TLSCert, cfg.VNC.TLSKey
	if cert == "" || key == "" {
		cert, key = filepath.Join(d.layout.Keys(), "vnc.crt"), filepath.Join(d.layout.Keys(), "vnc.key")
	}
	// A generated certificate names the listen address, localhost,
	// 127.0.0.1 and the host name (vncproxy's defaults).
	srv, err := vncproxy.New(vncproxy.Config{
		ListenAddr: cfg.VNC.Listen, TLSCertFile: cert, TLSKeyFile: key,
		LoginGrace: cfg.VNC.LoginGrace, IdleTimeout: cfg.VNC.IdleTimeout,
		RecordInput:   cfg.Recording.RecordInput,
		Authenticator: vncAuth{storeAuth{d.store}},
		Targets:       vncTargets{storeTargets{d.store, store.ProtocolVNC}},
		Recorder:      vncRecorder{d},
		Admission:     admitter{d},
		Events:        d.bus,
		Sessions:      d.sessions,
		Logger:        d.slogger("vnc"),
	})
	if err != nil {
		return err
	}
	ln, err := listen("vnc", cfg.VNC.Listen)
	if err != nil {
		return err
	}
	d.serve("vnc", "vnc ", ln, srv.Serve, vncproxy.ErrServerClosed)
	d.stopGateway("vnc", srv)
	return nil
}

type vncAuth struct{ storeAuth }

func (a vncAuth) AuthenticatePassword(ctx context.Context, name string, password []byte) (vncproxy.User, error) {
	u, err := a.password(ctx, name, password)
	switch {
	case errors.Is(err, store.ErrUnknownUser):
		return vncproxy.User{}, vncproxy.ErrUnknownUser
	case errors.Is(err, store.ErrUserLocked):
		return vncproxy.User{}, vncproxy.ErrLocked
	case errors.Is(err, store.ErrUserDisabled):
		return vncproxy.User{}, vncproxy.ErrDisabled
	case errors.Is(err, store.ErrBadCredentials):
		return vncproxy.User{}, vncproxy.ErrBadPassword
	case err != nil:
		return vncproxy.User{}, err
	}
	return vncproxy.User{ID: u.ID, Name: u.Name, Groups: u.Groups, RecordSessions: u.RecordSessions}, nil
}

// vncTargets reuses the SSH gateway's store lookup (permitted targets of
// the user's groups, credentials decrypted only here) for VNC targets.
type vncTargets struct{ st storeTargets }

func (t vncTargets) PermittedTargets(ctx context.Context, u vncproxy.User) ([]vncproxy.Target, error) {
	ts, err := t.st.PermittedTargets(ctx, gatewayUser{ID: u.ID, Name: u.Name}.ssh())
	if err != nil {
		return nil, err
	}
	out := make([]vncproxy.Target, 0, len(ts))
	for _, tg := range ts {
		out = append(out, vncproxy.Target{ID: tg.ID, Name: tg.Name, FriendlyName: tg.FriendlyName, Host: tg.Host, Port: tg.Port, Password: tg.Password})
	}
	return out, nil
}

type vncRecorder struct{ d *Daemon }

func (r vncRecorder) Open(ctx context.Context, m vncproxy.SessionMeta) (vncproxy.Capture, error) {
	w, err := r.d.openCapture(m.SessionID, m.User.Name, m.Protocol, m.Start, m.RecordInput)
	if err != nil {
		return nil, err
	}
	return vncCapture{w}, nil
}

type vncCapture struct{ w *capture.Writer }

func (c vncCapture) Write(k capture.Kind, channel uint32, p []byte) error {
	return c.w.Write(k, channel, p)
}
func (c vncCapture) Close() error { return c.w.Close() }
