package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

func procCPU(pid int) int64 {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return (u + s) * 10_000_000
}

func selfCPU() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func BenchmarkCPU(b *testing.B) {
	events := benchBatch()
	b.Run("baseline", func(b *testing.B) { cpuFormat(b, newFormatter(), events, 0) })
	b.Run("vigil", func(b *testing.B) {
		c := sdktest.Launch(b, sdk.KindLogFormat, "/tmp/vb/cef", nil)
		f, _ := c.LogFormatter()
		cpuFormat(b, f, events, c.PID())
	})
}

func cpuFormat(b *testing.B, f sdk.LogFormatter, events []event.Event, pid int) {
	ctx := context.Background()
	f.Format(ctx, events)
	h0 := selfCPU()
	var p0 int64
	if pid != 0 {
		p0 = procCPU(pid)
	}
	for b.Loop() {
		f.Format(ctx, events)
	}
	b.ReportMetric(float64(selfCPU()-h0)/float64(b.N), "hostcpu-ns/op")
	if pid != 0 {
		b.ReportMetric(float64(procCPU(pid)-p0)/float64(b.N), "plugcpu-ns/op")
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "events/s")
}
