package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sectionFile is content passed as a file, as the sdk hands it over.
type sectionFile struct {
	*bytes.Reader
	f     *os.File
	start int64
}

func (s sectionFile) File() (*os.File, int64) { return s.f, s.start }

func TestHashAt(t *testing.T) {
	content := randomBytes(3, 3<<20+4321)
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ctx := context.Background()
	// Offsets inside a page and past a page; the bytes.Reader is hashed by
	// reading it, the files through a mapping.
	for _, base := range []int64{0, 1, 4096, 1<<20 + 17} {
		want := hexSHA(content[base:])
		size := int64(len(content)) - base
		for name, r := range map[string]interface {
			ReadAt([]byte, int64) (int, error)
		}{
			"reader":      bytes.NewReader(content),
			"file":        f,
			"passed file": sectionFile{bytes.NewReader(content[1000:]), f, 1000},
		} {
			b := base
			if name == "passed file" {
				if base < 1000 {
					continue
				}
				b -= 1000 // relative to where the passed content starts
			}
			if got, err := hashAt(ctx, r, b, size); err != nil || got != want {
				t.Errorf("%s from %d: hashAt = %s, %v; want %s", name, base, got, err, want)
			}
		}
	}
}

// TestHashMappedSurvivesAShortFile maps more than the file holds, as a
// file cut short during an upload would be: reading the missing pages
// faults, and the fault is an error, not a crash.
func TestHashMappedSurvivesAShortFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, randomBytes(4, 64<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = hashMapped(context.Background(), f, 0, 1<<20)
	if err == nil || !strings.Contains(err.Error(), "changed size") {
		t.Fatalf("hashMapped past the end of the file = %v, want an error saying it changed size", err)
	}
}
