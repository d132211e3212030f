package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/wui"
)

// wuiErr maps the store's sentinels onto the WUI's.
func wuiErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: %w", wui.ErrNotFound, err)
	case errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrExists):
		return wui.FieldErrors{"": err.Error()}
	}
	return err
}

func (b *wuiBackend) Login(ctx context.Context, name, password string) (wui.LoginResult, error) {
	st := b.d.store
	u, err := st.Authenticate(ctx, name, password)
	if err == nil {
		p, err := b.Principal(ctx, u.ID)
		return wui.LoginResult{Outcome: wui.LoginOK, Principal: p}, err
	}
	res := wui.LoginResult{}
	switch {
	case errors.Is(err, store.ErrUnknownUser):
		res.Outcome = wui.LoginUnknownUser
		return res, nil
	case errors.Is(err, store.ErrUserDisabled):
		res.Outcome = wui.LoginDisabled
	case errors.Is(err, store.ErrUserLocked):
		res.Outcome = wui.LoginLocked
	case errors.Is(err, store.ErrBadCredentials):
		res.Outcome = wui.LoginBadPassword
	default:
		return res, err
	}
	if u, err := st.GetUserByName(ctx, name); err == nil {
		res.Principal = wui.Principal{UserID: u.ID, Name: u.Name}
		if u.LockedUntil.After(time.Now()) {
			res.LockedUntil = u.LockedUntil
			res.LockedNow = res.Outcome == wui.LoginBadPassword
			if res.LockedNow {
				res.Outcome = wui.LoginLocked
			}
		}
	}
	return res, nil
}

func (b *wuiBackend) Principal(ctx context.Context, userID int64) (wui.Principal, error) {
	u, err := b.d.store.GetUser(ctx, userID)
	if err != nil {
		return wui.Principal{}, wuiErr(err)
	}
	// A lockout, like disabling, ends the sessions the user already has.
	if u.Disabled || u.Locked(time.Now()) {
		return wui.Principal{}, fmt.Errorf("%w: user %d is disabled or locked out", wui.ErrAccountDisabled, userID)
	}
	perms, err := b.d.store.UserPermissions(ctx, userID)
	if err != nil {
		return wui.Principal{}, err
	}
	p := wui.Principal{UserID: u.ID, Name: u.Name}
	for _, q := range perms {
		p.Permissions = append(p.Permissions, wui.Permission(q))
	}
	return p, nil
}

func (b *wuiBackend) wuiUser(ctx context.Context, u store.User) (wui.User, error) {
	gs, err := b.d.store.UserGroups(ctx, u.ID)
	if err != nil {
		return wui.User{}, err
	}
	out := wui.User{ID: u.ID, Name: u.Name, HasPassword: u.HasPassword, Disabled: u.Disabled, FailedLogins: u.FailedLogins,
		LockedUntil: u.LockedUntil, LastLogin: u.LastLogin, Created: u.Created}
	for _, g := range gs {
		out.Groups = append(out.Groups, g.ID)
	}
	return out, nil
}

func (b *wuiBackend) ListUsers(ctx context.Context) ([]wui.User, error) {
	us, err := b.d.store.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]wui.User, 0, len(us))
	for _, u := range us {
		wu, err := b.wuiUser(ctx, u)
		if err != nil {
			return nil, err
		}
		out = append(out, wu)
	}
	return out, nil
}

func (b *wuiBackend) User(ctx context.Context, id int64) (wui.User, error) {
	u, err := b.d.store.GetUser(ctx, id)
	if err != nil {
		return wui.User{}, wuiErr(err)
	}
	return b.wuiUser(ctx, u)
}

func (b *wuiBackend) CreateUser(ctx context.Context, in wui.UserInput) (wui.User, error) {
	u, err := b.d.store.CreateUser(ctx, in.Name, in.Password)
	if err != nil {
		return wui.User{}, wuiErr(err)
	}
	return b.UpdateUser(ctx, u.ID, wui.UserInput{Name: u.Name, Disabled: in.Disabled, Groups: in.Groups})
}

func (b *wuiBackend) UpdateUser(ctx context.Context, id int64, in wui.UserInput) (wui.User, error) {
	st := b.d.store
	u, err := st.GetUser(ctx, id)
	if err != nil {
		return wui.User{}, wuiErr(err)
	}
	if in.Name != "" && in.Name != u.Name {
		return wui.User{}, wui.FieldErrors{"name": "a user cannot be renamed; add a new user instead"}
	}
	if in.Password != "" {
		if err := st.SetPassword(ctx, id, in.Password); err != nil {
			return wui.User{}, wuiErr(err)
		}
	}
	if in.Disabled != u.Disabled {
		if err := st.SetUserDisabled(ctx, id, in.Disabled); err != nil {
			return wui.User{}, wuiErr(err)
		}
	}
	cur, err := st.UserGroups(ctx, id)
	if err != nil {
		return wui.User{}, err
	}
	var have []int64
	for _, g := range cur {
		have = append(have, g.ID)
		if !slices.Contains(in.Groups, g.ID) {
			if err := st.RemoveUserFromGroup(ctx, id, g.ID); err != nil {
				return wui.User{}, wuiErr(err)
			}
		}
	}
	for _, g := range in.Groups {
		if !slices.Contains(have, g) {
			if err := st.AddUserToGroup(ctx, id, g); err != nil {
				return wui.User{}, wuiErr(err)
			}
		}
	}
	return b.User(ctx, id)
}

func (b *wuiBackend) UnlockUser(ctx context.Context, id int64) error {
	return wuiErr(b.d.store.UnlockUser(ctx, id))
}

func (b *wuiBackend) DeleteUser(ctx context.Context, id int64) error {
	return wuiErr(b.d.store.DeleteUser(ctx, id))
}

func (b *wuiBackend) wuiGroup(ctx context.Context, g store.Group) (wui.Group, error) {
	members, err := b.d.store.GroupMembers(ctx, g.ID)
	if err != nil {
		return wui.Group{}, err
	}
	out := wui.Group{ID: g.ID, Name: g.Name, RecordSessions: g.Settings[store.SettingRecordSessions] != "false", Members: len(members)}
	for _, p := range g.Permissions {
		out.Permissions = append(out.Permissions, wui.Permission(p))
	}
	return out, nil
}

func (b *wuiBackend) ListGroups(ctx context.Context) ([]wui.Group, error) {
	gs, err := b.d.store.ListGroups(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]wui.Group, 0, len(gs))
	for _, g := range gs {
		wg, err := b.wuiGroup(ctx, g)
		if err != nil {
			return nil, err
		}
		out = append(out, wg)
	}
	return out, nil
}

func (b *wuiBackend) Group(ctx context.Context, id int64) (wui.Group, error) {
	g, err := b.d.store.GetGroup(ctx, id)
	if err != nil {
		return wui.Group{}, wuiErr(err)
	}
	return b.wuiGroup(ctx, g)
}

func storePerms(in []wui.Permission) []store.Permission {
	out := make([]store.Permission, len(in))
	for i, p := range in {
		out[i] = store.Permission(p)
	}
	return out
}

func (b *wuiBackend) CreateGroup(ctx context.Context, in wui.GroupInput) (wui.Group, error) {
	g, err := b.d.store.CreateGroup(ctx, in.Name, storePerms(in.Permissions),
		map[string]string{store.SettingRecordSessions: boolStr(in.RecordSessions)})
	if err != nil {
		return wui.Group{}, wuiErr(err)
	}
	return b.wuiGroup(ctx, g)
}

func (b *wuiBackend) UpdateGroup(ctx context.Context, id int64, in wui.GroupInput) (wui.Group, error) {
	g, err := b.d.store.GetGroup(ctx, id)
	if err != nil {
		return wui.Group{}, wuiErr(err)
	}
	g.Name, g.Permissions = in.Name, storePerms(in.Permissions)
	if g.Settings == nil {
		g.Settings = map[string]string{}
	}
	g.Settings[store.SettingRecordSessions] = boolStr(in.RecordSessions)
	g, err = b.d.store.UpdateGroup(ctx, g)
	if err != nil {
		return wui.Group{}, wuiErr(err)
	}
	return b.wuiGroup(ctx, g)
}

func (b *wuiBackend) DeleteGroup(ctx context.Context, id int64) error {
	return wuiErr(b.d.store.DeleteGroup(ctx, id))
}

func wuiTarget(t store.Target) wui.Target {
	return wui.Target{ID: t.ID, Name: t.Name, FriendlyName: t.FriendlyName, Protocol: string(t.Protocol), Host: t.Host,
		Port: t.Port, Username: t.Username, CredentialKind: string(t.CredentialKind), Groups: t.Groups}
}

func (b *wuiBackend) ListTargets(ctx context.Context) ([]wui.Target, error) {
	ts, err := b.d.store.ListTargets(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]wui.Target, len(ts))
	for i, t := range ts {
		out[i] = wuiTarget(t)
	}
	return out, nil
}

func (b *wuiBackend) Target(ctx context.Context, id int64) (wui.Target, error) {
	t, err := b.d.store.GetTarget(ctx, id)
	return wuiTarget(t), wuiErr(err)
}

// credential is the write-only secret of a target form; nil when the form
// leaves it unchanged.
func credential(in wui.TargetInput) *store.Credential {
	if in.CredentialSecret == "" {
		return nil
	}
	kind := store.CredentialKind(in.CredentialKind)
	if kind == "" {
		kind = store.CredentialPassword
	}
	return &store.Credential{Kind: kind, Secret: []byte(in.CredentialSecret)}
}

func (b *wuiBackend) CreateTarget(ctx context.Context, in wui.TargetInput) (wui.Target, error) {
	t, err := b.d.store.CreateTarget(ctx, store.Target{Name: in.Name, FriendlyName: in.FriendlyName,
		Protocol: store.Protocol(in.Protocol), Host: in.Host, Port: in.Port, Username: in.Username, Groups: in.Groups}, credential(in))
	return wuiTarget(t), wuiErr(err)
}

func (b *wuiBackend) UpdateTarget(ctx context.Context, id int64, in wui.TargetInput) (wui.Target, error) {
	t, err := b.d.store.GetTarget(ctx, id)
	if err != nil {
		return wui.Target{}, wuiErr(err)
	}
	t.Name, t.FriendlyName, t.Protocol, t.Host, t.Port, t.Username, t.Groups =
		in.Name, in.FriendlyName, store.Protocol(in.Protocol), in.Host, in.Port, in.Username, in.Groups
	if t, err = b.d.store.UpdateTarget(ctx, t); err != nil {
		return wui.Target{}, wuiErr(err)
	}
	if c := credential(in); c != nil {
		if err := b.d.store.SetTargetCredential(ctx, id, c); err != nil {
			return wui.Target{}, wuiErr(err)
		}
	}
	return b.Target(ctx, id)
}

func (b *wuiBackend) DeleteTarget(ctx context.Context, id int64) error {
	return wuiErr(b.d.store.DeleteTarget(ctx, id))
}
