package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// MaxBuckets bounds the number of buckets a report may ask for.
const MaxBuckets = 10000

// Series is counts per time bucket for a report chart. Bucket i covers
// [Since + i×Bucket, Since + (i+1)×Bucket); every slice in Counts has
// Buckets() entries, zeros included.
type Series struct {
	Since  time.Time
	Bucket time.Duration
	Counts map[string][]int64
}

// Buckets is the number of buckets.
func (s Series) Buckets() int {
	for _, c := range s.Counts {
		return len(c)
	}
	return 0
}

// BucketStart is the start of bucket i.
func (s Series) BucketStart(i int) time.Time { return s.Since.Add(time.Duration(i) * s.Bucket) }

func newSeries(since, until time.Time, bucket time.Duration, keys ...string) (Series, int, error) {
	if bucket <= 0 || !until.After(since) {
		return Series{}, 0, fmt.Errorf("%w: report range %s..%s by %s", ErrInvalid, since, until, bucket)
	}
	n := int((until.Sub(since) + bucket - 1) / bucket)
	if n > MaxBuckets || n < 0 {
		return Series{}, 0, fmt.Errorf("%w: report of more than %d buckets", ErrInvalid, MaxBuckets)
	}
	s := Series{Since: since.UTC(), Bucket: bucket, Counts: make(map[string][]int64, len(keys))}
	for _, k := range keys {
		s.Counts[k] = make([]int64, n)
	}
	return s, n, nil
}

// bucketCounts runs a query selecting (bucket index, count) rows and adds
// them to counts.
func (s *Store) bucketCounts(ctx context.Context, counts []int64, q string, args ...any) error {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	_, err = collect(rows, func(r scanner) (struct{}, error) {
		var b, n int64
		if err := r.Scan(&b, &n); err != nil {
			return struct{}{}, err
		}
		if b >= 0 && b < int64(len(counts)) {
			counts[b] += n
		}
		return struct{}{}, nil
	})
	return err
}

// EventCounts counts indexed events per bucket for each metric name; a name
// ending in '*' counts every metric with that prefix (for example
// "account.login.failed*"). The names are the keys of the result.
func (s *Store) EventCounts(ctx context.Context, metrics []string, since, until time.Time, bucket time.Duration) (Series, error) {
	sr, _, err := newSeries(since, until, bucket, metrics...)
	if err != nil {
		return Series{}, wrap("event counts", err)
	}
	for _, m := range metrics {
		cond, margs := `metric_name = ?`, []any{m}
		if prefix, ok := strings.CutSuffix(m, "*"); ok {
			// A range on the index's first column: SQLite compares bytes, and
			// 0xFF never occurs in UTF-8.
			cond, margs = `metric_name >= ? AND metric_name < ?`, []any{prefix, prefix + "\xff"}
		}
		args := append([]any{ns(since), int64(bucket)}, margs...)
		err := s.bucketCounts(ctx, sr.Counts[m], `SELECT (time - ?) / ?, count(*) FROM events WHERE `+cond+`
			AND time >= ? AND time < ? GROUP BY 1`, append(args, ns(since), ns(until))...)
		if err != nil {
			return Series{}, wrap("event counts", err)
		}
	}
	return sr, nil
}

// Metric names the login report counts.
const (
	MetricLoginSuccessful = "account.login.successful"
	MetricLoginFailed     = "account.login.failed*" // every account.login.failed_<reason>
)

// LoginActivity counts successful and failed logins per bucket from the
// event index: keys "successful" and "failed".
func (s *Store) LoginActivity(ctx context.Context, since, until time.Time, bucket time.Duration) (Series, error) {
	ev, err := s.EventCounts(ctx, []string{MetricLoginSuccessful, MetricLoginFailed}, since, until, bucket)
	if err != nil {
		return Series{}, wrap("login activity", err)
	}
	ev.Counts = map[string][]int64{"successful": ev.Counts[MetricLoginSuccessful], "failed": ev.Counts[MetricLoginFailed]}
	return ev, nil
}

// SessionActivity reports sessions per bucket from the session history:
//   - "created": sessions started (refusals excluded);
//   - "destroyed": sessions ended or killed;
//   - "refused": sessions refused at admission;
//   - "concurrent": the peak number of sessions running at once.
func (s *Store) SessionActivity(ctx context.Context, since, until time.Time, bucket time.Duration) (Series, error) {
	sr, n, err := newSeries(since, until, bucket, "created", "destroyed", "refused", "concurrent")
	if err != nil {
		return Series{}, wrap("session activity", err)
	}
	from, to, step := ns(since), ns(until), int64(bucket)
	queries := []struct {
		key, q string
	}{
		{"created", `SELECT (started_at - ?1) / ?2, count(*) FROM sessions
			WHERE started_at >= ?1 AND started_at < ?3 AND +state != 'refused' GROUP BY 1`},
		{"refused", `SELECT (started_at - ?1) / ?2, count(*) FROM sessions
			WHERE started_at >= ?1 AND started_at < ?3 AND +state = 'refused' GROUP BY 1`},
		{"destroyed", `SELECT (ended_at - ?1) / ?2, count(*) FROM sessions
			WHERE ended_at >= ?1 AND ended_at < ?3 AND +state IN ('ended', 'killed') GROUP BY 1`},
	}
	for _, q := range queries {
		if err := s.bucketCounts(ctx, sr.Counts[q.key], q.q, from, step, to); err != nil {
			return Series{}, wrap("session activity", err)
		}
	}
	// Every session overlapping the range: started inside it, or started
	// before and ended inside or after it, or still active. Each part has
	// its index (started, ended, state).
	rows, err := s.db.QueryContext(ctx, `
		SELECT started_at, ended_at FROM sessions WHERE started_at >= ?1 AND started_at < ?2 AND +state != 'refused'
		UNION ALL
		SELECT started_at, ended_at FROM sessions WHERE ended_at >= ?1 AND +started_at < ?1 AND +state != 'refused'
		UNION ALL
		SELECT started_at, ended_at FROM sessions WHERE state = 'active' AND started_at < ?1`, from, to)
	if err != nil {
		return Series{}, wrap("session activity", err)
	}
	spans, err := collect(rows, func(r scanner) ([2]int64, error) {
		var start int64
		var end sql.NullInt64
		err := r.Scan(&start, &end)
		if !end.Valid {
			end.Int64 = math.MaxInt64
		}
		return [2]int64{start, end.Int64}, err
	})
	if err != nil {
		return Series{}, wrap("session activity", err)
	}
	sr.Counts["concurrent"] = peakConcurrency(spans, from, step, n)
	return sr, nil
}

// peakConcurrency sweeps session spans [start, end) and returns, for each of
// n buckets from since, the most spans open at any instant in it. A span
// ending at the instant another starts does not overlap it.
func peakConcurrency(spans [][2]int64, since, step int64, n int) []int64 {
	type edge struct {
		t int64
		d int64
	}
	edges := make([]edge, 0, 2*len(spans))
	for _, sp := range spans {
		if sp[1] <= since {
			continue
		}
		edges = append(edges, edge{max(sp[0], since), +1})
		if sp[1] != math.MaxInt64 {
			edges = append(edges, edge{sp[1], -1})
		}
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].t != edges[j].t {
			return edges[i].t < edges[j].t
		}
		return edges[i].d < edges[j].d
	})
	peak := make([]int64, n)
	var cur int64
	i := 0
	for b := range n {
		start, end := since+int64(b)*step, since+int64(b+1)*step
		// Spans ending right at the bucket's start are not in it.
		for ; i < len(edges) && edges[i].t == start && edges[i].d < 0; i++ {
			cur += edges[i].d
		}
		peak[b] = cur
		for ; i < len(edges) && edges[i].t < end; i++ {
			cur += edges[i].d
			peak[b] = max(peak[b], cur)
		}
	}
	return peak
}

// RecordingActivity reports the pipeline per bucket from the job journal:
// "encoded" and "uploaded" count segments finished in the bucket, "failed"
// the jobs given up on.
func (s *Store) RecordingActivity(ctx context.Context, since, until time.Time, bucket time.Duration) (Series, error) {
	sr, _, err := newSeries(since, until, bucket, "encoded", "uploaded", "failed")
	if err != nil {
		return Series{}, wrap("recording activity", err)
	}
	for key, state := range map[string]JobState{"encoded": JobEncoded, "uploaded": JobUploaded, "failed": JobFailed} {
		err := s.bucketCounts(ctx, sr.Counts[key], `SELECT (finished_at - ?1) / ?2, count(*) FROM jobs
			WHERE finished_at >= ?1 AND finished_at < ?3 AND +state = ?4 GROUP BY 1`,
			ns(since), int64(bucket), ns(until), state)
		if err != nil {
			return Series{}, wrap("recording activity", err)
		}
	}
	return sr, nil
}
