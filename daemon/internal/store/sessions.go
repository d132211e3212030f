package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SessionState is where a session is in its life.
type SessionState string

// Session states.
const (
	SessionActive  SessionState = "active"
	SessionEnded   SessionState = "ended"
	SessionKilled  SessionState = "killed"  // ended by an administrator
	SessionRefused SessionState = "refused" // admission said no (e.g. recording impossible)
)

func (s SessionState) valid() bool {
	return s == SessionActive || s == SessionEnded || s == SessionKilled || s == SessionRefused
}

// RecordingState is where a session's recording is in the pipeline.
type RecordingState string

// Recording states.
const (
	RecordingNone      RecordingState = "none"
	RecordingRecording RecordingState = "recording"
	RecordingSealed    RecordingState = "sealed"
	RecordingEncoding  RecordingState = "encoding"
	RecordingUploaded  RecordingState = "uploaded"
	RecordingFailed    RecordingState = "failed"
	RecordingStuck     RecordingState = "stuck"
)

func (r RecordingState) valid() bool {
	switch r {
	case RecordingNone, RecordingRecording, RecordingSealed, RecordingEncoding, RecordingUploaded, RecordingFailed, RecordingStuck:
		return true
	}
	return false
}

// SignatureState is the outcome of verifying a session's capture.
type SignatureState string

// Signature states.
const (
	SignatureUnknown  SignatureState = "unknown"
	SignatureVerified SignatureState = "verified"
	SignatureInvalid  SignatureState = "invalid"
)

func (s SignatureState) valid() bool {
	return s == SignatureUnknown || s == SignatureVerified || s == SignatureInvalid
}

// Session is one connection through the gateway. User and target names are
// kept as they were at the time, whatever happens to the accounts later.
type Session struct {
	ID                 string // NewSessionID; sorts by start time
	UserID             int64  // 0: none, or the user was deleted
	UserName           string
	TargetID           int64 // 0: none, or the target was deleted
	TargetName         string
	TargetFriendlyName string
	Protocol           Protocol
	VS                 string // listener ip:port
	RS                 string // target ip:port
	ClientIP           string
	ClientPort         int
	StartedAt          time.Time
	EndedAt            time.Time // zero while active
	State              SessionState
	BytesIn            int64 // client to target
	BytesOut           int64 // target to client
	Recorded           bool
	RecordingState     RecordingState
	SignatureState     SignatureState
	ExitStatus         *int // nil: none reported
	EndReason          string
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewSessionID returns a ULID-style id: 48 bits of Unix milliseconds then 80
// random bits, as 26 Crockford base32 characters. Ids sort by start time,
// and 80 random bits make a collision within one millisecond negligible.
func NewSessionID(t time.Time) string {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := 0; i < 6; i++ {
		b[i] = byte(ms >> (40 - 8*i))
	}
	rand.Read(b[6:]) // crypto/rand.Read never fails (Go 1.24+)
	hi, lo := uint64(0), uint64(0)
	for i := 0; i < 8; i++ {
		hi, lo = hi<<8|uint64(b[i]), lo<<8|uint64(b[8+i])
	}
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

const sessionCols = `id, COALESCE(user_id, 0), user_name, COALESCE(target_id, 0), target_name, target_friendly_name,
	protocol, vs, rs, client_ip, client_port, started_at, ended_at, state, bytes_in, bytes_out, recorded,
	recording_state, signature_state, exit_status, end_reason`

func scanSession(r scanner) (Session, error) {
	var s Session
	var started int64
	var ended, exit sql.NullInt64
	err := r.Scan(&s.ID, &s.UserID, &s.UserName, &s.TargetID, &s.TargetName, &s.TargetFriendlyName,
		&s.Protocol, &s.VS, &s.RS, &s.ClientIP, &s.ClientPort, &started, &ended, &s.State, &s.BytesIn, &s.BytesOut,
		&s.Recorded, &s.RecordingState, &s.SignatureState, &exit, &s.EndReason)
	s.StartedAt, s.EndedAt = fromNS(started), fromNullNS(ended)
	if exit.Valid {
		v := int(exit.Int64)
		s.ExitStatus = &v
	}
	return s, err
}

func nullID(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

func nullInt(p *int) sql.NullInt64 {
	if p == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*p), Valid: true}
}

// CreateSession records a session's start (or its refusal). Empty fields
// get defaults: ID from NewSessionID, StartedAt now, State active,
// RecordingState none, SignatureState unknown. It returns the session as
// stored.
func (s *Store) CreateSession(ctx context.Context, ss Session) (Session, error) {
	if ss.StartedAt.IsZero() {
		ss.StartedAt = s.now()
	}
	ss.StartedAt = fromNS(ns(ss.StartedAt))
	if ss.ID == "" {
		ss.ID = NewSessionID(ss.StartedAt)
	}
	if ss.State == "" {
		ss.State = SessionActive
	}
	if ss.RecordingState == "" {
		ss.RecordingState = RecordingNone
	}
	if ss.SignatureState == "" {
		ss.SignatureState = SignatureUnknown
	}
	switch {
	case ss.UserName == "":
		return Session{}, wrap("create session", fmt.Errorf("%w: empty user name", ErrInvalid))
	case !ss.Protocol.valid():
		return Session{}, wrap("create session", fmt.Errorf("%w: protocol %q", ErrInvalid, ss.Protocol))
	case !ss.State.valid() || !ss.RecordingState.valid() || !ss.SignatureState.valid():
		return Session{}, wrap("create session", fmt.Errorf("%w: state %q/%q/%q", ErrInvalid, ss.State, ss.RecordingState, ss.SignatureState))
	}
	if ss.State != SessionActive && ss.EndedAt.IsZero() {
		ss.EndedAt = ss.StartedAt
	}
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, user_id, user_name, target_id, target_name,
			target_friendly_name, protocol, vs, rs, client_ip, client_port, started_at, ended_at, state, bytes_in,
			bytes_out, recorded, recording_state, signature_state, exit_status, end_reason)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			ss.ID, nullID(ss.UserID), ss.UserName, nullID(ss.TargetID), ss.TargetName, ss.TargetFriendlyName,
			ss.Protocol, ss.VS, ss.RS, ss.ClientIP, ss.ClientPort, ns(ss.StartedAt), nullNS(ss.EndedAt), ss.State,
			ss.BytesIn, ss.BytesOut, boolInt(ss.Recorded), ss.RecordingState, ss.SignatureState,
			nullInt(ss.ExitStatus), ss.EndReason)
		return constraintErr(err, "session "+ss.ID)
	})
	if err != nil {
		return Session{}, wrap("create session", err)
	}
	return s.GetSession(ctx, ss.ID)
}

// GetSession returns session id.
func (s *Store) GetSession(ctx context.Context, id string) (Session, error) {
	ss, err := scanSession(s.db.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id))
	return ss, wrap("get session", notFound(err, "session "+id))
}

// SessionUpdate changes a running or finished session; nil fields stay.
type SessionUpdate struct {
	BytesIn        *int64
	BytesOut       *int64
	Recorded       *bool
	RecordingState *RecordingState
	SignatureState *SignatureState
}

// UpdateSession applies u to session id.
func (s *Store) UpdateSession(ctx context.Context, id string, u SessionUpdate) error {
	var sets []string
	var args []any
	if u.BytesIn != nil {
		sets, args = append(sets, "bytes_in = ?"), append(args, *u.BytesIn)
	}
	if u.BytesOut != nil {
		sets, args = append(sets, "bytes_out = ?"), append(args, *u.BytesOut)
	}
	if u.Recorded != nil {
		sets, args = append(sets, "recorded = ?"), append(args, boolInt(*u.Recorded))
	}
	if u.RecordingState != nil {
		if !u.RecordingState.valid() {
			return wrap("update session", fmt.Errorf("%w: recording state %q", ErrInvalid, *u.RecordingState))
		}
		sets, args = append(sets, "recording_state = ?"), append(args, *u.RecordingState)
	}
	if u.SignatureState != nil {
		if !u.SignatureState.valid() {
			return wrap("update session", fmt.Errorf("%w: signature state %q", ErrInvalid, *u.SignatureState))
		}
		sets, args = append(sets, "signature_state = ?"), append(args, *u.SignatureState)
	}
	if len(sets) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET `+strings.Join(sets, ", ")+` WHERE id = ?`, append(args, id)...)
		if err != nil {
			return err
		}
		return rowsAffected(res, "session "+id)
	})
	return wrap("update session", err)
}

// SessionEnd describes how a session ended.
type SessionEnd struct {
	State      SessionState // ended (default), killed or refused
	EndedAt    time.Time    // default now
	ExitStatus *int
	Reason     string
	BytesIn    *int64 // final counters, if known
	BytesOut   *int64
}

// EndSession closes an active session; ErrState if it is not active.
func (s *Store) EndSession(ctx context.Context, id string, e SessionEnd) error {
	if e.State == "" {
		e.State = SessionEnded
	}
	if e.State == SessionActive || !e.State.valid() {
		return wrap("end session", fmt.Errorf("%w: end state %q", ErrInvalid, e.State))
	}
	if e.EndedAt.IsZero() {
		e.EndedAt = s.now()
	}
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		var state SessionState
		err := tx.QueryRowContext(ctx, `SELECT state FROM sessions WHERE id = ?`, id).Scan(&state)
		if err != nil {
			return notFound(err, "session "+id)
		}
		if state != SessionActive {
			return fmt.Errorf("%w: session %s is %s", ErrState, id, state)
		}
		_, err = tx.ExecContext(ctx, `UPDATE sessions SET state = ?, ended_at = ?, exit_status = ?, end_reason = ?,
			bytes_in = COALESCE(?, bytes_in), bytes_out = COALESCE(?, bytes_out) WHERE id = ?`,
			e.State, ns(e.EndedAt), nullInt(e.ExitStatus), e.Reason, e.BytesIn, e.BytesOut, id)
		return err
	})
	return wrap("end session", err)
}

// SessionFilter selects sessions for the history page. Zero fields match
// everything.
type SessionFilter struct {
	UserName   string
	TargetName string
	Protocol   Protocol
	Since      time.Time // started at or after
	Until      time.Time // started before
	States     []SessionState
}

// DefaultPageSize and MaxPageSize bound ListSessions' limit.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// ListSessions returns one page of sessions matching f, newest first, and
// the cursor of the next page ("" after the last). Pass "" for the first
// page. Pages are keyset-paginated on (started_at, id): each page costs the
// same at any depth, and sessions added meanwhile do not shift the pages.
func (s *Store) ListSessions(ctx context.Context, f SessionFilter, cursor string, limit int) ([]Session, string, error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	q, args, err := sessionSelect(f, cursor, limit+1)
	if err != nil {
		return nil, "", wrap("list sessions", err)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", wrap("list sessions", err)
	}
	ss, err := collect(rows, scanSession)
	if err != nil {
		return nil, "", wrap("list sessions", err)
	}
	next := ""
	if len(ss) > limit {
		ss = ss[:limit]
		last := ss[limit-1]
		next = encodeCursor(ns(last.StartedAt), last.ID)
	}
	return ss, next, nil
}

// sessionSelect is the query of one ListSessions page of up to limit rows.
func sessionSelect(f SessionFilter, cursor string, limit int) (string, []any, error) {
	conds, args, err := sessionConds(f)
	if err != nil {
		return "", nil, err
	}
	if cursor != "" {
		at, id, err := decodeCursor(cursor)
		if err != nil {
			return "", nil, err
		}
		conds, args = append(conds, "(started_at, id) < (?, ?)"), append(args, at, id)
	}
	q := `SELECT ` + sessionCols + ` FROM sessions`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, " AND ")
	}
	return q + ` ORDER BY started_at DESC, id DESC LIMIT ?`, append(args, limit), nil
}

// sessionConds is f as SQL conditions on the sessions table's columns.
func sessionConds(f SessionFilter) ([]string, []any, error) {
	// One index leads, chosen here rather than left to the planner: the
	// most selective filter present among user, target and a single state.
	// The others are written "+col" so SQLite cannot pick their index and
	// then sort a million rows to honour ORDER BY.
	userCol, targetCol, stateCol := "user_name", "+target_name", "+state"
	switch {
	case f.UserName != "":
	case f.TargetName != "":
		userCol, targetCol = "+user_name", "target_name"
	case len(f.States) == 1:
		userCol, stateCol = "+user_name", "state"
	}
	var conds []string
	var args []any
	if f.UserName != "" {
		conds, args = append(conds, userCol+" = ?"), append(args, f.UserName)
	}
	if f.TargetName != "" {
		conds, args = append(conds, targetCol+" = ?"), append(args, f.TargetName)
	}
	if f.Protocol != "" {
		conds, args = append(conds, "protocol = ?"), append(args, f.Protocol)
	}
	if !f.Since.IsZero() {
		conds, args = append(conds, "started_at >= ?"), append(args, ns(f.Since))
	}
	if !f.Until.IsZero() {
		conds, args = append(conds, "started_at < ?"), append(args, ns(f.Until))
	}
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, st := range f.States {
			if !st.valid() {
				return nil, nil, fmt.Errorf("%w: state %q", ErrInvalid, st)
			}
			ph[i], args = "?", append(args, st)
		}
		conds = append(conds, stateCol+" IN ("+strings.Join(ph, ", ")+")")
	}
	return conds, args, nil
}

// A cursor is the (started_at, id) of the last row of a page, opaque to
// callers: base64url("<nanoseconds>.<id>").
func encodeCursor(at int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at, 10) + "." + id))
}

func decodeCursor(c string) (int64, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		at, id, ok := strings.Cut(string(b), ".")
		if n, perr := strconv.ParseInt(at, 10, 64); ok && perr == nil && id != "" {
			return n, id, nil
		}
	}
	return 0, "", fmt.Errorf("%w: bad cursor %q", ErrInvalid, c)
}

// ActiveSessions returns the sessions in state active, newest first.
func (s *Store) ActiveSessions(ctx context.Context) ([]Session, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE state = 'active'
		ORDER BY started_at DESC, id DESC`)
	if err != nil {
		return nil, wrap("active sessions", err)
	}
	ss, err := collect(rows, scanSession)
	return ss, wrap("active sessions", err)
}

// EndActiveSessions ends every session still marked active that started
// before the given time, with reason. vigild calls it at start, with its
// start time: after a crash no session of the previous run can still be
// running, while its own sessions must stay untouched. It returns how many
// sessions it ended.
func (s *Store) EndActiveSessions(ctx context.Context, before time.Time, reason string) (int64, error) {
	var n int64
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE sessions SET state = 'ended', ended_at = ?, end_reason = ?
			WHERE state = 'active' AND started_at < ?`, ns(s.now()), reason, ns(before))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, wrap("end active sessions", err)
}
