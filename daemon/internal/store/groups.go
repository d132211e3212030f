package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Permission is a right a group grants its members.
type Permission string

// The permissions groups can grant (named as in the Kasm seeds).
const (
	PermSessionsView          Permission = "SESSIONS_VIEW"           // session history page
	PermSessionRecordingsView Permission = "SESSION_RECORDINGS_VIEW" // play and download recordings
	PermSessionsKill          Permission = "SESSIONS_KILL"
	PermLogsView              Permission = "LOGS_VIEW"
	PermReportsView           Permission = "REPORTS_VIEW"
	PermSettingsEdit          Permission = "SETTINGS_EDIT"
	PermUsersAdmin            Permission = "USERS_ADMIN" // users, groups, targets
)

// AllPermissions lists every permission, sorted.
func AllPermissions() []Permission {
	return []Permission{
		PermLogsView, PermReportsView, PermSessionsKill, PermSessionsView,
		PermSessionRecordingsView, PermSettingsEdit, PermUsersAdmin,
	}
}

// ParsePermission returns the permission named s, or ErrInvalid.
func ParsePermission(s string) (Permission, error) {
	p := Permission(s)
	if !slices.Contains(AllPermissions(), p) {
		return "", fmt.Errorf("%w: unknown permission %q", ErrInvalid, s)
	}
	return p, nil
}

// Group settings. Every key is known; a group without a key has its default.
const (
	// SettingRecordSessions ("true" or "false", default "true"): whether
	// members' sessions are recorded. See UserRecordSessions.
	SettingRecordSessions = "record_sessions"
)

var settingDefaults = map[string]string{SettingRecordSessions: "true"}

// normalizeSetting validates one setting and returns its canonical value.
func normalizeSetting(key, value string) (string, error) {
	switch key {
	case SettingRecordSessions:
		b, err := strconv.ParseBool(strings.TrimSpace(value))
		if err != nil {
			return "", fmt.Errorf("%w: setting %s: %q is not true or false", ErrInvalid, key, value)
		}
		return strconv.FormatBool(b), nil
	}
	return "", fmt.Errorf("%w: unknown group setting %q", ErrInvalid, key)
}

// Group is a set of users sharing permissions, settings and targets.
type Group struct {
	ID          int64
	Name        string
	Permissions []Permission      // sorted
	Settings    map[string]string // explicitly set keys only; see Setting
	Created     time.Time
}

// Setting returns the group's value for key, or the key's default.
func (g Group) Setting(key string) string {
	if v, ok := g.Settings[key]; ok {
		return v
	}
	return settingDefaults[key]
}

func normalizeGroup(name string, perms []Permission, settings map[string]string) ([]Permission, map[string]string, error) {
	if err := ValidateName(name); err != nil {
		return nil, nil, err
	}
	ps := make([]Permission, 0, len(perms))
	for _, p := range perms {
		if _, err := ParsePermission(string(p)); err != nil {
			return nil, nil, err
		}
		ps = append(ps, p)
	}
	slices.Sort(ps)
	ps = slices.Compact(ps)
	ss := make(map[string]string, len(settings))
	for k, v := range settings {
		nv, err := normalizeSetting(k, v)
		if err != nil {
			return nil, nil, err
		}
		ss[k] = nv
	}
	return ps, ss, nil
}

// CreateGroup adds a group. Unknown permissions and settings are ErrInvalid.
func (s *Store) CreateGroup(ctx context.Context, name string, perms []Permission, settings map[string]string) (Group, error) {
	ps, ss, err := normalizeGroup(name, perms, settings)
	if err != nil {
		return Group{}, wrap("create group", err)
	}
	g := Group{Name: name, Permissions: ps, Settings: ss, Created: fromNS(ns(s.now()))}
	err = s.writeDurable(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO groups (name, created_at) VALUES (?, ?) RETURNING id`,
			name, ns(g.Created)).Scan(&g.ID)
		if err != nil {
			return constraintErr(err, "group name")
		}
		return writeGroupPolicy(ctx, tx, g)
	})
	return g, wrap("create group "+quote(name), err)
}

// UpdateGroup renames group id and replaces its permissions and settings.
func (s *Store) UpdateGroup(ctx context.Context, g Group) (Group, error) {
	ps, ss, err := normalizeGroup(g.Name, g.Permissions, g.Settings)
	if err != nil {
		return Group{}, wrap("update group", err)
	}
	g.Permissions, g.Settings = ps, ss
	err = s.writeDurable(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `UPDATE groups SET name = ? WHERE id = ? RETURNING created_at`, g.Name, g.ID).
			Scan(new(int64))
		if err != nil {
			return notFound(constraintErr(err, "group name"), fmt.Sprintf("group %d", g.ID))
		}
		for _, q := range []string{`DELETE FROM group_permissions WHERE group_id = ?`, `DELETE FROM group_settings WHERE group_id = ?`} {
			if _, err := tx.ExecContext(ctx, q, g.ID); err != nil {
				return err
			}
		}
		if err := writeGroupPolicy(ctx, tx, g); err != nil {
			return err
		}
		g, err = loadGroup(ctx, tx, `WHERE id = ?`, g.ID)
		return err
	})
	return g, wrap("update group", err)
}

func writeGroupPolicy(ctx context.Context, tx *sql.Tx, g Group) error {
	for _, p := range g.Permissions {
		if _, err := tx.ExecContext(ctx, `INSERT INTO group_permissions (group_id, permission) VALUES (?, ?)`, g.ID, string(p)); err != nil {
			return err
		}
	}
	for k, v := range g.Settings {
		if _, err := tx.ExecContext(ctx, `INSERT INTO group_settings (group_id, key, value) VALUES (?, ?, ?)`, g.ID, k, v); err != nil {
			return err
		}
	}
	return nil
}

// GetGroup returns group id.
func (s *Store) GetGroup(ctx context.Context, id int64) (Group, error) {
	var g Group
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		g, err = loadGroup(ctx, tx, `WHERE id = ?`, id)
		return notFound(err, fmt.Sprintf("group %d", id))
	})
	return g, wrap("get group", err)
}

// GetGroupByName returns the group called name.
func (s *Store) GetGroupByName(ctx context.Context, name string) (Group, error) {
	var g Group
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		g, err = loadGroup(ctx, tx, `WHERE name = ?`, name)
		return notFound(err, "group "+quote(name))
	})
	return g, wrap("get group", err)
}

// ListGroups returns every group, by name.
func (s *Store) ListGroups(ctx context.Context) ([]Group, error) {
	var gs []Group
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		gs, err = loadGroups(ctx, tx, `SELECT id FROM groups`)
		return err
	})
	return gs, wrap("list groups", err)
}

// UserGroups returns the groups user userID belongs to, by name.
func (s *Store) UserGroups(ctx context.Context, userID int64) ([]Group, error) {
	var gs []Group
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		gs, err = loadGroups(ctx, tx, `SELECT group_id FROM user_groups WHERE user_id = ?`, userID)
		return err
	})
	return gs, wrap("user groups", err)
}

func loadGroup(ctx context.Context, tx *sql.Tx, where string, arg any) (Group, error) {
	var id int64
	if err := tx.QueryRowContext(ctx, `SELECT id FROM groups `+where, arg).Scan(&id); err != nil {
		return Group{}, err
	}
	gs, err := loadGroups(ctx, tx, `SELECT ?`, id)
	if err != nil {
		return Group{}, err
	}
	return gs[0], nil
}

// loadGroups loads the groups whose ids idQuery selects, with their
// permissions and settings, ordered by name.
func loadGroups(ctx context.Context, tx *sql.Tx, idQuery string, args ...any) ([]Group, error) {
	sel := `WITH ids(id) AS (` + idQuery + `) `
	rows, err := tx.QueryContext(ctx, sel+`SELECT g.id, g.name, g.created_at FROM groups g JOIN ids USING (id) ORDER BY g.name`, args...)
	if err != nil {
		return nil, err
	}
	gs, err := collect(rows, func(r scanner) (Group, error) {
		var g Group
		var created int64
		err := r.Scan(&g.ID, &g.Name, &created)
		g.Created, g.Settings, g.Permissions = fromNS(created), map[string]string{}, []Permission{}
		return g, err
	})
	if err != nil {
		return nil, err
	}
	byID := make(map[int64]*Group, len(gs))
	for i := range gs {
		byID[gs[i].ID] = &gs[i]
	}
	rows, err = tx.QueryContext(ctx, sel+`SELECT group_id, permission FROM group_permissions JOIN ids ON ids.id = group_id
		ORDER BY permission`, args...)
	if err != nil {
		return nil, err
	}
	_, err = collect(rows, func(r scanner) (struct{}, error) {
		var id int64
		var p string
		if err := r.Scan(&id, &p); err != nil {
			return struct{}{}, err
		}
		byID[id].Permissions = append(byID[id].Permissions, Permission(p))
		return struct{}{}, nil
	})
	if err != nil {
		return nil, err
	}
	rows, err = tx.QueryContext(ctx, sel+`SELECT group_id, key, value FROM group_settings JOIN ids ON ids.id = group_id`, args...)
	if err != nil {
		return nil, err
	}
	_, err = collect(rows, func(r scanner) (struct{}, error) {
		var id int64
		var k, v string
		if err := r.Scan(&id, &k, &v); err != nil {
			return struct{}{}, err
		}
		byID[id].Settings[k] = v
		return struct{}{}, nil
	})
	return gs, err
}

// DeleteGroup removes a group; its members and targets lose it.
func (s *Store) DeleteGroup(ctx context.Context, id int64) error {
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM groups WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return rowsAffected(res, fmt.Sprintf("group %d", id))
	})
	return wrap("delete group", err)
}

// AddUserToGroup makes the user a member; already being one is not an error.
func (s *Store) AddUserToGroup(ctx context.Context, userID, groupID int64) error {
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO user_groups (user_id, group_id) VALUES (?, ?) ON CONFLICT DO NOTHING`,
			userID, groupID)
		return constraintErr(err, fmt.Sprintf("user %d or group %d", userID, groupID))
	})
	return wrap("add user to group", err)
}

// RemoveUserFromGroup ends a membership; ErrNotFound if there was none.
func (s *Store) RemoveUserFromGroup(ctx context.Context, userID, groupID int64) error {
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM user_groups WHERE user_id = ? AND group_id = ?`, userID, groupID)
		if err != nil {
			return err
		}
		return rowsAffected(res, fmt.Sprintf("user %d in group %d", userID, groupID))
	})
	return wrap("remove user from group", err)
}

// GroupMembers returns the members of group groupID, by name.
func (s *Store) GroupMembers(ctx context.Context, groupID int64) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+prefixCols("u.", userCols)+`
		FROM user_groups ug JOIN users u ON u.id = ug.user_id WHERE ug.group_id = ? ORDER BY u.name`, groupID)
	if err != nil {
		return nil, wrap("group members", err)
	}
	us, err := collect(rows, scanUser)
	return us, wrap("group members", err)
}

// UserPermissions returns the union of the permissions of the user's
// groups, sorted. A user in no group has none.
func (s *Store) UserPermissions(ctx context.Context, userID int64) ([]Permission, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT gp.permission FROM user_groups ug
		JOIN group_permissions gp ON gp.group_id = ug.group_id WHERE ug.user_id = ? ORDER BY gp.permission`, userID)
	if err != nil {
		return nil, wrap("user permissions", err)
	}
	ps, err := collect(rows, func(r scanner) (Permission, error) {
		var p string
		err := r.Scan(&p)
		return Permission(p), err
	})
	if ps == nil {
		ps = []Permission{}
	}
	return ps, wrap("user permissions", err)
}

// UserRecordSessions reports whether the user's sessions must be recorded.
// The rule errs on the side of recording: a session is recorded unless the
// user belongs to at least one group and every one of those groups sets
// record_sessions=false. A group without the setting counts as "true"
// (the default), and a user in no group is recorded.
func (s *Store) UserRecordSessions(ctx context.Context, userID int64) (bool, error) {
	var groups, optOut int
	err := s.db.QueryRowContext(ctx, `SELECT count(*), count(gs.value) FROM user_groups ug
		LEFT JOIN group_settings gs ON gs.group_id = ug.group_id AND gs.key = ? AND gs.value = 'false'
		WHERE ug.user_id = ?`, SettingRecordSessions, userID).Scan(&groups, &optOut)
	if err != nil {
		return true, wrap("user record sessions", err)
	}
	return groups == 0 || optOut < groups, nil
}
