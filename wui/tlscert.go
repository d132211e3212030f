package wui

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
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
	"time"
)

// SelfSignedValidity is how long a generated certificate is valid.
const SelfSignedValidity = 2 * 365 * 24 * time.Hour

// EnsureSelfSignedCert makes a self-signed ECDSA P-256 certificate and key
// at certPath and keyPath (PEM, mode 0600) unless both already exist, and
// reports whether it made them. The certificate names 127.0.0.1, ::1,
// localhost, the machine's hostname and the extra hosts (names or IPs).
// Exactly one of the two files existing is an error: it is never
// overwritten.
func EnsureSelfSignedCert(certPath, keyPath string, hosts []string) (bool, error) {
	certOK, err := exists(certPath)
	if err != nil {
		return false, err
	}
	keyOK, err := exists(keyPath)
	if err != nil {
		return false, err
	}
	switch {
	case certOK && keyOK:
		return false, nil
	case certOK != keyOK:
		return false, fmt.Errorf("wui: self-signed certificate: only one of %s and %s exists", certPath, keyPath)
	}
	certPEM, keyPEM, err := SelfSignedCert(hosts, time.Now())
	if err != nil {
		return false, err
	}
	if err := writeFile0600(keyPath, keyPEM); err != nil {
		return false, err
	}
	if err := writeFile0600(certPath, certPEM); err != nil {
		return false, err
	}
	return true, nil
}

// SelfSignedCert returns a new self-signed certificate and its key, both
// PEM-encoded, valid from now for SelfSignedValidity.
func SelfSignedCert(hosts []string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("wui: self-signed certificate: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, fmt.Errorf("wui: self-signed certificate: %w", err)
	}
	hostname, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Vigil appliance " + hostname, Organization: []string{"Vigil"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(SelfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	names := append([]string{"127.0.0.1", "::1", "localhost", hostname}, hosts...)
	seen := map[string]bool{}
	for _, h := range names {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("wui: self-signed certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("wui: self-signed certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

func exists(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("wui: %w", err)
	}
	return true, nil
}

// writeFile0600 writes through a temporary file and a rename, so a crash
// never leaves a half-written file (a key, the login sessions) where the
// next start would load it.
func writeFile0600(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("wui: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".wui-*")
	if err != nil {
		return fmt.Errorf("wui: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("wui: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("wui: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("wui: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("wui: write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("wui: %w", err)
	}
	return nil
}
