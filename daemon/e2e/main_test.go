package e2e_test

import (
	"os"
	"strings"
	"testing"

	"github.com/vigilgw/vigil/daemon/e2e"
)

func TestMain(m *testing.M) { os.Exit(e2e.Main(m)) }

// gateway is a started appliance with alice (group Users, recorded) and
// bob (group NoRecord, record_sessions=false), both allowed on target
// web01, the shared sshd.
type gateway struct {
	*e2e.Vigild
	sshd       *e2e.SSHD
	alice, bob e2e.User
}

// newGateway starts vigild with ConfigText(extra) and adds the users and
// the target.
func newGateway(t *testing.T, extra string) *gateway {
	t.Helper()
	s := e2e.RequireSSHD(t)
	v := e2e.NewVigild(t, extra)
	v.Start()
	g := &gateway{Vigild: v, sshd: s}
	v.MustCtl("", "groups", "add", "NoRecord", "--setting", "record_sessions=false")
	g.alice = v.AddUser("alice", "Users")
	g.bob = v.AddUser("bob", "NoRecord")
	v.AddTarget("web01", s, "Users", "NoRecord")
	return g
}

// sshOK runs command through the gateway as u on web01 and fails the test
// unless it prints want and exits 0.
func (g *gateway) sshOK(t *testing.T, u e2e.User, command, want string) {
	t.Helper()
	out, errOut, code := e2e.Run(t, g.SSHCommand(u, u.Name+":web01", command))
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("ssh %s:web01 %q: exit %d, stdout %q (want %q), stderr %q", u.Name, command, code, out, want, errOut)
	}
}
