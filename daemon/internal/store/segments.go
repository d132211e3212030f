package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// SegmentState is where one capture segment is.
type SegmentState string

// Segment states.
const (
	SegmentRecording SegmentState = "recording" // in spool/active
	SegmentSealed    SegmentState = "sealed"    // signed, in spool/sealed
	SegmentEncoded   SegmentState = "encoded"   // renders made
	SegmentUploaded  SegmentState = "uploaded"  // capture and renders in storage
	SegmentFailed    SegmentState = "failed"
	SegmentDeleted   SegmentState = "deleted" // local copy removed after upload and retention
)

func (s SegmentState) valid() bool {
	switch s {
	case SegmentRecording, SegmentSealed, SegmentEncoded, SegmentUploaded, SegmentFailed, SegmentDeleted:
		return true
	}
	return false
}

// Segment is one file of a session's capture.
type Segment struct {
	SessionID string
	N         int    // 0, 1, 2, ...
	Path      string // spool path
	Size      int64
	SHA256    string // hex digest of the file
	FinalHash string // the capture's hash chain head at the seal
	SealedAt  time.Time
	State     SegmentState
	ObjectKey string // where the capture was uploaded
}

const segmentCols = `session_id, n, path, size, sha256, final_hash, sealed_at, state, object_key`

func scanSegment(r scanner) (Segment, error) {
	var g Segment
	var sealed sql.NullInt64
	err := r.Scan(&g.SessionID, &g.N, &g.Path, &g.Size, &g.SHA256, &g.FinalHash, &sealed, &g.State, &g.ObjectKey)
	g.SealedAt = fromNullNS(sealed)
	return g, err
}

// AddSegment records a new segment (state recording unless given).
// ErrExists if the session already has segment g.N, ErrNotFound if the
// session does not exist.
func (s *Store) AddSegment(ctx context.Context, g Segment) (Segment, error) {
	if g.State == "" {
		g.State = SegmentRecording
	}
	switch {
	case !g.State.valid():
		return Segment{}, wrap("add segment", fmt.Errorf("%w: state %q", ErrInvalid, g.State))
	case g.N < 0 || g.Path == "":
		return Segment{}, wrap("add segment", fmt.Errorf("%w: segment %d path %q", ErrInvalid, g.N, g.Path))
	}
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		var err error
		g, err = scanSegment(tx.QueryRowContext(ctx, `INSERT INTO segments (session_id, n, path, size, sha256,
			final_hash, sealed_at, state, object_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING `+segmentCols,
			g.SessionID, g.N, g.Path, g.Size, g.SHA256, g.FinalHash, nullNS(g.SealedAt), g.State, g.ObjectKey))
		return constraintErr(err, fmt.Sprintf("segment %s/%d", g.SessionID, g.N))
	})
	return g, wrap("add segment", err)
}

// SegmentSeal is what is known of a segment once it is sealed.
type SegmentSeal struct {
	Path      string // in spool/sealed
	Size      int64
	SHA256    string
	FinalHash string
	SealedAt  time.Time // default now
}

// SealSegment moves a recording segment to sealed; ErrState if it is not
// recording.
func (s *Store) SealSegment(ctx context.Context, sessionID string, n int, seal SegmentSeal) error {
	if seal.SealedAt.IsZero() {
		seal.SealedAt = s.now()
	}
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE segments SET path = COALESCE(NULLIF(?, ''), path), size = ?, sha256 = ?,
			final_hash = ?, sealed_at = ?, state = 'sealed' WHERE session_id = ? AND n = ? AND state = 'recording'`,
			seal.Path, seal.Size, seal.SHA256, seal.FinalHash, ns(seal.SealedAt), sessionID, n)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 1 {
			return nil
		}
		g, err := scanSegment(tx.QueryRowContext(ctx, `SELECT `+segmentCols+` FROM segments WHERE session_id = ? AND n = ?`, sessionID, n))
		if err != nil {
			return notFound(err, fmt.Sprintf("segment %s/%d", sessionID, n))
		}
		return fmt.Errorf("%w: segment %s/%d is %s", ErrState, sessionID, n, g.State)
	})
	return wrap("seal segment", err)
}

// SegmentUpdate changes a segment; nil fields stay.
type SegmentUpdate struct {
	State     *SegmentState
	Path      *string
	ObjectKey *string
}

// UpdateSegment applies u to segment n of the session.
func (s *Store) UpdateSegment(ctx context.Context, sessionID string, n int, u SegmentUpdate) error {
	var sets []string
	var args []any
	if u.State != nil {
		if !u.State.valid() {
			return wrap("update segment", fmt.Errorf("%w: state %q", ErrInvalid, *u.State))
		}
		sets, args = append(sets, "state = ?"), append(args, *u.State)
	}
	if u.Path != nil {
		sets, args = append(sets, "path = ?"), append(args, *u.Path)
	}
	if u.ObjectKey != nil {
		sets, args = append(sets, "object_key = ?"), append(args, *u.ObjectKey)
	}
	if len(sets) == 0 {
		return nil
	}
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE segments SET `+strings.Join(sets, ", ")+` WHERE session_id = ? AND n = ?`,
			append(args, sessionID, n)...)
		if err != nil {
			return err
		}
		return rowsAffected(res, fmt.Sprintf("segment %s/%d", sessionID, n))
	})
	return wrap("update segment", err)
}

// GetSegment returns segment n of the session.
func (s *Store) GetSegment(ctx context.Context, sessionID string, n int) (Segment, error) {
	g, err := scanSegment(s.db.QueryRowContext(ctx, `SELECT `+segmentCols+` FROM segments WHERE session_id = ? AND n = ?`,
		sessionID, n))
	return g, wrap("get segment", notFound(err, fmt.Sprintf("segment %s/%d", sessionID, n)))
}

// ListSegments returns the session's segments in order.
func (s *Store) ListSegments(ctx context.Context, sessionID string) ([]Segment, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+segmentCols+` FROM segments WHERE session_id = ? ORDER BY n`, sessionID)
	if err != nil {
		return nil, wrap("list segments", err)
	}
	gs, err := collect(rows, scanSegment)
	return gs, wrap("list segments", err)
}

// RenderRole is what a rendered file of a segment is for.
type RenderRole string

// Render roles.
const (
	RenderCast       RenderRole = "cast"       // asciicast v2
	RenderVideo      RenderRole = "video"      // MP4
	RenderThumbnail  RenderRole = "thumbnail"  // strip for the player's scrubber
	RenderPoster     RenderRole = "poster"     // one still for the history page
	RenderTranscript RenderRole = "transcript" // extracted text
)

func (r RenderRole) valid() bool {
	switch r {
	case RenderCast, RenderVideo, RenderThumbnail, RenderPoster, RenderTranscript:
		return true
	}
	return false
}

// Render is a file made from a segment by a recorder plugin. A segment has
// at most one render per role.
type Render struct {
	SessionID string
	Segment   int
	Role      RenderRole
	LocalPath string // "" once deleted locally
	ObjectKey string // "" until uploaded
	Size      int64
	SHA256    string
}

// PutRender records a render, replacing the segment's render of that role.
func (s *Store) PutRender(ctx context.Context, r Render) error {
	if !r.Role.valid() {
		return wrap("put render", fmt.Errorf("%w: role %q", ErrInvalid, r.Role))
	}
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO renders (session_id, segment, role, local_path, object_key, size, sha256)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, segment, role) DO UPDATE SET
			local_path = excluded.local_path, object_key = excluded.object_key, size = excluded.size, sha256 = excluded.sha256`,
			r.SessionID, r.Segment, r.Role, r.LocalPath, r.ObjectKey, r.Size, r.SHA256)
		return constraintErr(err, fmt.Sprintf("segment %s/%d", r.SessionID, r.Segment))
	})
	return wrap("put render", err)
}

// ListRenders returns the renders of every segment of the session, by
// segment then role.
func (s *Store) ListRenders(ctx context.Context, sessionID string) ([]Render, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT session_id, segment, role, local_path, object_key, size, sha256
		FROM renders WHERE session_id = ? ORDER BY segment, role`, sessionID)
	if err != nil {
		return nil, wrap("list renders", err)
	}
	rs, err := collect(rows, func(r scanner) (Render, error) {
		var x Render
		err := r.Scan(&x.SessionID, &x.Segment, &x.Role, &x.LocalPath, &x.ObjectKey, &x.Size, &x.SHA256)
		return x, err
	})
	return rs, wrap("list renders", err)
}
