package sshproxy

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
)

// ErrInsecureHostKey is returned for a host key file others may read.
var ErrInsecureHostKey = errors.New("sshproxy: host key file is readable or writable by group or others")

// LoadOrCreateHostKey loads the gateway's host key from path or, when the
// file does not exist, generates an Ed25519 key and writes it there (mode
// 0600, OpenSSH format, atomically). created reports which happened.
func LoadOrCreateHostKey(path string) (signer ssh.Signer, created bool, err error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return createHostKey(path)
	case err != nil:
		return nil, false, fmt.Errorf("sshproxy: host key: %w", err)
	case st.Mode().Perm()&0o077 != 0:
		return nil, false, fmt.Errorf("sshproxy: host key %s (mode %04o): %w", path, st.Mode().Perm(), ErrInsecureHostKey)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, false, fmt.Errorf("sshproxy: host key: %w", err)
	}
	signer, err = ssh.ParsePrivateKey(raw)
	if err != nil {
		return nil, false, fmt.Errorf("sshproxy: host key %s: %w", path, err)
	}
	return signer, false, nil
}

func createHostKey(path string) (ssh.Signer, bool, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("sshproxy: generating host key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "vigil gateway host key")
	if err != nil {
		return nil, false, fmt.Errorf("sshproxy: encoding host key: %w", err)
	}
	if err := writeFileAtomic(path, pem.EncodeToMemory(block)); err != nil {
		return nil, false, fmt.Errorf("sshproxy: writing host key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, false, fmt.Errorf("sshproxy: host key: %w", err)
	}
	return signer, true, nil
}

// writeFileAtomic writes data to path with mode 0600 through a temporary
// file, fsynced and renamed, so a crash leaves either no key or a whole one.
// A file that appeared at path meanwhile is not replaced.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".hostkey-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
