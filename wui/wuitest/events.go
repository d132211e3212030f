package wuitest

import (
	"context"
	"hash/fnv"
	"math"
	"strings"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/wui"
)

var levelRank = map[string]int{
	event.LevelDebug: 10, event.LevelInfo: 20, event.LevelWarning: 30, event.LevelError: 40, event.LevelCritical: 50,
}

// QueryEvents returns matching events, newest first.
func (f *Fake) QueryEvents(_ context.Context, q wui.EventQuery) ([]event.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	text := strings.ToLower(q.Text)
	var out []event.Event
	for i := len(f.events) - 1; i >= 0 && len(out) < limit; i-- {
		ev := f.events[i]
		if levelRank[ev.Level] < levelRank[q.Level] ||
			(!q.Since.IsZero() && ev.Time.Before(q.Since)) || (!q.Until.IsZero() && !ev.Time.Before(q.Until)) ||
			(q.Component != "" && ev.Component != q.Component) || (q.Process != "" && ev.Process != q.Process) ||
			(q.Host != "" && ev.Host != q.Host) || (q.UserName != "" && ev.UserName != q.UserName) ||
			(text != "" && !strings.Contains(strings.ToLower(ev.Message), text)) {
			continue
		}
		out = append(out, ev)
	}
	return out, nil
}

// Publish records an event, or fails with the error SetPublishError set.
func (f *Fake) Publish(_ context.Context, ev event.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.publishErr != nil {
		return f.publishErr
	}
	f.appendEventLocked(ev)
	return nil
}

func (f *Fake) appendEventLocked(ev event.Event) {
	f.seq++
	ev.Seq = f.seq
	f.events = append(f.events, ev)
}

// SetPublishError makes Publish fail with err (nil: succeed again). For
// tests of audit events that cannot be written.
func (f *Fake) SetPublishError(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.publishErr = err
}

// Events returns the published events of metric ("" for all), oldest
// first.
func (f *Fake) Events(metric string) []event.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []event.Event
	for _, ev := range f.events {
		if metric == "" || ev.MetricName == metric {
			out = append(out, ev)
		}
	}
	return out
}

// Report makes stable series from the bucket times: a working-day curve
// with noise, so that the same window always draws the same chart.
func (f *Fake) Report(_ context.Context, q wui.ReportQuery) (wui.Report, error) {
	n := 0
	if q.Bucket > 0 {
		n = int(q.Until.Sub(q.Since) / q.Bucket)
	}
	rep := wui.Report{Since: q.Since, Bucket: q.Bucket, Series: map[string][]float64{}}
	hours := q.Bucket.Hours()
	for _, k := range []string{wui.SeriesLoginsOK, wui.SeriesLoginsFailed, wui.SeriesSessionsCreated, wui.SeriesSessionsDestroyed,
		wui.SeriesSessionsConcurrent, wui.SeriesRecordingsEncoded, wui.SeriesRecordingsUploaded, wui.SeriesRecordingsFailed,
		wui.SeriesDiskFreeBytes, wui.SeriesEncodeSlotsInUse} {
		rep.Series[k] = make([]float64, n)
	}
	for i := 0; i < n; i++ {
		t := q.Since.Add(time.Duration(i) * q.Bucket)
		load := workload(t)
		r := func(salt string) float64 { return noise(t, salt) }
		created := math.Round(40 * hours * load * (0.8 + 0.4*r("c")))
		rep.Series[wui.SeriesSessionsCreated][i] = created
		rep.Series[wui.SeriesSessionsDestroyed][i] = math.Round(created * (0.9 + 0.2*r("d")))
		rep.Series[wui.SeriesLoginsOK][i] = math.Round(created * 1.1)
		rep.Series[wui.SeriesLoginsFailed][i] = math.Round(3 * hours * (0.2 + load) * r("f"))
		rep.Series[wui.SeriesSessionsConcurrent][i] = math.Round(2 + 22*load*(0.85+0.3*r("p")))
		rep.Series[wui.SeriesRecordingsEncoded][i] = math.Round(created * 0.95)
		rep.Series[wui.SeriesRecordingsUploaded][i] = math.Round(created * 0.93)
		rep.Series[wui.SeriesRecordingsFailed][i] = math.Round(hours * 2 * math.Max(0, r("x")-0.7))
		rep.Series[wui.SeriesDiskFreeBytes][i] = (118 - 30*load - 4*r("disk")) * (1 << 30)
		rep.Series[wui.SeriesEncodeSlotsInUse][i] = math.Min(4, math.Round(4*load*(0.7+0.5*r("e"))))
	}
	return rep, nil
}

// workload is 0.1 at night and up to 1 in working hours (UTC).
func workload(t time.Time) float64 {
	h := float64(t.UTC().Hour()) + float64(t.UTC().Minute())/60
	day := math.Max(0, math.Sin((h-7)/12*math.Pi))
	if wd := t.UTC().Weekday(); wd == time.Saturday || wd == time.Sunday {
		day *= 0.25
	}
	return 0.1 + 0.9*day
}

// noise is a stable pseudo-random number in [0, 1) for a time and salt.
func noise(t time.Time, salt string) float64 {
	h := fnv.New64a()
	h.Write([]byte(t.UTC().Format(time.RFC3339) + salt))
	return float64(h.Sum64()%10000) / 10000
}
