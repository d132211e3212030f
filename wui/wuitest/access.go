package wuitest

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/vigilgw/vigil/wui"
)

// Login checks the password and applies the lockout policy.
func (f *Fake) Login(_ context.Context, name, password string) (wui.LoginResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.userByName(name)
	if u == nil {
		return wui.LoginResult{Outcome: wui.LoginUnknownUser}, nil
	}
	now := f.now()
	res := wui.LoginResult{Principal: wui.Principal{UserID: u.ID, Name: u.Name}, LockedUntil: u.LockedUntil}
	switch {
	case u.Disabled:
		res.Outcome = wui.LoginDisabled
	case now.Before(u.LockedUntil):
		res.Outcome = wui.LoginLocked
	case u.password == "" || u.password != password:
		res.Outcome = wui.LoginBadPassword
		if !u.LockedUntil.IsZero() { // an expired lock starts the count again
			u.LockedUntil, u.FailedLogins = time.Time{}, 0
		}
		u.FailedLogins++
		if u.FailedLogins >= MaxFailures {
			u.LockedUntil, u.FailedLogins = now.Add(LockDuration), 0
			res.LockedNow, res.LockedUntil = true, u.LockedUntil
		}
	default:
		u.FailedLogins, u.LastLogin = 0, now
		res.Outcome = wui.LoginOK
		res.Principal = f.principalLocked(u)
	}
	return res, nil
}

// Principal returns the user's permissions: the union of their groups'.
func (f *Fake) Principal(_ context.Context, userID int64) (wui.Principal, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.users[userID]
	if u == nil {
		return wui.Principal{}, fmt.Errorf("wuitest: user %d: %w", userID, wui.ErrNotFound)
	}
	if u.Disabled || f.now().Before(u.LockedUntil) {
		return wui.Principal{}, fmt.Errorf("wuitest: user %s: %w", u.Name, wui.ErrAccountDisabled)
	}
	return f.principalLocked(u), nil
}

func (f *Fake) principalLocked(u *fakeUser) wui.Principal {
	p := wui.Principal{UserID: u.ID, Name: u.Name}
	for _, perm := range wui.AllPermissions() {
		for _, gid := range u.Groups {
			if g := f.groups[gid]; g != nil && hasPerm(g.Permissions, perm) {
				p.Permissions = append(p.Permissions, perm)
				break
			}
		}
	}
	return p
}

func hasPerm(ps []wui.Permission, p wui.Permission) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func (f *Fake) userByName(name string) *fakeUser {
	for _, u := range f.users {
		if u.Name == name {
			return u
		}
	}
	return nil
}

// AddUser creates a user with a group of its own granting perms, and
// returns the user's id. For tests.
func (f *Fake) AddUser(name, password string, perms ...wui.Permission) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := &wui.Group{ID: f.id(), Name: "role-" + name, Permissions: perms, RecordSessions: true, Members: 1}
	f.groups[g.ID] = g
	u := &fakeUser{User: wui.User{ID: f.id(), Name: name, HasPassword: true, Created: f.now(), Groups: []int64{g.ID}}, password: password}
	f.users[u.ID] = u
	return u.ID
}

// SetDisabled disables or enables a user. For tests.
func (f *Fake) SetDisabled(id int64, disabled bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if u := f.users[id]; u != nil {
		u.Disabled = disabled
	}
}

var nameRE = regexp.MustCompile(`^[^\x00-\x1f\x7f]{1,256}$`)

func (f *Fake) ListUsers(context.Context) ([]wui.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]wui.User, 0, len(f.users))
	for _, u := range f.users {
		out = append(out, u.User)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *Fake) User(_ context.Context, id int64) (wui.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.users[id]
	if u == nil {
		return wui.User{}, fmt.Errorf("wuitest: user %d: %w", id, wui.ErrNotFound)
	}
	return u.User, nil
}

func (f *Fake) checkUser(id int64, in wui.UserInput) wui.FieldErrors {
	fe := wui.FieldErrors{}
	if !nameRE.MatchString(in.Name) {
		fe["name"] = "a name is 1 to 256 characters, without control characters"
	} else if other := f.userByName(in.Name); other != nil && other.ID != id {
		fe["name"] = "a user with this name exists"
	}
	if id == 0 && in.Password == "" {
		fe["password"] = "a new user needs a password"
	} else if in.Password != "" && len(in.Password) < 8 {
		fe["password"] = "at least 8 characters"
	}
	for _, g := range in.Groups {
		if f.groups[g] == nil {
			fe["groups"] = "unknown group"
		}
	}
	if len(fe) == 0 {
		return nil
	}
	return fe
}

func (f *Fake) CreateUser(_ context.Context, in wui.UserInput) (wui.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fe := f.checkUser(0, in); fe != nil {
		return wui.User{}, fe
	}
	u := &fakeUser{User: wui.User{ID: f.id(), Name: in.Name, HasPassword: true, Disabled: in.Disabled, Created: f.now(), Groups: in.Groups}, password: in.Password}
	f.users[u.ID] = u
	f.countMembers()
	return u.User, nil
}

func (f *Fake) UpdateUser(_ context.Context, id int64, in wui.UserInput) (wui.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.users[id]
	if u == nil {
		return wui.User{}, fmt.Errorf("wuitest: user %d: %w", id, wui.ErrNotFound)
	}
	if fe := f.checkUser(id, in); fe != nil {
		return wui.User{}, fe
	}
	u.Name, u.Disabled, u.Groups = in.Name, in.Disabled, in.Groups
	if in.Password != "" {
		u.password = in.Password
	}
	f.countMembers()
	return u.User, nil
}

func (f *Fake) UnlockUser(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.users[id]
	if u == nil {
		return fmt.Errorf("wuitest: user %d: %w", id, wui.ErrNotFound)
	}
	u.LockedUntil, u.FailedLogins = time.Time{}, 0
	return nil
}

func (f *Fake) DeleteUser(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.users[id] == nil {
		return fmt.Errorf("wuitest: user %d: %w", id, wui.ErrNotFound)
	}
	delete(f.users, id)
	f.countMembers()
	return nil
}

func (f *Fake) countMembers() {
	for _, g := range f.groups {
		g.Members = 0
	}
	for _, u := range f.users {
		for _, gid := range u.Groups {
			if g := f.groups[gid]; g != nil {
				g.Members++
			}
		}
	}
}

func (f *Fake) ListGroups(context.Context) ([]wui.Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]wui.Group, 0, len(f.groups))
	for _, g := range f.groups {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *Fake) Group(_ context.Context, id int64) (wui.Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groups[id]
	if g == nil {
		return wui.Group{}, fmt.Errorf("wuitest: group %d: %w", id, wui.ErrNotFound)
	}
	return *g, nil
}

func (f *Fake) checkGroup(id int64, in wui.GroupInput) error {
	if !nameRE.MatchString(in.Name) {
		return wui.FieldErrors{"name": "a name is 1 to 256 characters, without control characters"}
	}
	for _, g := range f.groups {
		if g.Name == in.Name && g.ID != id {
			return wui.FieldErrors{"name": "a group with this name exists"}
		}
	}
	return nil
}

func (f *Fake) CreateGroup(_ context.Context, in wui.GroupInput) (wui.Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkGroup(0, in); err != nil {
		return wui.Group{}, err
	}
	g := &wui.Group{ID: f.id(), Name: in.Name, Permissions: in.Permissions, RecordSessions: in.RecordSessions}
	f.groups[g.ID] = g
	return *g, nil
}

func (f *Fake) UpdateGroup(_ context.Context, id int64, in wui.GroupInput) (wui.Group, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groups[id]
	if g == nil {
		return wui.Group{}, fmt.Errorf("wuitest: group %d: %w", id, wui.ErrNotFound)
	}
	if err := f.checkGroup(id, in); err != nil {
		return wui.Group{}, err
	}
	g.Name, g.Permissions, g.RecordSessions = in.Name, in.Permissions, in.RecordSessions
	return *g, nil
}

func (f *Fake) DeleteGroup(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.groups[id] == nil {
		return fmt.Errorf("wuitest: group %d: %w", id, wui.ErrNotFound)
	}
	delete(f.groups, id)
	for _, u := range f.users {
		u.Groups = without(u.Groups, id)
	}
	for _, t := range f.targets {
		t.Groups = without(t.Groups, id)
	}
	return nil
}

func without(ids []int64, id int64) []int64 {
	var out []int64
	for _, x := range ids {
		if x != id {
			out = append(out, x)
		}
	}
	return out
}

var targetNameRE = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func (f *Fake) ListTargets(context.Context) ([]wui.Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]wui.Target, 0, len(f.targets))
	for _, t := range f.targets {
		out = append(out, t.Target)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *Fake) Target(_ context.Context, id int64) (wui.Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.targets[id]
	if t == nil {
		return wui.Target{}, fmt.Errorf("wuitest: target %d: %w", id, wui.ErrNotFound)
	}
	return t.Target, nil
}

// TargetSecret returns a target's stored credential. For tests that check
// it was written and never shown.
func (f *Fake) TargetSecret(id int64) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t := f.targets[id]; t != nil {
		return t.secret
	}
	return ""
}

func (f *Fake) checkTarget(id int64, in wui.TargetInput) wui.FieldErrors {
	fe := wui.FieldErrors{}
	if !targetNameRE.MatchString(in.Name) {
		fe["name"] = "1 to 64 letters, digits, '.', '_' or '-'"
	}
	for _, t := range f.targets {
		if t.Name == in.Name && t.ID != id {
			fe["name"] = "a target with this name exists"
		}
	}
	switch in.Protocol {
	case "ssh", "vnc", "rdp":
	default:
		fe["protocol"] = "ssh, vnc or rdp"
	}
	if strings.TrimSpace(in.Host) == "" {
		fe["host"] = "required"
	}
	if in.Port < 0 || in.Port > 65535 {
		fe["port"] = "1 to 65535"
	}
	switch in.CredentialKind {
	case "", "password", "private_key":
	default:
		fe["credential_kind"] = "password or private_key"
	}
	if in.CredentialKind == "private_key" && in.CredentialSecret != "" && !strings.Contains(in.CredentialSecret, "PRIVATE KEY") {
		fe["credential_secret"] = "not a PEM or OpenSSH private key"
	}
	if len(fe) == 0 {
		return nil
	}
	return fe
}

func (f *Fake) CreateTarget(_ context.Context, in wui.TargetInput) (wui.Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if fe := f.checkTarget(0, in); fe != nil {
		return wui.Target{}, fe
	}
	t := &fakeTarget{secret: in.CredentialSecret}
	t.Target = targetOf(f.id(), in)
	if in.CredentialSecret == "" {
		t.CredentialKind = ""
	}
	f.targets[t.ID] = t
	return t.Target, nil
}

func targetOf(id int64, in wui.TargetInput) wui.Target {
	return wui.Target{ID: id, Name: in.Name, FriendlyName: in.FriendlyName, Protocol: in.Protocol, Host: in.Host,
		Port: in.Port, Username: in.Username, CredentialKind: in.CredentialKind, Groups: in.Groups}
}

func (f *Fake) UpdateTarget(_ context.Context, id int64, in wui.TargetInput) (wui.Target, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.targets[id]
	if t == nil {
		return wui.Target{}, fmt.Errorf("wuitest: target %d: %w", id, wui.ErrNotFound)
	}
	if fe := f.checkTarget(id, in); fe != nil {
		return wui.Target{}, fe
	}
	kind := t.CredentialKind
	t.Target = targetOf(id, in)
	switch {
	case in.CredentialSecret != "":
		t.secret = in.CredentialSecret
	case in.CredentialKind == "":
		t.secret = ""
	default:
		t.CredentialKind = kind
	}
	return t.Target, nil
}

func (f *Fake) DeleteTarget(_ context.Context, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.targets[id] == nil {
		return fmt.Errorf("wuitest: target %d: %w", id, wui.ErrNotFound)
	}
	delete(f.targets, id)
	return nil
}
