package store

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"testing"
)

func TestGroups(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	ops, err := s.CreateGroup(ctx, "Operators", []Permission{PermSessionsView, PermSessionsKill, PermSessionsView},
		map[string]string{SettingRecordSessions: "False"})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ops.Permissions, []Permission{PermSessionsKill, PermSessionsView}) ||
		ops.Settings[SettingRecordSessions] != "false" || ops.Setting(SettingRecordSessions) != "false" {
		t.Errorf("created %+v", ops)
	}
	bad := []struct {
		name     string
		perms    []Permission
		settings map[string]string
		err      error
	}{
		{"Operators", nil, nil, ErrExists},
		{"", nil, nil, ErrInvalid},
		{"x", []Permission{"SUDO"}, nil, ErrInvalid},
		{"x", nil, map[string]string{"colour": "blue"}, ErrInvalid},
		{"x", nil, map[string]string{SettingRecordSessions: "maybe"}, ErrInvalid},
	}
	for _, b := range bad {
		if _, err := s.CreateGroup(ctx, b.name, b.perms, b.settings); !errors.Is(err, b.err) {
			t.Errorf("CreateGroup(%q, %v, %v) = %v, want %v", b.name, b.perms, b.settings, err, b.err)
		}
	}
	plain := must[Group](t)(s.CreateGroup(ctx, "Plain", nil, nil))
	if plain.Setting(SettingRecordSessions) != "true" || len(plain.Permissions) != 0 {
		t.Errorf("defaults: %+v", plain)
	}
	if got := must[Group](t)(s.GetGroupByName(ctx, "Operators")); !reflect.DeepEqual(got, ops) {
		t.Errorf("GetGroupByName = %+v, want %+v", got, ops)
	}
	gs := must[[]Group](t)(s.ListGroups(ctx))
	if len(gs) != 2 || gs[0].Name != "Operators" || gs[1].Name != "Plain" {
		t.Errorf("ListGroups = %+v", gs)
	}
	ops.Name, ops.Permissions, ops.Settings = "Ops", []Permission{PermLogsView}, nil
	upd, err := s.UpdateGroup(ctx, ops)
	if err != nil || upd.Name != "Ops" || !reflect.DeepEqual(upd.Permissions, []Permission{PermLogsView}) || len(upd.Settings) != 0 {
		t.Errorf("UpdateGroup = %+v, %v", upd, err)
	}
	if _, err := s.UpdateGroup(ctx, Group{ID: 999, Name: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("UpdateGroup(999): %v", err)
	}
	if _, err := s.UpdateGroup(ctx, Group{ID: ops.ID, Name: "Plain"}); !errors.Is(err, ErrExists) {
		t.Errorf("rename onto another group: %v", err)
	}
	if err := s.DeleteGroup(ctx, plain.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetGroup(ctx, plain.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted group: %v", err)
	}
	if err := s.DeleteGroup(ctx, plain.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func TestMembershipAndPolicy(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	u := must[User](t)(s.CreateUser(ctx, "alice", ""))
	view := must[Group](t)(s.CreateGroup(ctx, "viewers", []Permission{PermSessionsView, PermLogsView}, nil))
	kill := must[Group](t)(s.CreateGroup(ctx, "killers", []Permission{PermSessionsKill, PermLogsView},
		map[string]string{SettingRecordSessions: "false"}))
	quiet := must[Group](t)(s.CreateGroup(ctx, "quiet", nil, map[string]string{SettingRecordSessions: "false"}))
	loud := must[Group](t)(s.CreateGroup(ctx, "loud", nil, map[string]string{SettingRecordSessions: "true"}))

	if ps := must[[]Permission](t)(s.UserPermissions(ctx, u.ID)); len(ps) != 0 {
		t.Errorf("no groups, permissions %v", ps)
	}
	for _, g := range []int64{view.ID, kill.ID, kill.ID} {
		if err := s.AddUserToGroup(ctx, u.ID, g); err != nil {
			t.Fatal(err)
		}
	}
	want := []Permission{PermLogsView, PermSessionsKill, PermSessionsView}
	if ps := must[[]Permission](t)(s.UserPermissions(ctx, u.ID)); !reflect.DeepEqual(ps, want) {
		t.Errorf("UserPermissions = %v, want %v", ps, want)
	}
	if gs := must[[]Group](t)(s.UserGroups(ctx, u.ID)); len(gs) != 2 || gs[0].Name != "killers" || gs[1].Name != "viewers" {
		t.Errorf("UserGroups = %+v", gs)
	}
	if ms := must[[]User](t)(s.GroupMembers(ctx, kill.ID)); len(ms) != 1 || ms[0].ID != u.ID {
		t.Errorf("GroupMembers = %+v", ms)
	}
	if err := s.AddUserToGroup(ctx, u.ID, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing group: %v", err)
	}
	if err := s.AddUserToGroup(ctx, 999, view.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing user: %v", err)
	}
	for _, g := range []int64{view.ID, kill.ID} {
		if err := s.RemoveUserFromGroup(ctx, u.ID, g); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RemoveUserFromGroup(ctx, u.ID, view.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing a non-member: %v", err)
	}

	// Record unless every group of the user says false; no group: record.
	tests := []struct {
		name   string
		groups []int64
		want   bool
	}{
		{"no group", nil, true},
		{"default group", []int64{view.ID}, true},
		{"one false", []int64{quiet.ID}, false},
		{"all false", []int64{quiet.ID, kill.ID}, false},
		{"false and explicit true", []int64{quiet.ID, loud.ID}, true},
		{"false and default", []int64{quiet.ID, view.ID}, true},
	}
	for i, tt := range tests {
		user := must[User](t)(s.CreateUser(ctx, "user"+string(rune('a'+i)), ""))
		for _, g := range tt.groups {
			if err := s.AddUserToGroup(ctx, user.ID, g); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.UserRecordSessions(ctx, user.ID)
		if err != nil || got != tt.want {
			t.Errorf("%s: UserRecordSessions = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestBootstrap(t *testing.T) {
	ctx := context.Background()
	s, _ := newTestStore(t)
	res, err := s.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.AdminName != AdminUser || len(res.AdminPassword) != BootstrapPasswordLength {
		t.Fatalf("first Bootstrap = %+v", res)
	}
	admin, err := s.Authenticate(ctx, AdminUser, res.AdminPassword)
	if err != nil {
		t.Fatalf("admin cannot log in: %v", err)
	}
	if ps := must[[]Permission](t)(s.UserPermissions(ctx, admin.ID)); !reflect.DeepEqual(ps, AllPermissions()) {
		t.Errorf("admin permissions %v", ps)
	}
	users := must[Group](t)(s.GetGroupByName(ctx, UsersGroup))
	if len(users.Permissions) != 0 || users.Settings[SettingRecordSessions] != "true" {
		t.Errorf("Users group %+v", users)
	}
	// Later starts create nothing, even once admin is gone.
	if err := s.DeleteUser(ctx, admin.ID); err != nil {
		t.Fatal(err)
	}
	again, err := s.Bootstrap(ctx)
	if err != nil || again.Created || again.AdminPassword != "" {
		t.Fatalf("second Bootstrap = %+v, %v", again, err)
	}
	if _, err := s.GetUserByName(ctx, AdminUser); !errors.Is(err, ErrNotFound) {
		t.Errorf("admin came back: %v", err)
	}
}

func TestAllPermissionsSorted(t *testing.T) {
	ps := AllPermissions()
	if !slices.IsSorted(ps) || len(slices.Compact(slices.Clone(ps))) != 7 {
		t.Errorf("AllPermissions() = %v: want 7, sorted", ps)
	}
	for _, p := range ps {
		if got, err := ParsePermission(string(p)); got != p || err != nil {
			t.Errorf("ParsePermission(%q) = %q, %v", p, got, err)
		}
	}
	if _, err := ParsePermission("sessions_view"); !errors.Is(err, ErrInvalid) {
		t.Errorf("lowercase permission accepted: %v", err)
	}
}
