package loginname

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalid is returned for a login name no user can have. The gateways
// wrap it with their own prefix ("sshproxy: invalid login name").
var ErrInvalid = errors.New("invalid login name")

// MaxLen bounds the login name accepted, in bytes.
const MaxLen = 512

// Name is a login name split into the gateway user and the target.
type Name struct {
	User   string
	Target string // empty: none given
}

// Parse splits a login name "USER:TARGET" at its LAST ':'. User names may
// contain ':' (directory accounts sometimes do); target names may not, so
// "a:b:web01" is user "a:b" on target "web01". A name without ':' names
// only the user, as does one ending in ':'.
//
// The name is data from an unauthenticated client: it must be valid UTF-8
// of at most MaxLen bytes, without control characters or line separators
// (so it can never forge a log line), with a non-empty user part. Anything
// else ('|', '=', '/', "..", spaces) is kept as is: it is matched against
// the store, never used to build a path or a log line unescaped.
func Parse(s string) (Name, error) {
	if s == "" || len(s) > MaxLen || !utf8.ValidString(s) {
		return Name{}, ErrInvalid
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) {
			return Name{}, ErrInvalid
		}
	}
	var n Name
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		n = Name{User: s[:i], Target: s[i+1:]}
	} else {
		n = Name{User: s}
	}
	if n.User == "" {
		return Name{}, ErrInvalid
	}
	return n, nil
}
