package capture

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
)

// PublicKeyPEMType is the PEM block type of an exported verification key.
const PublicKeyPEMType = "VIGIL ED25519 PUBLIC KEY"

// ErrBadPublicKey: the --pubkey file is not an exported Vigil key.
var ErrBadPublicKey = errors.New("not a " + PublicKeyPEMType)

// keyIDOf is the fingerprint a segment header carries: SHA-256 of the raw
// 32-byte public key.
func keyIDOf(pub ed25519.PublicKey) [32]byte { return sha256.Sum256(pub) }

// FormatKeyID renders a key fingerprint the way people see it:
// "SHA256:" and unpadded standard base64, like OpenSSH fingerprints (but of
// the raw 32-byte key, not of the SSH wire encoding).
func FormatKeyID(id [32]byte) string {
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(id[:])
}

// KeyID is the fingerprint of pub, as FormatKeyID renders it.
func KeyID(pub ed25519.PublicKey) string { return FormatKeyID(keyIDOf(pub)) }

// MarshalPublicKey exports the verification key auditors need: a PEM block
//
//	-----BEGIN VIGIL ED25519 PUBLIC KEY-----
//	Key-Id: SHA256:...
//
//	<base64 of the 32 raw key bytes>
//	-----END VIGIL ED25519 PUBLIC KEY-----
//
// The Key-Id header is informative; ParsePublicKey checks it when present.
func MarshalPublicKey(pub ed25519.PublicKey) []byte {
	return pem.EncodeToMemory(&pem.Block{
		Type:    PublicKeyPEMType,
		Headers: map[string]string{"Key-Id": KeyID(pub)},
		Bytes:   bytes.Clone(pub),
	})
}

// ParsePublicKey reads the first VIGIL ED25519 PUBLIC KEY block in data.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("capture: public key: %w", ErrBadPublicKey)
		}
		if block.Type != PublicKeyPEMType {
			continue
		}
		if len(block.Bytes) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("capture: public key: %d bytes, want %d: %w",
				len(block.Bytes), ed25519.PublicKeySize, ErrBadPublicKey)
		}
		pub := ed25519.PublicKey(block.Bytes)
		if id, ok := block.Headers["Key-Id"]; ok && id != KeyID(pub) {
			return nil, fmt.Errorf("capture: public key: Key-Id %s does not match the key (%s): %w",
				id, KeyID(pub), ErrBadPublicKey)
		}
		return pub, nil
	}
}

// ParseAnyPublicKey accepts the key as raw 32 bytes, as a recorder's
// render request may carry it, or as the exported PEM block
// (ParsePublicKey).
func ParseAnyPublicKey(data []byte) (ed25519.PublicKey, error) {
	if len(data) == ed25519.PublicKeySize {
		return ed25519.PublicKey(data), nil
	}
	return ParsePublicKey(data)
}
