package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
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

// TranscriptHit is one line that matched: where to seek the player to.
type TranscriptHit struct {
	SessionID string
	Segment   int
	OffsetMS  int64
	Snippet   string // the line around the match, terms between SnippetStart and SnippetEnd
}

// HitsPerSession bounds the matching lines SearchSessions returns with
// each session.
const HitsPerSession = 5

// SessionSearch selects the sessions whose transcripts match a search.
type SessionSearch struct {
	// Text is what the user typed: every word must occur (in any order,
	// case and accents ignored). FTS5 operators are not interpreted.
	Text      string
	SessionID string        // optional: search one session
	Filter    SessionFilter // which sessions may be returned
	Cursor    string        // "" for the first page, else the Next of the previous one
	Limit     int           // sessions per page: default DefaultPageSize, at most MaxPageSize
}

// SessionHits is a session that matched a search, with its newest
// matching lines (at most HitsPerSession).
type SessionHits struct {
	Session Session
	Hits    []TranscriptHit
}

// SearchSessions returns one page of the sessions matching q, the one with
// the most recently indexed matching line first, and the cursor of the
// next page ("" after the last).
//
// It walks the matching lines newest first and stops as soon as the page
// and its lines are complete, so the first page of a common word costs
// little; a page deep into the results, or a session with fewer matching
// lines than HitsPerSession, costs a walk over the older matches. Sessions
// q.Filter excludes never count towards a page, so pages are full until
// the last. The cursor holds the newest matching line when the first page
// was asked for, and later pages ignore lines indexed since: a session
// whose transcript grows meanwhile keeps its place instead of jumping onto
// a page already shown.
func (s *Store) SearchSessions(ctx context.Context, q SessionSearch) ([]SessionHits, string, error) {
	found, next, err := s.searchSessions(ctx, q)
	return found, next, wrap("search sessions", err)
}

// sessionMatch is a session of a SearchSessions page while it is found:
// its newest matching line and the lines to return.
type sessionMatch struct {
	id     string
	newest int64
	lines  []int64
}

func (s *Store) searchSessions(ctx context.Context, q SessionSearch) ([]SessionHits, string, error) {
	match := ftsQuery(q.Text)
	if match == "" {
		return nil, "", fmt.Errorf("%w: empty search", ErrInvalid)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	var top, after int64 // no bound on the first page
	if q.Cursor != "" {
		var err error
		if top, after, err = decodeSearchCursor(q.Cursor); err != nil {
			return nil, "", err
		}
	}
	conds, args, err := sessionConds(q.Filter)
	if err != nil {
		return nil, "", err
	}
	// CROSS JOIN keeps the full-text index the outer loop, walked in rowid
	// order, whatever filter the sessions table could lead with.
	conds, args = append(conds, "transcripts MATCH ?"), append(args, match)
	if top > 0 {
		conds, args = append(conds, "t.rowid <= ?"), append(args, top)
	}
	if q.SessionID != "" {
		conds, args = append(conds, "t.session_id = ?"), append(args, q.SessionID)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT t.rowid, t.session_id FROM transcripts t CROSS JOIN sessions ON sessions.id = t.session_id
		WHERE `+strings.Join(conds, " AND ")+` ORDER BY t.rowid DESC`, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var page []*sessionMatch
	index := map[string]*sessionMatch{} // nil: on an earlier page, or after this one
	more, complete := false, 0          // complete: sessions with all their lines
	for !(more && complete == len(page)) && rows.Next() {
		var rowid int64
		var id string
		if err := rows.Scan(&rowid, &id); err != nil {
			return nil, "", err
		}
		if top == 0 {
			top = rowid
		}
		m, seen := index[id]
		switch {
		case seen && (m == nil || len(m.lines) == HitsPerSession):
			continue
		case seen:
			m.lines = append(m.lines, rowid)
		case after > 0 && rowid >= after: // on an earlier page
			index[id] = nil
			continue
		case len(page) == limit: // the first of the next page
			index[id] = nil
			more = true
			continue
		default:
			m = &sessionMatch{id: id, newest: rowid, lines: []int64{rowid}}
			index[id] = m
			page = append(page, m)
		}
		if len(m.lines) == HitsPerSession {
			complete++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	rows.Close()
	found, err := s.sessionHits(ctx, match, page)
	if err != nil || !more {
		return found, "", err
	}
	return found, encodeSearchCursor(top, page[len(page)-1].newest), nil
}

// sessionHits loads the sessions of a SearchSessions page and their
// matching lines.
func (s *Store) sessionHits(ctx context.Context, match string, page []*sessionMatch) ([]SessionHits, error) {
	if len(page) == 0 {
		return []SessionHits{}, nil
	}
	ids, lines := make([]any, len(page)), []any{SnippetStart, SnippetEnd, match}
	for i, m := range page {
		ids[i] = m.id
		for _, l := range m.lines {
			lines = append(lines, l)
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id IN (`+placeholders(len(ids))+`)`, ids...)
	if err != nil {
		return nil, err
	}
	sessions, err := collect(rows, scanSession)
	if err != nil {
		return nil, err
	}
	// rowid IN (...) next to MATCH makes FTS5 seek each line, not walk.
	rows, err = s.db.QueryContext(ctx, `SELECT rowid, session_id, segment, offset_ms, snippet(transcripts, 0, ?, ?, '…', 16)
		FROM transcripts WHERE transcripts MATCH ? AND rowid IN (`+placeholders(len(lines)-3)+`)`, lines...)
	if err != nil {
		return nil, err
	}
	type line struct {
		rowid int64
		hit   TranscriptHit
	}
	hits, err := collect(rows, func(r scanner) (line, error) {
		var l line
		err := r.Scan(&l.rowid, &l.hit.SessionID, &l.hit.Segment, &l.hit.OffsetMS, &l.hit.Snippet)
		return l, err
	})
	if err != nil {
		return nil, err
	}
	byID := map[string]Session{}
	for _, ss := range sessions {
		byID[ss.ID] = ss
	}
	byRowid := map[int64]TranscriptHit{}
	for _, l := range hits {
		byRowid[l.rowid] = l.hit
	}
	out := make([]SessionHits, 0, len(page))
	for _, m := range page {
		ss, ok := byID[m.id]
		if !ok {
			continue // deleted since the walk
		}
		sh := SessionHits{Session: ss}
		for _, l := range m.lines {
			if h, ok := byRowid[l]; ok {
				sh.Hits = append(sh.Hits, h)
			}
		}
		out = append(out, sh)
	}
	return out, nil
}

func placeholders(n int) string { return strings.TrimSuffix(strings.Repeat("?, ", n), ", ") }

// A search cursor is the newest matching line when the first page was
// asked for and the newest matching line of the last session of the page
// before, as rowids of the transcripts table, in a session cursor's
// encoding.
func encodeSearchCursor(top, after int64) string {
	return encodeCursor(top, strconv.FormatInt(after, 10))
}

func decodeSearchCursor(c string) (top, after int64, err error) {
	top, a, err := decodeCursor(c)
	if err == nil {
		after, err = strconv.ParseInt(a, 10, 64)
	}
	// Only what encodeSearchCursor makes: no sign, no leading zeros.
	if err != nil || after <= 0 || after > top || encodeSearchCursor(top, after) != c {
		return 0, 0, fmt.Errorf("%w: bad cursor %q", ErrInvalid, c)
	}
	return top, after, nil
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
