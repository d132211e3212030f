package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestOpenMigratesAndReopens(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vigil.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != LatestSchemaVersion() || v < 1 {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, LatestSchemaVersion())
	}
	if _, err := s.CreateUser(ctx, "alice", ""); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
	var fk, sync int
	s.db.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk)
	s.db.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync)
	if fk != 1 || sync != 1 {
		t.Errorf("foreign_keys = %d, synchronous = %d; want 1, 1 (NORMAL)", fk, sync)
	}
	for _, name := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", filepath.Base(name), fi.Mode().Perm())
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Re-opening applies nothing twice and keeps the data.
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	s.db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n)
	if n != LatestSchemaVersion() {
		t.Errorf("%d schema_migrations rows, want %d", n, LatestSchemaVersion())
	}
	if _, err := s.GetUserByName(ctx, "alice"); err != nil {
		t.Errorf("user lost on reopen: %v", err)
	}
}

func TestOpenNarrowsMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vigil.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	future := LatestSchemaVersion() + 1
	if _, err := s.db.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, 'from_the_future', 0)`, future); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(ctx, path, Options{})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
	if !strings.Contains(err.Error(), "upgrade vigil") || !strings.HasPrefix(err.Error(), "store: ") {
		t.Errorf("unhelpful error %q", err)
	}
}

func TestOpenBadOptions(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(context.Background(), filepath.Join(dir, "a.db"), Options{SealingKey: []byte("short")}); err == nil {
		t.Error("short sealing key accepted")
	}
	if _, err := Open(context.Background(), filepath.Join(dir, "a?.db"), Options{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("path with '?': %v", err)
	}
	if _, err := Open(context.Background(), filepath.Join(dir, "missing", "a.db"), Options{}); err == nil {
		t.Error("open in a missing directory succeeded")
	}
}

// Two handles on one file stand for vigild and vigilctl: both migrate a new
// file at once, then write concurrently and see each other's writes.
func TestTwoHandles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "vigil.db")
	var a, b *Store
	var errA, errB error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a, errA = Open(ctx, path, Options{SealingKey: testKey}) }()
	go func() { defer wg.Done(); b, errB = Open(ctx, path, Options{SealingKey: testKey}) }()
	wg.Wait()
	if errA != nil || errB != nil {
		t.Fatalf("concurrent Open: %v, %v", errA, errB)
	}
	defer a.Close()
	defer b.Close()

	const each = 40
	wg.Add(2)
	for i, s := range []*Store{a, b} {
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				name := string(rune('a'+i)) + strings.Repeat("x", j+1)
				if _, err := s.CreateUser(ctx, name, ""); err != nil {
					t.Errorf("handle %d: %v", i, err)
					return
				}
				if _, err := s.ListUsers(ctx); err != nil {
					t.Errorf("handle %d: %v", i, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for i, s := range []*Store{a, b} {
		us, err := s.ListUsers(ctx)
		if err != nil || len(us) != 2*each {
			t.Errorf("handle %d sees %d users (%v), want %d", i, len(us), err, 2*each)
		}
	}
	tg, err := a.CreateTarget(ctx, Target{Name: "db1", Protocol: ProtocolSSH, Host: "10.0.0.1"}, &Credential{Kind: CredentialPassword, Secret: []byte("pw")})
	if err != nil {
		t.Fatal(err)
	}
	c, err := b.TargetCredential(ctx, tg.ID)
	if err != nil || string(c.Secret) != "pw" {
		t.Errorf("other handle reads credential %q, %v", c.Secret, err)
	}
}
