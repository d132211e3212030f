package vncproxy

import (
	"strconv"

	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/vnctest"
)

// fakeTargetOf is ft as a gateway target.
func fakeTargetOf(ft *vnctest.FakeTarget, name string) Target {
	return Target{ID: "id-" + name, Name: name, FriendlyName: "Fake " + name, Host: "127.0.0.1", Port: ft.Port, Password: ft.Password}
}

func itoa(n int) string { return strconv.Itoa(n) }
