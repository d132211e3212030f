package sdnotify

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// listen opens a real unixgram socket and points NOTIFY_SOCKET at it, as
// systemd does for a Type=notify service.
func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return conn
}

func read(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	buf := make([]byte, 4096)
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("reading notify socket: %v", err)
	}
	return string(buf[:n])
}

func TestStates(t *testing.T) {
	conn := listen(t)
	n := New()
	cases := []struct {
		call func() error
		want string
	}{
		{n.Ready, "READY=1"},
		{func() error { return n.Status("listening on %s", "127.0.0.1:2222") }, "STATUS=listening on 127.0.0.1:2222"},
		{func() error { return n.Status("evil\nREADY=1") }, "STATUS=evil READY=1"},
		{n.Stopping, "STOPPING=1"},
	}
	for _, c := range cases {
		if err := c.call(); err != nil {
			t.Fatal(err)
		}
		if got := read(t, conn); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	if err := n.Reloading(); err != nil {
		t.Fatal(err)
	}
	if got := read(t, conn); !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Errorf("reloading: got %q", got)
	}
}

func TestWatchdog(t *testing.T) {
	conn := listen(t)
	t.Setenv("WATCHDOG_USEC", "20000")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- New().Watchdog(ctx, func() bool { return true }) }()
	for i := 0; i < 3; i++ {
		if got := read(t, conn); got != "WATCHDOG=1" {
			t.Fatalf("keep-alive %d: got %q", i, got)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWatchdogDisabled(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "")
	if err := New().Watchdog(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
}

func TestNoSocketIsNoop(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := New().Ready(); err != nil {
		t.Fatalf("without NOTIFY_SOCKET Ready must be a no-op, got %v", err)
	}
}
