package wui

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// chart is one report chart, laid out in Go and drawn as inline SVG by
// the template: no script, no library, the same picture in every browser.
type chart struct {
	Title  string
	W, H   int
	Left   int // plot area
	Top    int
	Right  int
	Bottom int
	Lines  []chartLine
	YTicks []chartTick
	XTicks []chartTick
	NoData bool
}

type chartLine struct {
	Name   string
	Class  string // colour, from app.css
	Points string
	Total  string // sum (counters) or latest value (gauges), for the legend
}

type chartTick struct {
	Pos    float64
	Label  string
	Anchor string // text-anchor of an x label: the ends stay inside the plot
}

type seriesDef struct{ Key, Name string }

type chartDef struct {
	Title  string
	Series []seriesDef
	Bytes  bool // values are bytes
	Gauge  bool // a level, not a count: the legend shows the latest value
}

// reportCharts are the charts of the reports page, in order.
var reportCharts = []chartDef{
	{Title: "Logins", Series: []seriesDef{{SeriesLoginsOK, "Successful"}, {SeriesLoginsFailed, "Failed"}}},
	{Title: "Sessions", Series: []seriesDef{{SeriesSessionsCreated, "Created"}, {SeriesSessionsDestroyed, "Destroyed"}}},
	{Title: "Concurrent sessions", Gauge: true, Series: []seriesDef{{SeriesSessionsConcurrent, "Peak"}}},
	{Title: "Recordings", Series: []seriesDef{{SeriesRecordingsEncoded, "Encoded"}, {SeriesRecordingsUploaded, "Uploaded"}, {SeriesRecordingsFailed, "Failed"}}},
	{Title: "Disk free (spool)", Gauge: true, Bytes: true, Series: []seriesDef{{SeriesDiskFreeBytes, "Free"}}},
	{Title: "Encode slots in use", Gauge: true, Series: []seriesDef{{SeriesEncodeSlotsInUse, "In use"}}},
}

// buildChart lays out def's series of rep.
func buildChart(def chartDef, rep Report, buckets int) chart {
	c := chart{Title: def.Title, W: 560, H: 220, Left: 64, Top: 12, Right: 548, Bottom: 188}
	var maxV float64
	present := 0
	for _, sd := range def.Series {
		vals, ok := rep.Series[sd.Key]
		if !ok {
			continue
		}
		present++
		for _, v := range vals {
			maxV = math.Max(maxV, v)
		}
	}
	if present == 0 || buckets == 0 {
		c.NoData = true
		return c
	}
	top := 4 * niceStep(maxV/4, def.Bytes)
	plotW, plotH := float64(c.Right-c.Left), float64(c.Bottom-c.Top)
	for i := 0; i <= 4; i++ {
		v := top * float64(i) / 4
		c.YTicks = append(c.YTicks, chartTick{Pos: float64(c.Bottom) - plotH*float64(i)/4, Label: valueLabel(v, def.Bytes)})
	}
	x := func(i int) float64 {
		if buckets == 1 {
			return float64(c.Left) + plotW/2
		}
		return float64(c.Left) + plotW*float64(i)/float64(buckets-1)
	}
	for k, sd := range def.Series {
		vals, ok := rep.Series[sd.Key]
		if !ok {
			continue
		}
		var pts strings.Builder
		var sum, last float64
		for i := 0; i < buckets && i < len(vals); i++ {
			y := float64(c.Bottom) - plotH*vals[i]/top
			fmt.Fprintf(&pts, "%.1f,%.1f ", x(i), y)
			sum += vals[i]
			last = vals[i]
		}
		total := valueLabel(sum, def.Bytes)
		if def.Gauge {
			total = "now " + valueLabel(last, def.Bytes)
		}
		c.Lines = append(c.Lines, chartLine{Name: sd.Name, Class: "series-" + strconv.Itoa(k), Points: strings.TrimSpace(pts.String()), Total: total})
	}
	span := time.Duration(buckets) * rep.Bucket
	layout := "15:04"
	if span > 48*time.Hour {
		layout = "Jan 02"
	} else if span > 24*time.Hour {
		layout = "Jan 02 15:04"
	}
	const xLabels = 6
	for j := 0; j < xLabels; j++ {
		i := j * (buckets - 1) / (xLabels - 1)
		if buckets == 1 {
			i = 0
		}
		anchor := "middle"
		switch {
		case j == 0:
			anchor = "start"
		case j == xLabels-1:
			anchor = "end"
		}
		c.XTicks = append(c.XTicks, chartTick{Pos: x(i), Label: rep.Since.Add(time.Duration(i) * rep.Bucket).UTC().Format(layout), Anchor: anchor})
		if buckets == 1 {
			break
		}
	}
	return c
}

// niceStep rounds v up to a step the axis reads well in: 1, 2 or 5 times
// a power of ten for counts (never below 1, so counts stay whole), and a
// power-of-two multiple of a MiB for bytes.
func niceStep(v float64, bytes bool) float64 {
	if bytes {
		step := float64(1 << 20)
		for step < v {
			step *= 2
		}
		return step
	}
	if v <= 1 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func valueLabel(v float64, bytes bool) string {
	if bytes {
		return fmtBytes(int64(v))
	}
	if v == math.Trunc(v) {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}
