package vncproxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// certValidity is how long a generated certificate is valid.
const certValidity = 10 * 365 * 24 * time.Hour

// LoadOrCreateCertificate loads the PEM certificate and key at certPath and
// keyPath. When both are missing it generates a self-signed pair valid for
// hosts (DNS names or IP addresses), writes them (0600, atomically) and
// reports created. One file without the other is an error: the gateway
// never replaces half a pair the administrator provided.
//
// The generated certificate is its own CA (basic constraints CA:TRUE), so
// that viewers can be given it as their trust anchor (TigerVNC: -X509CA).
func LoadOrCreateCertificate(certPath, keyPath string, hosts []string) (cert tls.Certificate, created bool, err error) {
	_, certErr := os.Stat(certPath)
	_, keyErr := os.Stat(keyPath)
	switch {
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		certPEM, keyPEM, err := SelfSignedCertificate(hosts, time.Now())
		if err != nil {
			return tls.Certificate{}, false, err
		}
		if err := writeFileAtomic(keyPath, keyPEM); err != nil {
			return tls.Certificate{}, false, err
		}
		if err := writeFileAtomic(certPath, certPEM); err != nil {
			return tls.Certificate{}, false, err
		}
		created = true
	case certErr != nil:
		return tls.Certificate{}, false, fmt.Errorf("vncproxy: tls certificate: %w", certErr)
	case keyErr != nil:
		return tls.Certificate{}, false, fmt.Errorf("vncproxy: tls key: %w", keyErr)
	}
	cert, err = tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return tls.Certificate{}, false, fmt.Errorf("vncproxy: loading %s and %s: %w", certPath, keyPath, err)
	}
	return cert, created, nil
}

// SelfSignedCertificate makes a self-signed ECDSA P-256 certificate and key
// (PEM) valid from now for hosts.
func SelfSignedCertificate(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("vncproxy: generating a tls key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("vncproxy: generating a serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Vigil"}, CommonName: "Vigil VNC gateway"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("vncproxy: signing the certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("vncproxy: encoding the key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// writeFileAtomic writes data to path (0600) through a temporary file in
// the same directory, so that path never holds half a file.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("vncproxy: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("vncproxy: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("vncproxy: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("vncproxy: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("vncproxy: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("vncproxy: writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("vncproxy: %w", err)
	}
	return nil
}

// defaultHosts are the names a generated certificate covers when none are
// configured, each once.
func defaultHosts(listenAddr string) []string {
	hosts := []string{"localhost", "127.0.0.1"}
	if h, _, err := net.SplitHostPort(listenAddr); err == nil && h != "" && h != "0.0.0.0" && h != "::" {
		hosts = append(hosts, h)
	}
	if name, err := os.Hostname(); err == nil && name != "" {
		hosts = append(hosts, name)
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
}
