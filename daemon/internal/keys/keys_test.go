package keys

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestEnsureCreatesThenLoads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	first, err := Ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created {
		t.Fatal("first Ensure should report Created")
	}
	for _, name := range []string{SigningKeyFile, SealingKeyFile} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %04o, want 0600", name, st.Mode().Perm())
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %04o, want 0700", st.Mode().Perm())
	}
	second, err := Ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	if second.Created {
		t.Error("second Ensure must load, not create")
	}
	if !bytes.Equal(first.Signing, second.Signing) || first.Sealing != second.Sealing {
		t.Error("keys changed between starts")
	}
}

func TestRefusesReadableKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, SigningKeyFile), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Ensure(dir); !errors.Is(err, ErrInsecureMode) {
		t.Fatalf("want ErrInsecureMode, got %v", err)
	}
}

func TestRejectsCorruptKeys(t *testing.T) {
	dir := t.TempDir()
	if _, err := Ensure(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, SealingKeyFile), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Ensure(dir); err == nil {
		t.Fatal("a short sealing key must be an error")
	}
	if err := os.WriteFile(filepath.Join(dir, SigningKeyFile), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Ensure(dir); err == nil {
		t.Fatal("a junk signing key must be an error")
	}
}

func TestLoadNeverCreates(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); !errors.Is(err, ErrMissing) {
		t.Fatalf("want ErrMissing, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, SigningKeyFile)); err == nil {
		t.Fatal("Load created a key")
	}
	made, err := Ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(made.Signing, loaded.Signing) {
		t.Fatal("Load returned another key")
	}
}
