package sshproxy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLoadOrCreateHostKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "ssh_host_ed25519_key")
	first, created, err := LoadOrCreateHostKey(path)
	if err != nil || !created {
		t.Fatalf("first start: created=%v err=%v", created, err)
	}
	if first.PublicKey().Type() != "ssh-ed25519" {
		t.Errorf("key type %s, want ssh-ed25519", first.PublicKey().Type())
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key mode %04o, want 0600", st.Mode().Perm())
	}
	second, created, err := LoadOrCreateHostKey(path)
	if err != nil || created {
		t.Fatalf("second start: created=%v err=%v", created, err)
	}
	if !bytes.Equal(first.PublicKey().Marshal(), second.PublicKey().Marshal()) {
		t.Error("host key changed between starts")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("key directory holds %d entries, want only the key", len(entries))
	}
}

func TestLoadHostKeyRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(path string) error
		want  error
	}{
		{"group readable", func(p string) error { return os.Chmod(p, 0o640) }, ErrInsecureHostKey},
		{"corrupt", func(p string) error { return os.WriteFile(p, []byte("not a key"), 0o600) }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "hk")
			if _, _, err := LoadOrCreateHostKey(path); err != nil {
				t.Fatal(err)
			}
			if err := tt.setup(path); err != nil {
				t.Fatal(err)
			}
			_, _, err := LoadOrCreateHostKey(path)
			if err == nil {
				t.Fatal("loaded a key it should refuse")
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}
