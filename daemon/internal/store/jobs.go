package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// JobKind is a step of the recording pipeline.
type JobKind string

// Job kinds.
const (
	JobEncode JobKind = "encode" // render the sealed segment
	JobUpload JobKind = "upload" // put the capture and renders in storage
	JobDelete JobKind = "delete" // remove local copies once uploaded and past retention
)

// JobState is where a job is. A kind has its own running and done states;
// pending, retrying, failed and stuck are shared.
//
//	pending ──Claim──> running ──Finish──> done
//	   ^                  │ └──Fail(retryAt)──> retrying ──(due)──Claim──> running
//	   │                  ├──Fail(zero)──> failed ──Retry──> pending
//	   └──ResetRunning────┘──MarkStuck──> stuck ──Retry──> pending
type JobState string

// Job states.
const (
	JobPending   JobState = "pending"
	JobEncoding  JobState = "encoding" // running encode
	JobEncoded   JobState = "encoded"  // done encode
	JobUploading JobState = "uploading"
	JobUploaded  JobState = "uploaded"
	JobDeleting  JobState = "deleting"
	JobDeleted   JobState = "deleted"
	JobRetrying  JobState = "retrying" // failed, waiting for next_attempt_at
	JobFailed    JobState = "failed"   // gave up; an administrator may retry
	JobStuck     JobState = "stuck"    // ran too long; an administrator may retry
)

// Running is the state of a claimed job of kind k.
func (k JobKind) Running() JobState {
	switch k {
	case JobEncode:
		return JobEncoding
	case JobUpload:
		return JobUploading
	case JobDelete:
		return JobDeleting
	}
	return ""
}

// Done is the state of a finished job of kind k.
func (k JobKind) Done() JobState {
	switch k {
	case JobEncode:
		return JobEncoded
	case JobUpload:
		return JobUploaded
	case JobDelete:
		return JobDeleted
	}
	return ""
}

func (k JobKind) valid() bool { return k.Running() != "" }

func (s JobState) valid() bool {
	switch s {
	case JobPending, JobEncoding, JobEncoded, JobUploading, JobUploaded, JobDeleting, JobDeleted,
		JobRetrying, JobFailed, JobStuck:
		return true
	}
	return false
}

// runningStates is the SQL list of the states a claimed job is in.
const runningStates = `('encoding', 'uploading', 'deleting')`

// Job is one entry of the pipeline's journal.
type Job struct {
	ID            int64
	Kind          JobKind
	SessionID     string
	Segment       int
	State         JobState
	Progress      int // 0-100
	Attempts      int // claims so far
	NextAttemptAt time.Time
	LastError     string
	Created       time.Time
	Started       time.Time // last claim; zero if never
	Finished      time.Time // done or failed; zero otherwise
	ObjectKey     string
}

const jobCols = `id, kind, session_id, segment, state, progress, attempts, next_attempt_at, last_error,
	created_at, started_at, finished_at, object_key`

func scanJob(r scanner) (Job, error) {
	var j Job
	var next, created int64
	var started, finished sql.NullInt64
	err := r.Scan(&j.ID, &j.Kind, &j.SessionID, &j.Segment, &j.State, &j.Progress, &j.Attempts, &next,
		&j.LastError, &created, &started, &finished, &j.ObjectKey)
	j.NextAttemptAt, j.Created = fromNS(next), fromNS(created)
	j.Started, j.Finished = fromNullNS(started), fromNullNS(finished)
	return j, err
}

// EnqueueJob queues a job of kind for segment n of the session, due now.
// It is idempotent: if the segment already has a job of that kind, in any
// state, that job is returned and created is false.
func (s *Store) EnqueueJob(ctx context.Context, kind JobKind, sessionID string, n int) (job Job, created bool, err error) {
	if !kind.valid() {
		return Job{}, false, wrap("enqueue job", fmt.Errorf("%w: kind %q", ErrInvalid, kind))
	}
	now := ns(s.now())
	err = s.writeDurable(ctx, func(tx *sql.Tx) error {
		var err error
		job, err = scanJob(tx.QueryRowContext(ctx, `INSERT INTO jobs (kind, session_id, segment, state, next_attempt_at, created_at)
			VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT (session_id, segment, kind) DO NOTHING RETURNING `+jobCols,
			kind, sessionID, n, now, now))
		if err == nil {
			created = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return constraintErr(err, fmt.Sprintf("segment %s/%d", sessionID, n))
		}
		job, err = scanJob(tx.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE session_id = ? AND segment = ? AND kind = ?`,
			sessionID, n, kind))
		return err
	})
	return job, created, wrap("enqueue job", err)
}

// claimSQL repeats the jobs_due index's condition word for word, so the
// oldest due job is the first entry of that partial index.
const claimSQL = `UPDATE jobs SET state = ?, attempts = attempts + 1, progress = 0, started_at = ?, finished_at = NULL
	WHERE id = (SELECT id FROM jobs WHERE kind = ? AND state IN ('pending', 'retrying') AND next_attempt_at <= ?
		ORDER BY next_attempt_at, id LIMIT 1)
	RETURNING ` + jobCols

// ClaimJob moves the oldest job of kind that is due at now (pending, or
// retrying with next_attempt_at <= now) to the kind's running state, counts
// the attempt and returns it. ok is false when no job is due. The claim is
// one UPDATE under SQLite's write lock, so two workers, in this process or
// another, never claim the same job.
func (s *Store) ClaimJob(ctx context.Context, kind JobKind, now time.Time) (job Job, ok bool, err error) {
	if !kind.valid() {
		return Job{}, false, wrap("claim job", fmt.Errorf("%w: kind %q", ErrInvalid, kind))
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		var err error
		job, err = scanJob(tx.QueryRowContext(ctx, claimSQL, kind.Running(), ns(now), kind, ns(now)))
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		ok = err == nil
		return err
	})
	return job, ok, wrap("claim job", err)
}

// transition updates a running job; ErrNotFound if there is no such job,
// ErrState if it is not running (it was reset, or finished twice).
func (s *Store) transition(ctx context.Context, op string, durable bool, id int64, set string, args ...any) error {
	fn := func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET `+set+` WHERE id = ? AND state IN `+runningStates, append(args, id)...)
		if err != nil {
			return constraintErr(err, fmt.Sprintf("job %d", id))
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var state JobState
		if err := tx.QueryRowContext(ctx, `SELECT state FROM jobs WHERE id = ?`, id).Scan(&state); err != nil {
			return notFound(err, fmt.Sprintf("job %d", id))
		}
		return fmt.Errorf("%w: job %d is %s, not running", ErrState, id, state)
	}
	var err error
	if durable {
		err = s.writeDurable(ctx, fn)
	} else {
		err = s.write(ctx, fn)
	}
	return wrap(op, err)
}

// UpdateJobProgress sets a running job's progress (0-100).
func (s *Store) UpdateJobProgress(ctx context.Context, id int64, progress int) error {
	if progress < 0 || progress > 100 {
		return wrap("update job progress", fmt.Errorf("%w: progress %d", ErrInvalid, progress))
	}
	return s.transition(ctx, "update job progress", false, id, `progress = ?`, progress)
}

// FinishJob marks a running job done, with the object key it produced (""
// if none).
func (s *Store) FinishJob(ctx context.Context, id int64, objectKey string) error {
	return s.transition(ctx, "finish job", true, id,
		`state = CASE kind WHEN 'encode' THEN 'encoded' WHEN 'upload' THEN 'uploaded' ELSE 'deleted' END,
		progress = 100, finished_at = ?, last_error = '', object_key = ?`, ns(s.now()), objectKey)
}

// FailJob records a running job's failure. With a non-zero retryAt the job
// waits in retrying until then; with a zero retryAt it is failed for good.
func (s *Store) FailJob(ctx context.Context, id int64, cause string, retryAt time.Time) error {
	if retryAt.IsZero() {
		return s.transition(ctx, "fail job", true, id, `state = 'failed', last_error = ?, finished_at = ?`,
			cause, ns(s.now()))
	}
	return s.transition(ctx, "fail job", true, id, `state = 'retrying', last_error = ?, next_attempt_at = ?`,
		cause, ns(retryAt))
}

// MarkJobStuck takes a running job that stopped making progress out of the
// way: it is not retried until RetryJob.
func (s *Store) MarkJobStuck(ctx context.Context, id int64, cause string) error {
	return s.transition(ctx, "mark job stuck", true, id, `state = 'stuck', last_error = ?`, cause)
}

// RetryJob puts a failed or stuck job back in the queue, due now.
func (s *Store) RetryJob(ctx context.Context, id int64) error {
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'pending', next_attempt_at = ?, finished_at = NULL
			WHERE id = ? AND state IN ('failed', 'stuck')`, ns(s.now()), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		var state JobState
		if err := tx.QueryRowContext(ctx, `SELECT state FROM jobs WHERE id = ?`, id).Scan(&state); err != nil {
			return notFound(err, fmt.Sprintf("job %d", id))
		}
		return fmt.Errorf("%w: job %d is %s, not failed or stuck", ErrState, id, state)
	})
	return wrap("retry job", err)
}

// ResetRunningJobs is crash recovery, run by vigild before its workers
// start: jobs left running by a previous process go back to pending, due
// now. It returns how many were reset.
func (s *Store) ResetRunningJobs(ctx context.Context) (int64, error) {
	var n int64
	err := s.writeDurable(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE jobs SET state = 'pending', progress = 0, next_attempt_at = ?
			WHERE state IN `+runningStates, ns(s.now()))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, wrap("reset running jobs", err)
}

// GetJob returns job id.
func (s *Store) GetJob(ctx context.Context, id int64) (Job, error) {
	j, err := scanJob(s.db.QueryRowContext(ctx, `SELECT `+jobCols+` FROM jobs WHERE id = ?`, id))
	return j, wrap("get job", notFound(err, fmt.Sprintf("job %d", id)))
}

// JobFilter selects jobs; zero fields match everything.
type JobFilter struct {
	Kind      JobKind
	States    []JobState
	SessionID string
	Limit     int // default DefaultPageSize, at most MaxPageSize
}

// ListJobs returns matching jobs, oldest first.
func (s *Store) ListJobs(ctx context.Context, f JobFilter) ([]Job, error) {
	var conds []string
	var args []any
	if f.Kind != "" {
		if !f.Kind.valid() {
			return nil, wrap("list jobs", fmt.Errorf("%w: kind %q", ErrInvalid, f.Kind))
		}
		conds, args = append(conds, "kind = ?"), append(args, f.Kind)
	}
	if len(f.States) > 0 {
		ph := make([]string, len(f.States))
		for i, st := range f.States {
			if !st.valid() {
				return nil, wrap("list jobs", fmt.Errorf("%w: state %q", ErrInvalid, st))
			}
			ph[i], args = "?", append(args, st)
		}
		conds = append(conds, "state IN ("+strings.Join(ph, ", ")+")")
	}
	if f.SessionID != "" {
		conds, args = append(conds, "session_id = ?"), append(args, f.SessionID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultPageSize
	}
	q := `SELECT ` + jobCols + ` FROM jobs`
	if len(conds) > 0 {
		q += ` WHERE ` + strings.Join(conds, " AND ")
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY id LIMIT ?`, append(args, min(limit, MaxPageSize))...)
	if err != nil {
		return nil, wrap("list jobs", err)
	}
	js, err := collect(rows, scanJob)
	return js, wrap("list jobs", err)
}
