// Command benchratio reads `go test -bench` output on stdin, passes it
// through, and then prints, for every benchmark with sub-benchmarks named
// "baseline" and "vigil" measured in the same run, each metric of vigil as a
// ratio against baseline. It is how `make bench` reports speed: as ratios
// against a baseline measured on the same machine at the same time, never as
// absolute numbers compared with a fixed threshold. With -count N each side
// has N results per metric; the ratio is taken between their medians, so one
// disturbed run does not decide the figure.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "benchratio:", err)
		os.Exit(1)
	}
}

// higherIsBetter says which direction a unit improves in, so each ratio can
// be read as "vigil's share of baseline's performance" (1.0 = equal).
func higherIsBetter(unit string) bool {
	return strings.HasSuffix(unit, "/s") || unit == "MB/s"
}

type result map[string][]float64 // unit -> values, one per run

// median returns the median of vs (the mean of the middle two for an even
// count).
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func run(in io.Reader, out io.Writer) error {
	pairs := map[string]map[string]result{} // benchmark -> side -> metrics
	var order []string
	pkg := "" // benchmarks of the same name in two packages are two pairs
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(out, line)
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = path.Base(strings.TrimSpace(p)) + "."
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 4 || !strings.HasPrefix(fields[0], "Benchmark") {
			continue
		}
		name := fields[0]
		if i := strings.LastIndex(name, "-"); i > 0 { // strip -GOMAXPROCS
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		i := strings.LastIndex(name, "/")
		if i < 0 {
			continue
		}
		parent, side := pkg+name[:i], name[i+1:]
		if side != "baseline" && side != "vigil" {
			continue
		}
		if pairs[parent] == nil {
			pairs[parent] = map[string]result{}
			order = append(order, parent)
		}
		m := pairs[parent][side]
		if m == nil {
			m = result{}
			pairs[parent][side] = m
		}
		for j := 2; j+1 < len(fields); j += 2 {
			v, err := strconv.ParseFloat(fields[j], 64)
			if err != nil {
				break
			}
			m[fields[j+1]] = append(m[fields[j+1]], v)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n=== vigil vs baseline, same run (ratio: 1.00 = as fast as baseline; higher is better) ===")
	for _, name := range order {
		b, v := pairs[name]["baseline"], pairs[name]["vigil"]
		if b == nil || v == nil {
			fmt.Fprintf(out, "%-60s missing %s side\n", name, map[bool]string{true: "vigil", false: "baseline"}[b != nil])
			continue
		}
		units := make([]string, 0, len(v))
		for u := range v {
			if _, ok := b[u]; ok {
				units = append(units, u)
			}
		}
		sort.Strings(units)
		for _, u := range units {
			bm, vm := median(b[u]), median(v[u])
			if bm == 0 || vm == 0 {
				continue
			}
			ratio := bm / vm // lower-is-better units: time, bytes, allocs
			if higherIsBetter(u) {
				ratio = vm / bm
			}
			runs := ""
			if n := min(len(b[u]), len(v[u])); n > 1 {
				runs = fmt.Sprintf("  (medians of %d runs)", n)
			}
			fmt.Fprintf(out, "%-60s %-12s baseline %-14.4g vigil %-14.4g ratio %.3f%s\n", name, u, bm, vm, ratio, runs)
		}
	}
	return nil
}
