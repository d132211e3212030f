package sdk_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// stopped launches the echo formatter, checks that it answers a ping and
// stops its process with SIGSTOP; the test's end lets it continue, in case
// the test failed before the process was killed.
func stopped(t *testing.T) *sdk.Client {
	t.Helper()
	path := sdktest.BuildPlugin(t, "./testdata/echoformat", "vigil-plugin-logformat-echo")
	c := sdktest.Launch(t, sdk.KindLogFormat, path, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping of a running plugin = %v", err)
	}
	pid := c.PID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	return c
}

// TestPingStoppedProcess: a ping of a stopped process ends with its
// context, a Kill still gets rid of the process, and a ping afterwards says
// the plugin is unavailable.
func TestPingStoppedProcess(t *testing.T) {
	c := stopped(t)
	pid := c.PID()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	err := c.Ping(ctx)
	took := time.Since(began)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.HasPrefix(err.Error(), "sdk: ping: ") {
		t.Fatalf("Ping of a stopped process = %v, want an sdk: ping: error wrapping context.DeadlineExceeded", err)
	}
	// Generous: the point is that it returns at all.
	if took > 10*time.Second {
		t.Fatalf("Ping of a stopped process returned after %s, its context ended after 200ms", took)
	}

	killed := make(chan struct{})
	go func() {
		c.Kill()
		close(killed)
	}()
	select {
	case <-killed:
	case <-time.After(time.Minute):
		t.Fatal("Kill of a stopped process did not return")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Fatalf("process %d still exists after Kill (kill -0: %v)", pid, err)
	}
	if got := c.ExitReason(); got != "signal: killed" {
		t.Errorf("ExitReason after Kill = %q, want signal: killed", got)
	}
	if err := c.Ping(context.Background()); !errors.Is(err, sdk.ErrPluginUnavailable) {
		t.Errorf("Ping after Kill = %v, want ErrPluginUnavailable", err)
	}
}

// TestKillProcessStopped: KillProcess ends a stopped process at once.
func TestKillProcessStopped(t *testing.T) {
	c := stopped(t)
	c.KillProcess()
	select {
	case <-c.Done():
	case <-time.After(time.Minute):
		t.Fatal("Done not closed after KillProcess of a stopped process")
	}
	if got := c.ExitReason(); got != "signal: killed" {
		t.Errorf("ExitReason after KillProcess = %q, want signal: killed", got)
	}
}
