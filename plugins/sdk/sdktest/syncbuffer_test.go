package sdktest

import "testing"

func TestSyncBufferMax(t *testing.T) {
	b := &SyncBuffer{Max: 4}
	for _, w := range []string{"ab", "cde", "fg"} {
		if n, err := b.Write([]byte(w)); n != len(w) || err != nil {
			t.Fatalf("Write(%q) = %d, %v; want it reported written", w, n, err)
		}
	}
	if got := b.String(); got != "abcde" {
		t.Fatalf("String() = %q, want the writes up to the one that reached Max", got)
	}
	var unbounded SyncBuffer
	unbounded.Write([]byte("abcdefgh"))
	if got := unbounded.String(); got != "abcdefgh" {
		t.Fatalf("without Max: %q", got)
	}
}
