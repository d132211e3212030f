package store

import (
	"context"
	"crypto/cipher"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinel errors callers branch on. Errors returned by the store wrap one of
// these where one applies, with the detail after it.
var (
	ErrNotFound     = errors.New("store: not found")
	ErrExists       = errors.New("store: already exists")
	ErrInvalid      = errors.New("store: invalid value")
	ErrState        = errors.New("store: not allowed in the current state")
	ErrSchemaTooNew = errors.New("store: database schema is newer than this binary")

	// ErrNoSealingKey: the store was opened without a sealing key, so target
	// credentials can be neither written nor read.
	ErrNoSealingKey = errors.New("store: no sealing key")
	// ErrNoCredential: the target has no stored credential.
	ErrNoCredential = errors.New("store: target has no credential")
	// ErrCredentialUnreadable: a sealed credential failed authentication:
	// wrong sealing key, or the row was altered or moved to another target.
	ErrCredentialUnreadable = errors.New("store: credential cannot be unsealed")
	// ErrHostKeyMismatch: PinTargetHostKey was given a key other than the
	// one already pinned.
	ErrHostKeyMismatch = errors.New("store: host key does not match the pinned key")
)

// DefaultBusyTimeout is how long a statement waits for a lock held by the
// other process (vigild or vigilctl) before failing.
const DefaultBusyTimeout = 5 * time.Second

// Options configure Open. The zero value is usable: no sealing key, the
// default lockout policy and pool size, the system clock.
type Options struct {
	// SealingKey is the 32-byte XChaCha20-Poly1305 key under which target
	// credentials are sealed. Without it, credential calls fail with
	// ErrNoSealingKey; everything else works.
	SealingKey []byte
	// Lockout is the policy of RecordLoginFailure and Authenticate.
	Lockout LockoutPolicy
	// BusyTimeout defaults to DefaultBusyTimeout.
	BusyTimeout time.Duration
	// MaxOpenConns bounds the connection pool (default 4: one writer at a
	// time is all SQLite allows; the rest serve concurrent readers).
	MaxOpenConns int
	// Now is the clock for the timestamps the store sets itself.
	Now func() time.Time
}

// Store is the appliance's embedded database. It is safe for concurrent use,
// and other processes (vigilctl) may open the same file at the same time.
type Store struct {
	db      *sql.DB
	path    string
	aead    cipher.AEAD
	lockout LockoutPolicy
	now     func() time.Time
}

// Open opens or creates the database at path (file mode 0600), brings its
// schema up to date and returns the store. It fails with ErrSchemaTooNew if
// the file was migrated by a newer Vigil.
//
// Connections use WAL, so readers never wait for the writer, and
// synchronous=NORMAL: a commit is atomic and survives a crash of the process,
// and only the last commits before a power loss may be rolled back. Writes
// whose loss would matter after a power cut (see writeDurable) switch to FULL.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	s := &Store{lockout: opts.Lockout.withDefaults(), now: opts.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if opts.SealingKey != nil {
		aead, err := chacha20poly1305.NewX(opts.SealingKey)
		if err != nil {
			return nil, fmt.Errorf("store: sealing key: %w", err)
		}
		s.aead = aead
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if strings.ContainsAny(abs, "?#") {
		return nil, fmt.Errorf("%w: database path %q contains '?' or '#'", ErrInvalid, path)
	}
	s.path = abs
	if err := createPrivate(abs); err != nil {
		return nil, err
	}

	busy := opts.BusyTimeout
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	// Write transactions take the write lock at BEGIN, so two writers never
	// deadlock upgrading a read lock (which SQLite answers with SQLITE_BUSY
	// at once, ignoring busy_timeout). Read-only transactions stay deferred.
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", abs+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", abs, err)
	}
	n := opts.MaxOpenConns
	if n <= 0 {
		n = 4
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	s.db = db
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// createPrivate creates the database file 0600 before SQLite does (SQLite
// would use the umask), and narrows an existing file to 0600. SQLite gives
// the -wal and -shm files the database file's mode.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			return fmt.Errorf("store: open %s: %w", path, err)
		}
	}
	return nil
}

// Close runs SQLite's recommended optimize step and closes the pool.
func (s *Store) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, optErr := s.db.ExecContext(ctx, "PRAGMA optimize")
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	if optErr != nil {
		return fmt.Errorf("store: close: optimize: %w", optErr)
	}
	return nil
}

// Path is the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// write runs fn in an IMMEDIATE transaction with synchronous=NORMAL: for
// data that is rebuildable or cosmetic if the last second before a power cut
// is lost (event index, transcripts, progress, byte counters, lockout
// counters).
func (s *Store) write(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// writeDurable runs fn in an IMMEDIATE transaction committed with
// synchronous=FULL (the WAL is fsynced before COMMIT returns). Used for what
// must not silently revert after a power cut: accounts, group policy,
// targets and their credentials and pinned host keys, the bootstrap, the
// session audit trail (start and end), segment seals and pipeline job
// transitions (an upload marked done lets the pipeline delete local copies).
func (s *Store) writeDurable(ctx context.Context, fn func(*sql.Tx) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA synchronous=FULL"); err != nil {
		return err
	}
	// Back to NORMAL before the connection returns to the pool; should this
	// fail, the connection merely stays more durable than needed.
	defer conn.ExecContext(context.Background(), "PRAGMA synchronous=NORMAL")
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// read runs fn in a deferred read-only transaction: one consistent snapshot
// for reads made of several queries.
func (s *Store) read(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// sqliteCode returns the extended result code of a SQLite error, or 0.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// constraintErr maps constraint violations to sentinels: a duplicate to
// ErrExists, a dangling reference to ErrNotFound. Other errors pass through.
func constraintErr(err error, what string) error {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return fmt.Errorf("%w: %s", ErrExists, what)
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return fmt.Errorf("%w: %s refers to a missing row", ErrNotFound, what)
	case sqlite3.SQLITE_CONSTRAINT_CHECK:
		return fmt.Errorf("%w: %s: %w", ErrInvalid, what, err)
	}
	return err
}

// Times are stored as Unix nanoseconds; NULL for the zero time.

func ns(t time.Time) int64 { return t.UnixNano() }

func nullNS(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixNano(), Valid: true}
}

func fromNS(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromNullNS(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromNS(n.Int64)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// rowsAffected turns "no row matched" into ErrNotFound.
func rowsAffected(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, what)
	}
	return nil
}

// wrap prefixes err with "store: op: " unless nil; sentinels stay matchable.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if strings.HasPrefix(err.Error(), "store: ") {
		return fmt.Errorf("store: %s: %w", op, unprefixed{err})
	}
	return fmt.Errorf("store: %s: %w", op, err)
}

// unprefixed prints err without its leading "store: ", so that wrapped
// messages read "store: create user: already exists: ..." once.
type unprefixed struct{ err error }

func (u unprefixed) Error() string { return strings.TrimPrefix(u.err.Error(), "store: ") }
func (u unprefixed) Unwrap() error { return u.err }
