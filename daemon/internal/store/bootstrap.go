package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/passwd"
)

// Names Bootstrap creates.
const (
	AdministratorsGroup = "Administrators"
	UsersGroup          = "Users"
	AdminUser           = "admin"
)

// BootstrapPasswordLength is the length of the first admin password.
const BootstrapPasswordLength = 20

// BootstrapResult says what Bootstrap did. AdminPassword is set only when
// Created is true, and is never stored anywhere but as its hash: show it
// once.
type BootstrapResult struct {
	Created       bool
	AdminName     string
	AdminPassword string
}

const metaBootstrapped = "bootstrapped_at"

// Bootstrap prepares a new appliance, once per database: the groups
// Administrators (every permission) and Users (none, record_sessions=true),
// and the user admin, member of Administrators, with a generated password.
// Later calls return Created=false, even if admin was deleted or renamed
// since: a restart must never bring back a default account.
func (s *Store) Bootstrap(ctx context.Context) (BootstrapResult, error) {
	done, err := s.bootstrapped(ctx, s.db)
	if err != nil || done {
		return BootstrapResult{}, wrap("bootstrap", err)
	}
	pw, err := passwd.Generate(BootstrapPasswordLength)
	if err != nil {
		return BootstrapResult{}, wrap("bootstrap", err)
	}
	hash, err := passwd.Hash(pw)
	if err != nil {
		return BootstrapResult{}, wrap("bootstrap", err)
	}
	res := BootstrapResult{AdminName: AdminUser}
	err = s.writeDurable(ctx, func(tx *sql.Tx) error {
		// Checked again under the write lock: another process may have
		// bootstrapped between the first check and here.
		if done, err := s.bootstrapped(ctx, tx); err != nil || done {
			return err
		}
		now := s.now()
		admins, err := ensureGroup(ctx, tx, Group{Name: AdministratorsGroup, Permissions: AllPermissions()}, now)
		if err != nil {
			return err
		}
		if _, err := ensureGroup(ctx, tx, Group{Name: UsersGroup, Settings: map[string]string{SettingRecordSessions: "true"}}, now); err != nil {
			return err
		}
		u, err := insertUser(ctx, tx, AdminUser, sql.NullString{String: hash, Valid: true}, now)
		if err != nil {
			return fmt.Errorf("user %s: %w", AdminUser, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_groups (user_id, group_id) VALUES (?, ?)`, u.ID, admins); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)`,
			metaBootstrapped, now.UTC().Format(time.RFC3339Nano)); err != nil {
			return err
		}
		res.Created, res.AdminPassword = true, pw
		return nil
	})
	if err != nil {
		return BootstrapResult{}, wrap("bootstrap", err)
	}
	return res, nil
}

func (s *Store) bootstrapped(ctx context.Context, q querier) (bool, error) {
	var v string
	err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, metaBootstrapped).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// ensureGroup returns the id of the group named g.Name, creating it with g's
// policy if it does not exist (an existing group keeps its own policy).
func ensureGroup(ctx context.Context, tx *sql.Tx, g Group, now time.Time) (int64, error) {
	err := tx.QueryRowContext(ctx, `SELECT id FROM groups WHERE name = ?`, g.Name).Scan(&g.ID)
	if err == nil {
		return g.ID, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	if err := tx.QueryRowContext(ctx, `INSERT INTO groups (name, created_at) VALUES (?, ?) RETURNING id`,
		g.Name, now.UnixNano()).Scan(&g.ID); err != nil {
		return 0, err
	}
	return g.ID, writeGroupPolicy(ctx, tx, g)
}
