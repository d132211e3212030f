package rfbwire

import "crypto/des"

// VncAuthResponse is the VncAuth answer to challenge (RFC 6143, 7.2.2):
// the challenge encrypted with DES under the password, truncated or
// zero-padded to 8 bytes, each byte's bits reversed (as every VNC
// implementation does it).
func VncAuthResponse(password string, challenge [16]byte) [16]byte {
	var key [8]byte
	copy(key[:], password)
	for i, b := range key {
		var r byte
		for j := 0; j < 8; j++ {
			r = r<<1 | b>>j&1
		}
		key[i] = r
	}
	c, err := des.NewCipher(key[:])
	if err != nil {
		panic("rfbwire: des: " + err.Error()) // an 8-byte key is always valid
	}
	var out [16]byte
	c.Encrypt(out[:8], challenge[:8])
	c.Encrypt(out[8:], challenge[8:])
	return out
}
