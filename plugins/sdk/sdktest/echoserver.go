package sdktest

import (
	"io"
	"net"
	"testing"
)

// EchoServer listens on 127.0.0.1 and echoes each connection back until
// its client half-closes; it stops when the test ends. It returns the
// address.
func EchoServer(t testing.TB) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr)
}
