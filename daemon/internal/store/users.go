package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/vigilgw/vigil/daemon/internal/passwd"
	"golang.org/x/crypto/ssh"
)

// Authentication outcomes. ErrUnknownUser, ErrWrongPassword and ErrNoPassword
// all match ErrBadCredentials, which is what a client may be told; the finer
// error is for the event's reason.
var (
	ErrBadCredentials = errors.New("store: bad credentials")
	ErrUnknownUser    = fmt.Errorf("%w: unknown user", ErrBadCredentials)
	ErrWrongPassword  = fmt.Errorf("%w: wrong password", ErrBadCredentials)
	ErrNoPassword     = fmt.Errorf("%w: user has no password", ErrBadCredentials)
	ErrUserDisabled   = errors.New("store: user disabled")
	ErrUserLocked     = errors.New("store: user locked out")
)

// MaxNameLength bounds user and group names, in bytes.
const MaxNameLength = 256

// LockoutPolicy locks an account for Duration after MaxFailures consecutive
// failed logins. When the lock expires the count starts again from zero.
type LockoutPolicy struct {
	MaxFailures int           // default 5; negative: never lock
	Duration    time.Duration // default 15 minutes
}

func (p LockoutPolicy) withDefaults() LockoutPolicy {
	if p.MaxFailures == 0 {
		p.MaxFailures = 5
	}
	if p.Duration <= 0 {
		p.Duration = 15 * time.Minute
	}
	return p
}

// User is a local account. The password hash never leaves the store.
type User struct {
	ID           int64
	Name         string
	HasPassword  bool
	Created      time.Time
	Disabled     bool
	FailedLogins int       // consecutive failures since the last success or lock
	LockedUntil  time.Time // zero: not locked
	LastLogin    time.Time // zero: never
}

// Locked reports whether the account is locked out at now.
func (u User) Locked(now time.Time) bool { return now.Before(u.LockedUntil) }

// ValidateName checks a user or group name: 1 to MaxNameLength bytes of
// valid UTF-8, without control or invisible formatting characters (C0/C1
// controls, line and paragraph separators, bidi overrides, zero-width
// characters: they would forge log lines or make two names look alike), and
// without leading or trailing white space.
func ValidateName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrInvalid)
	case len(name) > MaxNameLength:
		return fmt.Errorf("%w: name longer than %d bytes", ErrInvalid, MaxNameLength)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: name is not valid UTF-8", ErrInvalid)
	}
	for i, r := range name {
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			return fmt.Errorf("%w: name has control character %U at byte %d", ErrInvalid, r, i)
		}
	}
	if strings.TrimSpace(name) != name {
		return fmt.Errorf("%w: name starts or ends with white space", ErrInvalid)
	}
	return nil
}

const userCols = `id, name, password_hash IS NOT NULL, created_at, disabled, failed_logins, locked_until, last_login`

type scanner interface{ Scan(dest ...any) error }

func scanUser(r scanner) (User, error) {
	var u User
	var created int64
	var locked, last sql.NullInt64
	if err := r.Scan(&u.ID, &u.Name, &u.HasPassword, &created, &u.Disabled, &u.FailedLogins, &locked, &last); err != nil {
		return User{}, err
	}
	u.Created, u.LockedUntil, u.LastLogin = fromNS(created), fromNullNS(locked), fromNullNS(last)
	return u, nil
}

func hashOrNull(password string) (sql.NullString, error) {
	if password == "" {
		return sql.NullString{}, nil
	}
	h, err := passwd.Hash(password)
	if err != nil {
		return sql.NullString{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return sql.NullString{String: h, Valid: true}, nil
}

// CreateUser adds an account. An empty password makes a key-only account.
func (s *Store) CreateUser(ctx context.Context, name, password string) (User, error) {
	if err := ValidateName(name); err != nil {
		return User{}, wrap("create user", err)
	}
	hash, err := hashOrNull(password)
	if err != nil {
		return User{}, wrap("create user", err)
	}
	var u User
	err = s.writeDurable(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = insertUser(ctx, tx, name, hash, s.now())
		return err
	})
	return u, wrap("create user "+quote(name), err)
}

func insertUser(ctx context.Context, tx *sql.Tx, name string, hash sql.NullString, now time.Time) (User, error) {
	u, err := scanUser(tx.QueryRowContext(ctx,
		`INSERT INTO users (name, password_hash, created_at) VALUES (?, ?, ?) RETURNING `+userCols,
		name, hash, ns(now)))
	return u, constraintErr(err, "user name")
}

// GetUser returns the user with id, or ErrNotFound.
func (s *Store) GetUser(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id))
	return u, wrap("get user", notFound(err, fmt.Sprintf("user %d", id)))
}

// GetUserByName returns the user called name (exact, case-sensitive).
func (s *Store) GetUserByName(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
	return u, wrap("get user", notFound(err, "user "+quote(name)))
}

// ListUsers returns every user, by name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, wrap("list users", err)
	}
	us, err := collect(rows, scanUser)
	return us, wrap("list users", err)
}

// SetPassword replaces the user's password; an empty one removes password
// login. The failure count and lock are cleared: an administrator who sets a
// password means the user to be able to use it.
func (s *Store) SetPassword(ctx context.Context, id int64, password string) error {
	hash, err := hashOrNull(password)
	if err != nil {
		return wrap("set password", err)
	}
	return wrap("set password", s.setHash(ctx, id, hash))
}

// SetPasswordHash stores an existing hash (argon2id PHC or bcrypt), for
// accounts imported from another system. It is rehashed to the current
// parameters at the user's next successful Authenticate.
func (s *Store) SetPasswordHash(ctx context.Context, id int64, encoded string) error {
	if err := passwd.Check(encoded); err != nil {
		return wrap("set password hash", fmt.Errorf("%w: %w", ErrInvalid, err))
	}
	return wrap("set password hash", s.setHash(ctx, id, sql.NullString{String: encoded, Valid: true}))
}

func (s *Store) setHash(ctx context.Context, id int64, hash sql.NullString) error {
	return s.writeDurable(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL WHERE id = ?`, hash, id)
		if err != nil {
			return err
		}
		return rowsAffected(res, fmt.Sprintf("user %d", id))
	})
}

// SetUserDisabled disables or re-enables an account.
func (s *Store) SetUserDisabled(ctx context.Context, id int64, disabled bool) error {
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET disabled = ? WHERE id = ?`, boolInt(disabled), id)
		if err != nil {
			return err
		}
		return rowsAffected(res, fmt.Sprintf("user %d", id))
	})
	return wrap("set user disabled", err)
}

// UnlockUser clears the failure count and the lock.
func (s *Store) UnlockUser(ctx context.Context, id int64) error {
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return rowsAffected(res, fmt.Sprintf("user %d", id))
	})
	return wrap("unlock user", err)
}

// DeleteUser removes the account with its keys and group memberships. Its
// sessions stay in the history under the name they were made with.
func (s *Store) DeleteUser(ctx context.Context, id int64) error {
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
		if err != nil {
			return err
		}
		return rowsAffected(res, fmt.Sprintf("user %d", id))
	})
	return wrap("delete user", err)
}

// RecordLoginFailure counts a failed login. Reaching the policy's
// MaxFailures locks the account for its Duration and restarts the count.
// It returns the user as updated.
func (s *Store) RecordLoginFailure(ctx context.Context, id int64) (User, error) {
	max := s.lockout.MaxFailures
	if max < 0 {
		max = int(^uint(0) >> 1)
	}
	lockUntil := ns(s.now().Add(s.lockout.Duration))
	var u User
	// One statement, so concurrent failures each count exactly once.
	err := s.write(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, `UPDATE users SET
			locked_until  = CASE WHEN failed_logins + 1 >= ?1 THEN ?2 ELSE locked_until END,
			failed_logins = CASE WHEN failed_logins + 1 >= ?1 THEN 0 ELSE failed_logins + 1 END
			WHERE id = ?3 RETURNING `+userCols, max, lockUntil, id))
		return notFound(err, fmt.Sprintf("user %d", id))
	})
	return u, wrap("record login failure", err)
}

// RecordLoginSuccess clears the failure count and lock and sets LastLogin.
// The gateway calls it after a public-key login; Authenticate calls it
// itself.
func (s *Store) RecordLoginSuccess(ctx context.Context, id int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE users SET failed_logins = 0, locked_until = NULL, last_login = ? WHERE id = ?`, ns(s.now()), id)
		if err != nil {
			return err
		}
		return rowsAffected(res, fmt.Sprintf("user %d", id))
	})
	return wrap("record login success", err)
}

// dummyHash is verified against when there is no real hash, so that an
// unknown name costs as much time as a wrong password.
var dummyHash = sync.OnceValue(func() string {
	pw, err := passwd.Generate(32)
	if err != nil {
		panic(err)
	}
	h, err := passwd.Hash(pw)
	if err != nil {
		panic(err)
	}
	return h
})

// Authenticate checks a password login and records its outcome:
//   - unknown name: ErrUnknownUser (after a dummy verification, to take the
//     same time as a known one);
//   - locked account: ErrUserLocked, without looking at the password;
//   - no password set or wrong password: ErrNoPassword / ErrWrongPassword,
//     counted by RecordLoginFailure (which may lock the account);
//   - right password on a disabled account: ErrUserDisabled;
//   - success: RecordLoginSuccess, and the hash is replaced by a fresh
//     argon2id one when passwd.NeedsRehash says so (bcrypt, old parameters).
//
// The returned User is valid whenever the name was known.
func (s *Store) Authenticate(ctx context.Context, name, password string) (User, error) {
	var u User
	var hash sql.NullString
	var created int64
	var locked, last sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT `+userCols+`, password_hash FROM users WHERE name = ?`, name).
		Scan(&u.ID, &u.Name, &u.HasPassword, &created, &u.Disabled, &u.FailedLogins, &locked, &last, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		passwd.Verify(dummyHash(), password)
		return User{}, ErrUnknownUser
	}
	if err != nil {
		return User{}, wrap("authenticate", err)
	}
	u.Created, u.LockedUntil, u.LastLogin = fromNS(created), fromNullNS(locked), fromNullNS(last)
	if u.Locked(s.now()) {
		return u, ErrUserLocked
	}
	encoded := hash.String
	if !hash.Valid {
		encoded = dummyHash()
	}
	ok, err := passwd.Verify(encoded, password)
	if err != nil {
		return u, wrap(fmt.Sprintf("authenticate %s: stored hash", quote(name)), err)
	}
	if !ok || !hash.Valid {
		if u, err = s.RecordLoginFailure(ctx, u.ID); err != nil {
			return u, err
		}
		if !hash.Valid {
			return u, ErrNoPassword
		}
		return u, ErrWrongPassword
	}
	if u.Disabled {
		return u, ErrUserDisabled
	}
	if err := s.RecordLoginSuccess(ctx, u.ID); err != nil {
		return u, err
	}
	u.FailedLogins, u.LockedUntil = 0, time.Time{}
	if passwd.NeedsRehash(encoded) {
		if fresh, err := passwd.Hash(password); err == nil {
			// Only if unchanged meanwhile: never undo a concurrent SetPassword.
			err = s.writeDurable(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`,
					fresh, u.ID, encoded)
				return err
			})
			if err != nil {
				return u, wrap("authenticate: rehash", err)
			}
		}
	}
	return s.GetUser(ctx, u.ID)
}

// UserKey is an SSH public key a user may log in with.
type UserKey struct {
	ID          int64
	UserID      int64
	PublicKey   string // authorized_keys form without comment: "ssh-ed25519 AAAA..."
	Fingerprint string // SHA256:...
	Comment     string
	Created     time.Time
}

// AddUserKey parses one authorized_keys line and adds the key to the user.
// Options (from=, command=, ...) and certificates are refused rather than
// silently dropped. A key belongs to one user only: ErrExists otherwise.
func (s *Store) AddUserKey(ctx context.Context, userID int64, authorizedKey string) (UserKey, error) {
	pk, comment, options, rest, err := ssh.ParseAuthorizedKey([]byte(authorizedKey))
	if err != nil {
		return UserKey{}, wrap("add user key", fmt.Errorf("%w: %w", ErrInvalid, err))
	}
	switch {
	case len(options) > 0:
		return UserKey{}, wrap("add user key", fmt.Errorf("%w: authorized_keys options are not supported", ErrInvalid))
	case len(strings.TrimSpace(string(rest))) > 0:
		return UserKey{}, wrap("add user key", fmt.Errorf("%w: more than one key", ErrInvalid))
	}
	if _, ok := pk.(*ssh.Certificate); ok {
		return UserKey{}, wrap("add user key", fmt.Errorf("%w: certificates are not supported", ErrInvalid))
	}
	if err := validateText(comment, 1024); err != nil {
		return UserKey{}, wrap("add user key: comment", err)
	}
	k := UserKey{
		UserID:      userID,
		PublicKey:   strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pk))),
		Fingerprint: ssh.FingerprintSHA256(pk),
		Comment:     comment,
		Created:     s.now().UTC(),
	}
	err = s.writeDurable(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO user_keys (user_id, public_key, fingerprint, comment, created_at)
			VALUES (?, ?, ?, ?, ?) RETURNING id`, userID, k.PublicKey, k.Fingerprint, k.Comment, ns(k.Created)).Scan(&k.ID)
		return constraintErr(err, "key "+k.Fingerprint)
	})
	k.Created = fromNS(ns(k.Created))
	return k, wrap("add user key", err)
}

// ListUserKeys returns the user's keys, oldest first.
func (s *Store) ListUserKeys(ctx context.Context, userID int64) ([]UserKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, user_id, public_key, fingerprint, comment, created_at
		FROM user_keys WHERE user_id = ? ORDER BY id`, userID)
	if err != nil {
		return nil, wrap("list user keys", err)
	}
	ks, err := collect(rows, func(r scanner) (UserKey, error) {
		var k UserKey
		var created int64
		err := r.Scan(&k.ID, &k.UserID, &k.PublicKey, &k.Fingerprint, &k.Comment, &created)
		k.Created = fromNS(created)
		return k, err
	})
	return ks, wrap("list user keys", err)
}

// DeleteUserKey removes key keyID of user userID.
func (s *Store) DeleteUserKey(ctx context.Context, userID, keyID int64) error {
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM user_keys WHERE id = ? AND user_id = ?`, keyID, userID)
		if err != nil {
			return err
		}
		return rowsAffected(res, fmt.Sprintf("key %d of user %d", keyID, userID))
	})
	return wrap("delete user key", err)
}

// FindUserByKeyFingerprint returns the owner of the key with fingerprint fp
// (ssh.FingerprintSHA256 form). The caller still checks Disabled and Locked.
func (s *Store) FindUserByKeyFingerprint(ctx context.Context, fp string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+prefixCols("u.", userCols)+`
		FROM user_keys k JOIN users u ON u.id = k.user_id WHERE k.fingerprint = ?`, fp))
	return u, wrap("find user by key", notFound(err, "key "+fp))
}

// prefixCols qualifies a column list with a table alias.
func prefixCols(prefix, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, p := range parts {
		parts[i] = prefix + p
	}
	return strings.Join(parts, ", ")
}

// validateText checks free text (comments, reasons) for valid UTF-8 without
// control characters, at most max bytes.
func validateText(s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalid, max)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalid)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: control character %U", ErrInvalid, r)
		}
	}
	return nil
}

func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return err
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// collect scans every row with scan and closes rows.
func collect[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
