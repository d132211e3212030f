package wui_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vigilgw/vigil/wui"
	"github.com/vigilgw/vigil/wui/wuitest"
)

func TestEnsureSelfSignedCert(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "tls", "wui.crt"), filepath.Join(dir, "tls", "wui.key")
	made, err := wui.EnsureSelfSignedCert(cert, key, []string{"vigil.example.net", "192.0.2.7"})
	if err != nil || !made {
		t.Fatalf("first start: %v %v", made, err)
	}
	for _, p := range []string{cert, key} {
		st, err := os.Stat(p)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v mode %v", p, err, st.Mode())
		}
	}
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(pair.Certificate[0])
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("key is %T, want ECDSA P-256", c.PublicKey)
	}
	host, _ := os.Hostname()
	for _, name := range []string{"localhost", host, "vigil.example.net"} {
		if !slices.Contains(c.DNSNames, name) {
			t.Errorf("SANs %v lack %s", c.DNSNames, name)
		}
	}
	for _, ip := range []string{"127.0.0.1", "192.0.2.7"} {
		if !slices.ContainsFunc(c.IPAddresses, func(x net.IP) bool { return x.Equal(net.ParseIP(ip)) }) {
			t.Errorf("SANs %v lack %s", c.IPAddresses, ip)
		}
	}
	before, _ := os.ReadFile(cert)
	if made, err := wui.EnsureSelfSignedCert(cert, key, nil); made || err != nil {
		t.Errorf("second start: %v %v", made, err)
	}
	if after, _ := os.ReadFile(cert); string(after) != string(before) {
		t.Error("the certificate was replaced")
	}
	os.Remove(key)
	if _, err := wui.EnsureSelfSignedCert(cert, key, nil); err == nil {
		t.Error("a lone certificate was accepted")
	}
}

func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	fake := wuitest.New(wuitest.Options{Sessions: 5})
	srv, err := wui.New(wui.Config{CertFile: filepath.Join(dir, "c.pem"), KeyFile: filepath.Join(dir, "k.pem"), SelfSigned: true}, fake.Backend())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(filepath.Join(dir, "c.pem"))
	pool.AppendCertsFromPEM(pem)
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS with the generated certificate: %v", err)
	}
	conn.Write([]byte("GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))
	buf := make([]byte, 12)
	if _, err := conn.Read(buf); err != nil || string(buf) != "HTTP/1.1 200" {
		t.Errorf("answer %q %v", buf, err)
	}
	conn.Close()
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Error(err)
	}
	if err := <-served; err != nil {
		t.Error(err)
	}
}

func TestConfigChecks(t *testing.T) {
	b := wuitest.New(wuitest.Options{Empty: true}).Backend()
	tests := []struct {
		name string
		cfg  wui.Config
		b    wui.Backend
		ok   bool
	}{
		{"insecure", wui.Config{InsecureHTTP: true}, b, true},
		{"no TLS at all", wui.Config{}, b, false},
		{"missing certificate files", wui.Config{CertFile: "/nonexistent/c", KeyFile: "/nonexistent/k"}, b, false},
		{"idle over absolute", wui.Config{InsecureHTTP: true, IdleTimeout: 2e9, AbsoluteTimeout: 1e9}, b, false},
		{"backend without auth", wui.Config{InsecureHTTP: true}, wui.Backend{}, false},
	}
	for _, tt := range tests {
		_, err := wui.New(tt.cfg, tt.b)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v", tt.name, err)
		}
	}
}
