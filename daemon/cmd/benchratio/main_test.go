package main

import (
	"strings"
	"testing"
)

func TestRatios(t *testing.T) {
	in := `goos: linux
pkg: github.com/vigilgw/vigil/plugins/logformat-cef
BenchmarkFormat/baseline-2   	    1000	   1000 ns/op
BenchmarkFormat/vigil-2      	    1000	   1000 ns/op
pkg: github.com/vigilgw/vigil/plugins/logformat-json
BenchmarkFormat/baseline-2   	    1000	   2000 ns/op	 500000 events/s
BenchmarkFormat/vigil-2      	    1000	   4000 ns/op	 250000 events/s
BenchmarkLonely/vigil-2      	    1000	   4000 ns/op
PASS
`
	var out strings.Builder
	if err := run(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"BenchmarkFormat/baseline-2", // passed through
		"logformat-json.BenchmarkFormat",
		"logformat-cef.BenchmarkFormat",
		"ratio 0.500",
		"logformat-json.BenchmarkLonely", "missing baseline side",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Count(s, "ratio 0.500") != 2 {
		t.Errorf("both ns/op (lower better) and events/s (higher better) should give 0.5:\n%s", s)
	}
}

func TestMedianOfRuns(t *testing.T) {
	in := `pkg: example.com/x
BenchmarkRender/baseline-2   1   100 ns/op
BenchmarkRender/vigil-2      1   500 ns/op
BenchmarkRender/baseline-2   1   100 ns/op
BenchmarkRender/vigil-2      1   200 ns/op
BenchmarkRender/baseline-2   1   100 ns/op
BenchmarkRender/vigil-2      1   125 ns/op
`
	var out strings.Builder
	if err := run(strings.NewReader(in), &out); err != nil {
		t.Fatal(err)
	}
	// medians 100 and 200: one slow run (500) and the last run (125) decide nothing
	if s := out.String(); !strings.Contains(s, "ratio 0.500  (medians of 3 runs)") {
		t.Errorf("want the ratio of the medians:\n%s", s)
	}
}
