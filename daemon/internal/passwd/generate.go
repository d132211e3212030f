package passwd

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

// Alphabet of generated passwords: printable ASCII without characters that
// are easily misread (0 O o, 1 l I) or awkward to type and quote in a shell
// or an SSH client (space, quotes, backslash, '|', '`', '$', '&', ';').
// 65 symbols: about 6 bits of entropy per character.
const Alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz23456789#%+-=?@^_"

// MinGenerateLength is the shortest password Generate makes (about 72 bits).
const MinGenerateLength = 12

// Generate returns a password of n characters drawn uniformly from Alphabet
// with crypto/rand.
func Generate(n int) (string, error) {
	if n < MinGenerateLength || n > MaxLength {
		return "", fmt.Errorf("passwd: generate: length %d outside %d..%d", n, MinGenerateLength, MaxLength)
	}
	out := make([]byte, n)
	max := big.NewInt(int64(len(Alphabet)))
	for i := range out {
		k, err := rand.Int(rand.Reader, max)
		if err != nil {
			return "", fmt.Errorf("passwd: generate: %w", err)
		}
		out[i] = Alphabet[k.Int64()]
	}
	return string(out), nil
}
