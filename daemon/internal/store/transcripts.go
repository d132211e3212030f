package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// TranscriptLine is searchable text a recorder extracted from a segment.
type TranscriptLine struct {
	OffsetMS int64 // from the session start
	Text     string
}

// AddTranscript indexes the lines of one segment of a session, in one
// transaction.
func (s *Store) AddTranscript(ctx context.Context, sessionID string, segment int, lines []TranscriptLine) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM sessions WHERE id = ?`, sessionID).Scan(&one); err != nil {
			return notFound(err, "session "+sessionID)
		}
		st, err := tx.PrepareContext(ctx, `INSERT INTO transcripts (text, session_id, segment, offset_ms) VALUES (?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, l := range lines {
			if _, err := st.ExecContext(ctx, l.Text, sessionID, segment, l.OffsetMS); err != nil {
				return err
			}
		}
		return nil
	})
	return wrap("add transcript", err)
}

// Markers around the matched terms in TranscriptHit.Snippet. They are
// control characters, which terminal text in a transcript never holds, so
// a page can HTML-escape the snippet and then turn them into <mark> tags.
const (
	SnippetStart = "\x02"
	SnippetEnd   = "\x03"
)

// TranscriptQuery searches transcripts.
type TranscriptQuery struct {
	// Text is what the user typed: every word must occur (in any order,
	// case and accents ignored). FTS5 operators are not interpreted.
	Text      string
	SessionID string // optional: search one session
	Limit     int    // default DefaultPageSize, at most MaxPageSize
}

// TranscriptHit is one line that matched: where to seek the player to.
type TranscriptHit struct {
	SessionID string
	Segment   int
	OffsetMS  int64
	Snippet   string // the line around the match, terms between SnippetStart and SnippetEnd
}

// SearchTranscripts returns matching lines, most recently indexed first
// (the FTS index's rowid order, which needs no sort over all the matches).
func (s *Store) SearchTranscripts(ctx context.Context, q TranscriptQuery) ([]TranscriptHit, error) {
	match := ftsQuery(q.Text)
	if match == "" {
		return nil, wrap("search transcripts", fmt.Errorf("%w: empty search", ErrInvalid))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	sqlq := `SELECT session_id, segment, offset_ms, snippet(transcripts, 0, ?, ?, '…', 16)
		FROM transcripts WHERE transcripts MATCH ?`
	args := []any{SnippetStart, SnippetEnd, match}
	if q.SessionID != "" {
		sqlq, args = sqlq+` AND session_id = ?`, append(args, q.SessionID)
	}
	rows, err := s.db.QueryContext(ctx, sqlq+` ORDER BY rowid DESC LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, wrap("search transcripts", err)
	}
	hits, err := collect(rows, func(r scanner) (TranscriptHit, error) {
		var h TranscriptHit
		err := r.Scan(&h.SessionID, &h.Segment, &h.OffsetMS, &h.Snippet)
		return h, err
	})
	return hits, wrap("search transcripts", err)
}

// ftsQuery turns typed words into an FTS5 query of quoted terms, so that
// quotes, '*', '-', ':', NEAR, AND/OR/NOT are searched for, not obeyed.
func ftsQuery(text string) string {
	words := strings.Fields(text)
	for i, w := range words {
		words[i] = `"` + strings.ReplaceAll(w, `"`, `""`) + `"`
	}
	return strings.Join(words, " ")
}
