package passwd

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Parameters of new hashes: OWASP's first argon2id configuration (19 MiB,
// two passes, one lane). RFC 9106's second recommendation (64 MiB, t=3, p=4)
// would cost 64 MiB per login in flight; the appliance runs on small machines
// (2 cores, a few GB shared with ffmpeg encodes) and must survive a burst of
// SSH password guesses, so memory per hash is kept low and the time cost
// (~25-50 ms here) bounds how fast anyone can guess. Hashing also takes one
// of GOMAXPROCS slots, so the memory in use is at most slots × 19 MiB.
const (
	Memory  = 19 * 1024 // KiB
	Time    = 2
	Threads = 1
	SaltLen = 16
	KeyLen  = 32
)

// MaxLength is the longest password Hash accepts and Verify considers. It
// bounds the work an unauthenticated client can ask for.
const MaxLength = 1024

// Bounds on the parameters of a hash read back, so that a corrupted or
// planted hash cannot make Verify allocate gigabytes or spin for minutes.
const (
	maxMemory = 1 << 20 // KiB (1 GiB)
	maxTime   = 64
	minSalt   = 8
	maxSalt   = 64
	minKey    = 16
	maxKey    = 64
)

var (
	// ErrMalformed is returned for a hash that cannot be parsed.
	ErrMalformed = errors.New("passwd: malformed hash")
	// ErrUnsupported is returned for a well-formed hash of an algorithm
	// or version this package does not verify (argon2i, crypt(3) SHA-512...).
	ErrUnsupported = errors.New("passwd: unsupported hash")
	// ErrInvalidPassword is returned by Hash for an empty or overlong password.
	ErrInvalidPassword = errors.New("passwd: invalid password")
)

// slots bounds how many argon2 hashes run at once (each holds Memory KiB).
var slots = make(chan struct{}, runtime.GOMAXPROCS(0))

func idKey(password, salt []byte, p params) []byte {
	slots <- struct{}{}
	defer func() { <-slots }()
	return argon2.IDKey(password, salt, p.time, p.memory, p.threads, uint32(len(p.key)))
}

// Hash returns the argon2id PHC string of password with a fresh random salt.
func Hash(password string) (string, error) {
	if password == "" || len(password) > MaxLength {
		return "", fmt.Errorf("%w: length must be 1 to %d bytes", ErrInvalidPassword, MaxLength)
	}
	salt := make([]byte, SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("passwd: salt: %w", err)
	}
	p := params{memory: Memory, time: Time, threads: Threads, salt: salt, key: make([]byte, KeyLen)}
	p.key = idKey([]byte(password), salt, p)
	return p.encode(), nil
}

// Verify reports whether password matches encoded, an argon2id PHC string or
// a bcrypt hash. The comparison is constant-time. A mismatch is (false, nil);
// an error means encoded itself is unusable (ErrMalformed, ErrUnsupported).
func Verify(encoded, password string) (bool, error) {
	switch kind(encoded) {
	case kindArgon2id:
		p, err := parsePHC(encoded)
		if err != nil {
			return false, err
		}
		if len(password) > MaxLength {
			return false, nil
		}
		got := idKey([]byte(password), p.salt, p)
		return subtle.ConstantTimeCompare(got, p.key) == 1, nil
	case kindBcrypt:
		if err := checkBcrypt(encoded); err != nil {
			return false, err
		}
		if len(password) > MaxLength {
			return false, nil
		}
		err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, nil
		default:
			return false, fmt.Errorf("%w: bcrypt: %w", ErrMalformed, err)
		}
	default:
		return false, unknownErr(encoded)
	}
}

// Check returns nil if Verify can use encoded, else the reason it cannot.
// Use it to validate a hash imported from elsewhere before storing it.
func Check(encoded string) error {
	switch kind(encoded) {
	case kindArgon2id:
		_, err := parsePHC(encoded)
		return err
	case kindBcrypt:
		return checkBcrypt(encoded)
	default:
		return unknownErr(encoded)
	}
}

// NeedsRehash reports whether encoded should be replaced by a fresh Hash of
// the same password: it is bcrypt, unusable, or argon2id with parameters
// other than the current ones.
func NeedsRehash(encoded string) bool {
	if kind(encoded) != kindArgon2id {
		return true
	}
	p, err := parsePHC(encoded)
	if err != nil {
		return true
	}
	return p.memory != Memory || p.time != Time || p.threads != Threads ||
		len(p.salt) != SaltLen || len(p.key) != KeyLen
}

type hashKind int

const (
	kindUnknown hashKind = iota
	kindArgon2id
	kindBcrypt
)

func kind(encoded string) hashKind {
	switch {
	case strings.HasPrefix(encoded, "$argon2id$"):
		return kindArgon2id
	case strings.HasPrefix(encoded, "$2a$"), strings.HasPrefix(encoded, "$2b$"), strings.HasPrefix(encoded, "$2y$"):
		return kindBcrypt
	}
	return kindUnknown
}

func unknownErr(encoded string) error {
	if encoded == "" {
		return fmt.Errorf("%w: empty", ErrMalformed)
	}
	if id, _, ok := strings.Cut(strings.TrimPrefix(encoded, "$"), "$"); ok && strings.HasPrefix(encoded, "$") && id != "" && len(id) <= 32 {
		return fmt.Errorf("%w: algorithm %q", ErrUnsupported, id)
	}
	return fmt.Errorf("%w: not a PHC or bcrypt string", ErrMalformed)
}

// bcryptAlphabet is bcrypt's own base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// checkBcrypt validates the shape "$2b$10$" + 22 salt + 31 hash characters,
// so that truncated or damaged hashes are reported as such rather than as a
// wrong password.
func checkBcrypt(encoded string) error {
	if len(encoded) != 60 {
		return fmt.Errorf("%w: bcrypt hash is %d characters, want 60", ErrMalformed, len(encoded))
	}
	if encoded[6] != '$' {
		return fmt.Errorf("%w: bcrypt cost", ErrMalformed)
	}
	cost, err := strconv.Atoi(encoded[4:6])
	if err != nil || cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return fmt.Errorf("%w: bcrypt cost %q", ErrMalformed, encoded[4:6])
	}
	for _, c := range encoded[7:] {
		if !strings.ContainsRune(bcryptAlphabet, c) {
			return fmt.Errorf("%w: bcrypt character %q", ErrMalformed, c)
		}
	}
	return nil
}

// params is a parsed argon2id PHC string.
type params struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

var b64 = base64.RawStdEncoding.Strict()

func (p params) encode() string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(p.salt), b64.EncodeToString(p.key))
}

// parsePHC parses "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH" strictly: fields in
// that order, decimal numbers without sign or leading zeros, unpadded
// standard base64, no optional keyid/data parameters.
func parsePHC(encoded string) (params, error) {
	var p params
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, fmt.Errorf("%w: want 5 '$'-separated fields", ErrMalformed)
	}
	if parts[1] != "argon2id" {
		return p, fmt.Errorf("%w: algorithm %q", ErrUnsupported, parts[1])
	}
	v, ok := strings.CutPrefix(parts[2], "v=")
	if !ok {
		return p, fmt.Errorf("%w: missing version", ErrMalformed)
	}
	ver, err := decimal(v, 1<<32-1)
	if err != nil {
		return p, fmt.Errorf("%w: version: %w", ErrMalformed, err)
	}
	if ver != argon2.Version {
		return p, fmt.Errorf("%w: argon2 version %d", ErrUnsupported, ver)
	}
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return p, fmt.Errorf("%w: want parameters m,t,p", ErrMalformed)
	}
	var vals [3]uint64
	limits := [3]uint64{maxMemory, maxTime, 255}
	for i, name := range []string{"m=", "t=", "p="} {
		s, ok := strings.CutPrefix(fields[i], name)
		if !ok {
			return p, fmt.Errorf("%w: parameter %d is not %s", ErrMalformed, i+1, strings.TrimSuffix(name, "="))
		}
		if vals[i], err = decimal(s, limits[i]); err != nil {
			return p, fmt.Errorf("%w: parameter %s %w", ErrMalformed, strings.TrimSuffix(name, "="), err)
		}
	}
	p.memory, p.time, p.threads = uint32(vals[0]), uint32(vals[1]), uint8(vals[2])
	if p.time < 1 || p.threads < 1 || p.memory < 8*uint32(p.threads) {
		return p, fmt.Errorf("%w: parameters out of range", ErrMalformed)
	}
	if p.salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, fmt.Errorf("%w: salt: %w", ErrMalformed, err)
	}
	if len(p.salt) < minSalt || len(p.salt) > maxSalt {
		return p, fmt.Errorf("%w: salt of %d bytes", ErrMalformed, len(p.salt))
	}
	if p.key, err = b64.DecodeString(parts[5]); err != nil {
		return p, fmt.Errorf("%w: hash: %w", ErrMalformed, err)
	}
	if len(p.key) < minKey || len(p.key) > maxKey {
		return p, fmt.Errorf("%w: hash of %d bytes", ErrMalformed, len(p.key))
	}
	return p, nil
}

// decimal parses a PHC decimal: ASCII digits, no sign, no leading zero.
func decimal(s string, limit uint64) (uint64, error) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, fmt.Errorf("bad number %q", s)
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("bad number %q", s)
		}
		n = n*10 + uint64(c-'0')
	}
	if n > limit {
		return 0, fmt.Errorf("%d above %d", n, limit)
	}
	return n, nil
}
