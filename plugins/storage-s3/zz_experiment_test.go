package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
	"github.com/vigilgw/vigil/plugins/storage-s3/s3test"
)

func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * 10 * time.Millisecond
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func vgwPID() int {
	out, _ := exec.Command("pgrep", "-P", strconv.Itoa(os.Getpid()), "versitygw").Output()
	p, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return p
}

func TestExpCPU(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket("bench")
	data := randomBytes(7, benchObjectSize)
	sum := hexSHA(data)
	ctx := context.Background()
	s := newStorage()
	if err := s.Configure(ctx, srv.PluginConfig("bench", nil)); err != nil {
		t.Fatal(err)
	}
	c := srv.Client()
	cl := sdktest.Launch(t, sdk.KindStorage, pluginBinary(t), srv.PluginConfig("bench", nil))
	ls, _ := cl.Storage()
	vgw := vgwPID()
	const n = 4
	for round := range 2 {
		for _, mode := range []string{"baseline", "direct", "vigil"} {
			s0, v0, p0, w0 := selfCPU(), procCPU(vgw), procCPU(cl.PID()), time.Now()
			for i := range n {
				var err error
				key := fmt.Sprintf("%s/%d-%d", mode, round, i)
				switch mode {
				case "baseline":
					_, err = c.PutObject(ctx, "bench", key, bytes.NewReader(data), benchObjectSize, minio.PutObjectOptions{})
				case "direct":
					_, err = s.Put(ctx, key, bytes.NewReader(data), benchObjectSize, sdk.PutOptions{SHA256: sum})
				case "vigil":
					_, err = ls.Put(ctx, key, bytes.NewReader(data), benchObjectSize, sdk.PutOptions{SHA256: sum})
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("%-8s wall %v  self %v  plugin %v  versitygw %v", mode, time.Since(w0)/n, (selfCPU()-s0)/n, (procCPU(cl.PID())-p0)/n, (procCPU(vgw)-v0)/n)
		}
	}
}
