package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vigilgw/vigil/daemon/internal/proxy/vnc/vnctest"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
)

// NewVNCVigild prepares an appliance like NewVigild whose VNC gateway is
// on (ConfigText turns it off). It does not start it.
func NewVNCVigild(t testing.TB, extra string) *Vigild {
	t.Helper()
	v := NewVigild(t, extra)
	v.WriteVNCConfig(extra)
	return v
}

// WriteVNCConfig replaces vigil.toml with ConfigText(extra), the VNC
// gateway on.
func (v *Vigild) WriteVNCConfig(extra string) {
	v.t.Helper()
	text := v.ConfigText(extra)
	const off = "[vnc]\nenabled = false\n"
	if strings.Count(text, off) != 1 {
		v.t.Fatalf("e2e: ConfigText no longer has one %q", off)
	}
	v.WriteRawConfig(strings.Replace(text, off, "[vnc]\nenabled = true\n", 1))
}

// VNCAddr is the VNC gateway's address.
func (v *Vigild) VNCAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(v.vncPort)) }

// VNCCertPath is the gateway's self-signed certificate, made on first
// start under <state_dir>/keys; viewers are given it as their CA.
func (v *Vigild) VNCCertPath() string { return filepath.Join(v.StateDir, "keys", "vnc.crt") }

// VNCRoots is a pool holding the gateway's certificate.
func (v *Vigild) VNCRoots() *x509.CertPool {
	v.t.Helper()
	b, err := os.ReadFile(v.VNCCertPath())
	if err != nil {
		v.t.Fatalf("e2e: the VNC gateway's certificate: %v", err)
	}
	pool := x509.NewCertPool()
	for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			v.t.Fatalf("e2e: %s: %v", v.VNCCertPath(), err)
		}
		pool.AddCert(c)
	}
	return pool
}

// AddVNCTarget registers the VNC server on 127.0.0.1:port as target name,
// logged into with password, for the given groups.
func (v *Vigild) AddVNCTarget(name string, port int, password string, groups ...string) {
	v.t.Helper()
	args := []string{"targets", "add", name, "--protocol", "vnc", "--host", "127.0.0.1", "--port", strconv.Itoa(port),
		"--password-stdin", "--friendly-name", "E2E " + name}
	for _, g := range groups {
		args = append(args, "--group", g)
	}
	v.MustCtl(password+"\n", args...)
}

// DialVNC logs in through the VNC gateway as login ("USER:TARGET") with
// u's password, over VeNCrypt X509Plain, trusting the gateway's
// certificate.
func (v *Vigild) DialVNC(u User, login string) (*vnctest.Client, error) {
	v.t.Helper()
	return vnctest.Dial(v.VNCAddr(), vnctest.LoginOpts{User: login, Password: u.Password, Roots: v.VNCRoots()})
}

// RequireX11vnc starts a w x h Xvfb with x11vnc on it (password
// "e2e-vnc-pw") for the test, stopped when it ends. Without them the test
// is skipped (a failure with CI=true).
func RequireX11vnc(t testing.TB, w, h int) *vnctest.X11vnc {
	t.Helper()
	sdktest.RequirePeer(t, "Xvfb")
	sdktest.RequirePeer(t, "x11vnc")
	sdktest.RequirePeer(t, "xsetroot")
	d, err := vnctest.StartXvfb(w, h)
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	t.Cleanup(d.Xvfb.Stop)
	x, err := vnctest.StartX11vnc(d, "e2e-vnc-pw")
	if err != nil {
		t.Fatalf("e2e: %v", err)
	}
	t.Cleanup(x.Stop)
	return x
}
