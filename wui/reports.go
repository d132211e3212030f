package wui

import (
	"strconv"
	"time"

	"github.com/valyala/fasthttp"
)

// Report periods. Real-time is the only one that refreshes by itself,
// every five minutes; a custom range refreshes as its form says.
const (
	periodRealtime = "realtime"
	periodDay      = "day"
	periodWeek     = "week"
	periodCustom   = "custom"

	realtimeRefresh = 300 // seconds
)

// customRefreshes are the refresh choices of a custom range, in seconds.
var customRefreshes = []int{0, 60, 300, 900, 3600}

type reportsFilter struct {
	Period  string
	Start   string
	End     string
	Refresh int
}

type reportsView struct {
	Filter    reportsFilter
	Refreshes []int
	Since     time.Time
	Until     time.Time
	Bucket    time.Duration
	Charts    []chart
	Error     string
}

// reportQuery turns the page's form into aligned buckets: the window ends
// at the end of the current bucket.
func reportQuery(args *fasthttp.Args, now time.Time) (reportsFilter, ReportQuery, int, string) {
	f := reportsFilter{Period: string(args.Peek("period")), Start: string(args.Peek("start")), End: string(args.Peek("end"))}
	if n, err := strconv.Atoi(string(args.Peek("refresh"))); err == nil {
		for _, r := range customRefreshes {
			if r == n {
				f.Refresh = n
			}
		}
	}
	var span, bucket time.Duration
	switch f.Period {
	case periodRealtime:
		span, bucket = time.Hour, time.Minute
		f.Refresh = realtimeRefresh
	case "", periodDay:
		f.Period, span, bucket = periodDay, 24*time.Hour, 30*time.Minute
		f.Refresh = 0
	case periodWeek:
		span, bucket = 7*24*time.Hour, 3*time.Hour
		f.Refresh = 0
	case periodCustom:
		since, err := parseDate(f.Start, false)
		if err != nil {
			return f, ReportQuery{}, 0, "Give the custom range a start date."
		}
		until := now
		if f.End != "" {
			if until, err = parseDate(f.End, true); err != nil {
				return f, ReportQuery{}, 0, "The end is not a date."
			}
		}
		if !until.After(since) {
			return f, ReportQuery{}, 0, "The end must be after the start."
		}
		if until.Sub(since) > 366*24*time.Hour {
			return f, ReportQuery{}, 0, "A custom range is at most a year."
		}
		bucket = niceBucket(until.Sub(since) / 60)
		n := int((until.Sub(since) + bucket - 1) / bucket)
		since = since.Truncate(bucket)
		return f, ReportQuery{Since: since, Until: since.Add(time.Duration(n) * bucket), Bucket: bucket}, n, ""
	default:
		return f, ReportQuery{}, 0, "Unknown period."
	}
	until := now.Truncate(bucket).Add(bucket)
	n := int(span / bucket)
	return f, ReportQuery{Since: until.Add(-time.Duration(n) * bucket), Until: until, Bucket: bucket}, n, ""
}

// niceBucket rounds d up to a bucket size people read easily.
func niceBucket(d time.Duration) time.Duration {
	for _, b := range []time.Duration{time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
		time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour} {
		if d <= b {
			return b
		}
	}
	return 7 * 24 * time.Hour
}

func (s *Server) reportsPage(ctx *fasthttp.RequestCtx) {
	f, q, n, msg := reportQuery(ctx.QueryArgs(), s.cfg.Now())
	v := reportsView{Filter: f, Refreshes: customRefreshes, Error: msg, Since: q.Since, Until: q.Until, Bucket: q.Bucket}
	status := fasthttp.StatusOK
	if msg != "" {
		status = fasthttp.StatusBadRequest
	} else {
		rep, err := s.b.Reports.Report(ctx, q)
		if err != nil {
			s.backendError(ctx, "compute the reports", err)
			return
		}
		rep.Since, rep.Bucket = q.Since, q.Bucket
		for _, def := range reportCharts {
			v.Charts = append(v.Charts, buildChart(def, rep, n))
		}
	}
	s.render(ctx, status, "reports", pageData{Title: "Reports", Section: "reports", Refresh: f.Refresh, Data: v})
}
