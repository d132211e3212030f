package store

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// benchSize reads a fixture size from the environment, so a quick run and
// a full-scale run (VIGIL_BENCH_EVENTS=5000000) use the same code.
func benchSize(b *testing.B, env string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(env)); err == nil && v > 0 {
		return v
	}
	return def
}

func BenchmarkIndexEvents(b *testing.B) {
	ctx := context.Background()
	s, _ := newTestStore(b)
	const batch = 1000
	r := rand.New(rand.NewPCG(1, 1))
	batches := make([][]event.Event, 64)
	for i := range batches {
		batches[i] = genEvents(r, 0, batch)
	}
	seq := uint64(0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		evs := batches[i%len(batches)]
		for j := range evs {
			seq++
			evs[j].Seq = seq
			evs[j].Time = eventBase.Add(time.Duration(seq) * time.Millisecond)
		}
		if n, err := s.IndexEvents(ctx, evs); err != nil || n != batch {
			b.Fatalf("IndexEvents = %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}

// fillEvents indexes n generated events spread over a week, newest at
// eventBase+7d.
func fillEvents(b *testing.B, s *Store, n int) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(9, 9))
	step := 7 * 24 * time.Hour / time.Duration(n)
	for from := 0; from < n; from += 5000 {
		evs := genEvents(r, uint64(from), min(5000, n-from))
		for i := range evs {
			evs[i].Time = eventBase.Add(time.Duration(evs[i].Seq) * step)
		}
		if _, err := s.IndexEvents(ctx, evs); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA optimize`); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkQueryEvents(b *testing.B) {
	ctx := context.Background()
	s, _ := newTestStore(b)
	n := benchSize(b, "VIGIL_BENCH_EVENTS", 300000)
	fillEvents(b, s, n)
	end := eventBase.Add(7 * 24 * time.Hour)
	filters := []struct {
		name string
		f    EventFilter
	}{
		{"latest", EventFilter{}},
		{"last_hour", EventFilter{Since: end.Add(-time.Hour)}},
		{"warning_plus", EventFilter{Level: event.LevelWarning}},
		{"error_plus_week", EventFilter{Level: event.LevelError, Since: end.Add(-7 * 24 * time.Hour)}},
		{"user", EventFilter{UserName: "alice"}},
		{"user_day_error", EventFilter{UserName: "alice", Level: event.LevelError, Since: end.Add(-24 * time.Hour)}},
		{"metric", EventFilter{MetricName: "account.login.failed_locked"}},
		{"component_host_process", EventFilter{Component: "vnc", Host: "gw2", Process: "vigild"}},
		{"session", EventFilter{SessionID: "S1", Limit: 100}},
		{"text_day", EventFilter{Text: "destroyed", Since: end.Add(-24 * time.Hour)}},
		{"text_all_rare", EventFilter{Text: "session 12345 "}},
		{"limit_1000", EventFilter{Limit: 1000}},
	}
	for _, tt := range filters {
		b.Run(tt.name, func(b *testing.B) {
			q, args, _ := eventSelect(tt.f)
			b.Logf("%d events; plan: %s", n, explain(b, s, q, args...))
			for i := 0; i < b.N; i++ {
				if _, err := s.QueryEvents(ctx, tt.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// fillSessions inserts n sessions over a year directly in SQL: the history
// benchmark measures reads, and CreateSession's durable commit per row
// would take minutes for a million.
func fillSessions(b *testing.B, s *Store, n int) time.Time {
	ctx := context.Background()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	step := int64(365*24*time.Hour) / int64(n)
	_, err := s.db.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < ?)
		INSERT INTO sessions (id, user_name, target_name, protocol, started_at, ended_at, state, bytes_in, bytes_out)
		SELECT printf('%026d', i), 'user' || (i * 7919 % 200), 'target' || (i * 104729 % 50),
			CASE i % 3 WHEN 0 THEN 'ssh' WHEN 1 THEN 'vnc' ELSE 'rdp' END,
			? + i * ?, ? + i * ? + 600000000000,
			CASE WHEN i % 97 = 0 THEN 'killed' WHEN i % 41 = 0 THEN 'refused' ELSE 'ended' END, i, i
		FROM c`, n, base.UnixNano(), step, base.UnixNano(), step)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA optimize`); err != nil {
		b.Fatal(err)
	}
	return base.Add(365 * 24 * time.Hour)
}

func BenchmarkListSessions(b *testing.B) {
	ctx := context.Background()
	s, _ := newTestStore(b)
	n := benchSize(b, "VIGIL_BENCH_SESSIONS", 200000)
	end := fillSessions(b, s, n)
	// A cursor deep into the history: pages cost the same at any depth.
	deep := encodeCursor(ns(end.Add(-300*24*time.Hour)), "~")
	filters := []struct {
		name   string
		f      SessionFilter
		cursor string
	}{
		{"first_page", SessionFilter{}, ""},
		{"deep_page", SessionFilter{}, deep},
		{"user", SessionFilter{UserName: "user42"}, ""},
		{"user_deep", SessionFilter{UserName: "user42"}, deep},
		{"target_protocol", SessionFilter{TargetName: "target7", Protocol: ProtocolRDP}, ""},
		{"killed", SessionFilter{States: []SessionState{SessionKilled}}, ""},
		{"ended_or_killed_month", SessionFilter{States: []SessionState{SessionEnded, SessionKilled}, Since: end.Add(-30 * 24 * time.Hour)}, ""},
		{"user_target_range", SessionFilter{UserName: "user1", TargetName: "target3", Since: end.Add(-180 * 24 * time.Hour), Until: end.Add(-90 * 24 * time.Hour)}, ""},
	}
	for _, tt := range filters {
		b.Run(tt.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, _, err := s.ListSessions(ctx, tt.f, tt.cursor, DefaultPageSize); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("report_week_hourly", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if _, err := s.SessionActivity(ctx, end.Add(-7*24*time.Hour), end, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
}
