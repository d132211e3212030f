package capture

import (
	"bytes"
	"encoding/pem"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSafeNamePart(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"alice", "alice"},
		{"john.doe@example.com", "john.doe@example.com"},
		{"../../etc/passwd", "_.__._etc_passwd"},
		{"..", "_."},
		{".hidden", "_hidden"},
		{"a/b\\c", "a_b_c"},
		{"tab\there\nnl\x00", "tab_here_nl_"},
		{"my-team", "my_team"},
		{"zoë", "zo_"},
		{"", "_"},
		{"user.0001", "user_0001"},
		{strings.Repeat("x", 100), strings.Repeat("x", 64)},
	} {
		if got := SafeNamePart(tc.in); got != tc.want {
			t.Errorf("SafeNamePart(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSegmentNames(t *testing.T) {
	start := time.Date(2020, 9, 3, 15, 38, 18, 510800000, time.FixedZone("CEST", 2*3600))
	base := SessionBase(start, "mycompany", "myuser")
	if base != "20200903T133818.5108-mycompany-myuser" {
		t.Fatalf("base %q", base)
	}
	for _, tc := range []struct {
		n    int
		name string
	}{{0, base + ".vsl"}, {1, base + ".0001.vsl"}, {12345, base + ".12345.vsl"}} {
		name := SegmentFileName(base, tc.n)
		if name != tc.name {
			t.Errorf("segment %d: %q, want %q", tc.n, name, tc.name)
		}
		b, n, ok := SegmentNumber("/spool/sealed/" + name)
		if !ok || b != base || n != tc.n {
			t.Errorf("SegmentNumber(%q) = %q %d %v", name, b, n, ok)
		}
	}
	if _, _, ok := SegmentNumber("notes.txt"); ok {
		t.Error("notes.txt read as a capture")
	}

	dir := t.TempDir()
	for _, n := range []int{2, 0, 1, 10} {
		writeFile(t, filepath.Join(dir, SegmentFileName(base, n)), nil)
	}
	writeFile(t, filepath.Join(dir, SegmentFileName(base+"x", 1)), nil) // another session
	got, err := SessionFiles(filepath.Join(dir, base+".vsl"))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, n := range []int{0, 1, 2, 10} {
		want = append(want, filepath.Join(dir, SegmentFileName(base, n)))
	}
	if !slices.Equal(got, want) {
		t.Errorf("SessionFiles: %q, want %q", got, want)
	}
	if got, _ := SessionFiles(want[2]); !slices.Equal(got, want[2:3]) {
		t.Errorf("a later segment alone: %q", got)
	}
}

func TestPublicKeyFormat(t *testing.T) {
	pub := pubOf(testKey(7))
	pemBytes := MarshalPublicKey(pub)
	if !bytes.HasPrefix(pemBytes, []byte("-----BEGIN VIGIL ED25519 PUBLIC KEY-----\nKey-Id: SHA256:")) {
		t.Errorf("export:\n%s", pemBytes)
	}
	got, err := ParsePublicKey(append([]byte("comment before\n"), pemBytes...))
	if err != nil || !got.Equal(pub) {
		t.Fatalf("parse: %v", err)
	}
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"other PEM type", bytes.Replace(pemBytes, []byte("VIGIL ED25519 PUBLIC KEY"), []byte("PUBLIC KEY"), 2)},
		{"key id of another key", pem.EncodeToMemory(&pem.Block{Type: PublicKeyPEMType,
			Headers: map[string]string{"Key-Id": KeyID(pubOf(testKey(8)))}, Bytes: pub})},
		{"short key", []byte("-----BEGIN VIGIL ED25519 PUBLIC KEY-----\nAAAA\n-----END VIGIL ED25519 PUBLIC KEY-----\n")},
	} {
		if _, err := ParsePublicKey(tc.data); !errors.Is(err, ErrBadPublicKey) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	// The key id lines up with the one segment headers carry.
	if KeyID(pub) != FormatKeyID(keyIDOf(pub)) || !strings.HasPrefix(KeyID(pub), "SHA256:") || len(KeyID(pub)) != 7+43 {
		t.Errorf("key id %q", KeyID(pub))
	}
}

func TestPayloadHelpers(t *testing.T) {
	s := Size{Cols: 132, Rows: 43, Width: 1920, Height: 1080}
	if got, err := DecodeResize(AppendResize(nil, s)); err != nil || got != s {
		t.Errorf("resize: %+v %v", got, err)
	}
	if _, err := DecodeResize([]byte{0x80}); err == nil {
		t.Error("a bad resize payload decoded")
	}
	if got, err := DecodeExitStatus(AppendExitStatus(nil, 255)); err != nil || got != 255 {
		t.Errorf("exit status: %d %v", got, err)
	}
	var m SessionMeta
	start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, p := range [][]byte{
		SessionMeta{User: "alice", Target: "db1", Start: start, Extra: map[string]string{"a": "1"}}.Marshal(),
		SessionMeta{Target: "db2", Term: "xterm", Extra: map[string]string{"b": "2"}}.Marshal(),
	} {
		if err := m.Merge(p); err != nil {
			t.Fatal(err)
		}
	}
	if m.User != "alice" || m.Target != "db2" || m.Term != "xterm" || !m.Start.Equal(start) || len(m.Extra) != 2 {
		t.Errorf("merged meta %+v", m)
	}
	if err := m.Merge([]byte("{")); err == nil {
		t.Error("bad meta merged")
	}
	tr := FileTransfer{Path: "/tmp/a b", Size: 5, Direction: "upload", Protocol: "sftp"}
	if got, err := DecodeTransfer(tr.Marshal()); err != nil || got != tr {
		t.Errorf("transfer %+v %v", got, err)
	}
	for k := Output; k <= Marker; k++ {
		if strings.HasPrefix(k.String(), "kind(") || !k.IsData() {
			t.Errorf("kind %d has no name or is not data", k)
		}
	}
}
