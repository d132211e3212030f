package rfbwire

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestVncAuthResponse checks the DES answer against a vector computed
// independently: `openssl enc -des-ecb -nopad -K 0e86ceceeef64e26` (the
// bytes of "password", each bit-reversed) over the challenge 00..0f.
func TestVncAuthResponse(t *testing.T) {
	var ch [16]byte
	for i := range ch {
		ch[i] = byte(i)
	}
	got := VncAuthResponse("password", ch)
	want, _ := hex.DecodeString("b866924125c8eebb9debc1db61c538e2")
	if !bytes.Equal(got[:], want) {
		t.Errorf("response %x, want %x", got, want)
	}
	if VncAuthResponse("password-longer", ch) != got {
		t.Error("bytes past the eighth changed the answer")
	}
}
