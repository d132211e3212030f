package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File names inside the keys directory.
const (
	SigningKeyFile = "signing_ed25519.pem"
	SealingKeyFile = "sealing.key"
)

// ErrInsecureMode is returned for a key file others can read or write.
var ErrInsecureMode = errors.New("key file is readable or writable by group or others")

// Set is the appliance's keys.
type Set struct {
	Signing ed25519.PrivateKey
	Sealing [32]byte
	// Created is true when this call made the keys.
	Created bool
}

// Public is the public half of the signing key.
func (s *Set) Public() ed25519.PublicKey { return s.Signing.Public().(ed25519.PublicKey) }

// ErrMissing is returned by Load when the keys were never made.
var ErrMissing = errors.New("keys: not created yet: start vigild once to make them")

// Load reads existing keys without creating any: tools other than vigild
// must never make keys the daemon's user could not read.
func Load(dir string) (*Set, error) {
	for _, f := range []string{SigningKeyFile, SealingKeyFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w (%s)", ErrMissing, filepath.Join(dir, f))
		}
	}
	return Ensure(dir)
}

// Ensure loads the keys from dir, creating dir (0700) and any missing key.
func Ensure(dir string) (*Set, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	set := &Set{}
	signPath := filepath.Join(dir, SigningKeyFile)
	raw, err := readSecret(signPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("keys: generating signing key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
		if err := writeSecret(signPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return nil, err
		}
		set.Signing, set.Created = priv, true
	case err != nil:
		return nil, err
	default:
		block, _ := pem.Decode(raw)
		if block == nil || block.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("keys: %s: not a PEM PRIVATE KEY", signPath)
		}
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("keys: %s: %w", signPath, err)
		}
		priv, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("keys: %s: not an Ed25519 key", signPath)
		}
		set.Signing = priv
	}

	sealPath := filepath.Join(dir, SealingKeyFile)
	raw, err = readSecret(sealPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, err := rand.Read(set.Sealing[:]); err != nil {
			return nil, fmt.Errorf("keys: generating sealing key: %w", err)
		}
		if err := writeSecret(sealPath, set.Sealing[:]); err != nil {
			return nil, err
		}
		set.Created = true
	case err != nil:
		return nil, err
	case len(raw) != len(set.Sealing):
		return nil, fmt.Errorf("keys: %s: want %d bytes, found %d", sealPath, len(set.Sealing), len(raw))
	default:
		copy(set.Sealing[:], raw)
	}
	return set, nil
}

func readSecret(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("keys: %s (mode %04o): %w", path, st.Mode().Perm(), ErrInsecureMode)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return b, nil
}

// writeSecret writes a new key file 0600, atomically and durably: a crash
// leaves either no key or the whole key, never a half-written one that would
// make every later capture unverifiable.
func writeSecret(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-key-*")
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("keys: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("keys: writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("keys: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return fmt.Errorf("keys: %s: %w", path, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	return nil
}
