package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Level numbers, as Python's logging has them, so "at least WARNING" is a
// comparison. An unknown level counts as INFO.
var levelNumbers = map[string]int{
	event.LevelDebug:    10,
	event.LevelInfo:     20,
	event.LevelWarning:  30,
	event.LevelError:    40,
	event.LevelCritical: 50,
}

func levelNo(level string) int {
	if n, ok := levelNumbers[strings.ToUpper(level)]; ok {
		return n
	}
	return 20
}

func nullStr(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// eventBatchRows is how many events one INSERT statement carries: fewer
// statements make indexing several times faster, and 12 columns × 50 rows
// stays far below SQLite's limit on bound parameters.
const eventBatchRows = 50

const eventInsertCols = 12

// IndexEvents adds events from the journal to the index, all in one
// transaction. An event whose Seq is already indexed is skipped, so
// re-indexing a range of the journal is harmless. Every event must have a
// Seq. It returns how many events were new.
func (s *Store) IndexEvents(ctx context.Context, evs []event.Event) (int64, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	for i := range evs {
		if evs[i].Seq == 0 {
			return 0, wrap("index events", fmt.Errorf("%w: event %d (%s) has no seq", ErrInvalid, i, evs[i].MetricName))
		}
		if evs[i].Seq > 1<<63-1 {
			return 0, wrap("index events", fmt.Errorf("%w: event %d seq %d out of range", ErrInvalid, i, evs[i].Seq))
		}
	}
	var added int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		var full *sql.Stmt
		defer func() {
			if full != nil {
				full.Close()
			}
		}()
		args := make([]any, 0, eventBatchRows*eventInsertCols)
		for start := 0; start < len(evs); start += eventBatchRows {
			chunk := evs[start:min(start+eventBatchRows, len(evs))]
			args = args[:0]
			for i := range chunk {
				e := &chunk[i]
				js, err := json.Marshal(e)
				if err != nil {
					return fmt.Errorf("event %d: %w", e.Seq, err)
				}
				args = append(args, int64(e.Seq), ns(e.Time), e.MetricName, e.Level, levelNo(e.Level), e.Component,
					nullStr(e.Process), nullStr(e.Host), nullStr(e.UserName), nullStr(e.SessionID),
					nullStr(e.TargetName), e.Message, string(js))
			}
			var res sql.Result
			var err error
			if len(chunk) == eventBatchRows {
				if full == nil {
					if full, err = tx.PrepareContext(ctx, eventInsertSQL(eventBatchRows)); err != nil {
						return err
					}
				}
				res, err = full.ExecContext(ctx, args...)
			} else {
				res, err = tx.ExecContext(ctx, eventInsertSQL(len(chunk)), args...)
			}
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			added += n
		}
		return nil
	})
	if err != nil {
		return 0, wrap("index events", err)
	}
	return added, nil
}

func eventInsertSQL(rows int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO events (seq, time, metric_name, level, level_no, component, process, host, user_name,
		session_id, target_name, message, json) VALUES `)
	for i := 0; i < rows; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
	}
	b.WriteString(" ON CONFLICT (seq) DO NOTHING")
	return b.String()
}

// LastEventSeq is the highest indexed seq (0 if none): where re-indexing
// from the journal resumes.
func (s *Store) LastEventSeq(ctx context.Context) (uint64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM events`).Scan(&n)
	return uint64(n), wrap("last event seq", err)
}

// EventFilter selects events for the log dashboard. Zero fields match
// everything; string fields match exactly except Text.
type EventFilter struct {
	Level      string    // minimum level (DEBUG < INFO < WARNING < ERROR < CRITICAL)
	Since      time.Time // at or after
	Until      time.Time // before
	Component  string
	Process    string
	Host       string
	UserName   string
	SessionID  string
	MetricName string
	Text       string // message contains, case-insensitive for ASCII
	Limit      int    // default DefaultEventLimit, at most MaxEventLimit
}

// Bounds of EventFilter.Limit.
const (
	DefaultEventLimit = 100
	MaxEventLimit     = 10000
)

// eventQuery builds the WHERE clause. The index to lead with is chosen here
// (the first present of session, user, metric, WARNING-or-worse, component,
// time) and the other indexed columns are written "+col" so that SQLite,
// which has no statistics on a fresh appliance, cannot wander onto an index
// that forces it to sort every matching row to return the newest 100.
func eventQuery(f EventFilter) (string, []any, error) {
	var conds []string
	var args []any
	minLevel := 0
	if f.Level != "" {
		n, ok := levelNumbers[strings.ToUpper(f.Level)]
		if !ok {
			return "", nil, fmt.Errorf("%w: level %q", ErrInvalid, f.Level)
		}
		minLevel = n
	}
	// Warnings and worse are rarer than the events of one component, so
	// events_warn leads before events_component.
	lead := ""
	switch {
	case f.SessionID != "":
		lead = "session_id"
	case f.UserName != "":
		lead = "user_name"
	case f.MetricName != "":
		lead = "metric_name"
	case minLevel >= 30:
		lead = "level_no"
	case f.Component != "":
		lead = "component"
	}
	col := func(name string) string {
		if name == lead {
			return name
		}
		return "+" + name
	}
	for _, c := range []struct {
		name, val string
	}{
		{"session_id", f.SessionID}, {"user_name", f.UserName}, {"metric_name", f.MetricName},
		{"component", f.Component}, {"process", f.Process}, {"host", f.Host},
	} {
		if c.val != "" {
			conds, args = append(conds, col(c.name)+" = ?"), append(args, c.val)
		}
	}
	if minLevel > 10 {
		conds, args = append(conds, "level_no >= ?"), append(args, minLevel)
	}
	if lead == "level_no" {
		// Repeats the events_warn index's own condition word for word,
		// which is what lets SQLite use that partial index.
		conds = append(conds, "level_no >= 30")
	}
	if !f.Since.IsZero() {
		conds, args = append(conds, "time >= ?"), append(args, ns(f.Since))
	}
	if !f.Until.IsZero() {
		conds, args = append(conds, "time < ?"), append(args, ns(f.Until))
	}
	if f.Text != "" {
		conds, args = append(conds, `message LIKE ? ESCAPE '\'`), append(args, "%"+likeEscape(f.Text)+"%")
	}
	if len(conds) == 0 {
		return "", nil, nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args, nil
}

// eventSelect is the whole query of QueryEvents.
func eventSelect(f EventFilter) (string, []any, error) {
	where, args, err := eventQuery(f)
	if err != nil {
		return "", nil, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultEventLimit
	}
	return `SELECT seq, json FROM events` + where + ` ORDER BY time DESC, seq DESC LIMIT ?`,
		append(args, min(limit, MaxEventLimit)), nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// QueryEvents returns matching events, newest first.
func (s *Store) QueryEvents(ctx context.Context, f EventFilter) ([]event.Event, error) {
	q, args, err := eventSelect(f)
	if err != nil {
		return nil, wrap("query events", err)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap("query events", err)
	}
	evs, err := collect(rows, func(r scanner) (event.Event, error) {
		var seq int64
		var js string
		if err := r.Scan(&seq, &js); err != nil {
			return event.Event{}, err
		}
		var e event.Event
		if err := json.Unmarshal([]byte(js), &e); err != nil {
			return event.Event{}, fmt.Errorf("event %d: %w", seq, err)
		}
		e.Seq = uint64(seq)
		return e, nil
	})
	return evs, wrap("query events", err)
}

// pruneChunk is how many events one PruneEvents transaction deletes.
var pruneChunk = 10000

// PruneEvents deletes events older than olderThan, in chunks so the other
// process is never kept waiting for long, and returns how many it deleted.
func (s *Store) PruneEvents(ctx context.Context, olderThan time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.write(ctx, func(tx *sql.Tx) error {
			res, err := tx.ExecContext(ctx, `DELETE FROM events WHERE seq IN
				(SELECT seq FROM events WHERE time < ? LIMIT ?)`, ns(olderThan), pruneChunk)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, wrap("prune events", err)
		}
		total += n
		if n == 0 {
			return total, nil
		}
	}
}
