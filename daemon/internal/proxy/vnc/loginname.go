package vncproxy

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidLoginName is returned for a login name no user can have.
var ErrInvalidLoginName = errors.New("vncproxy: invalid login name")

// maxLoginName bounds the user name accepted, in bytes.
const maxLoginName = 512

// LoginName is a VeNCrypt user name split into the gateway user and the
// target.
type LoginName struct {
	User   string
	Target string // empty: none given
}

// ParseLoginName splits "USER:TARGET" at its LAST ':', as the SSH gateway
// does: user names may contain ':', target names may not, so "a:b:web01"
// is user "a:b" on target "web01". A name without ':' names only the user,
// as does one ending in ':'.
//
// The name comes from an unauthenticated client: it must be valid UTF-8 of
// at most 512 bytes, without control characters or line separators, with
// a non-empty user part.
func ParseLoginName(s string) (LoginName, error) {
	if s == "" || len(s) > maxLoginName || !utf8.ValidString(s) {
		return LoginName{}, ErrInvalidLoginName
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.In(r, unicode.Zl, unicode.Zp) {
			return LoginName{}, ErrInvalidLoginName
		}
	}
	var ln LoginName
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		ln = LoginName{User: s[:i], Target: s[i+1:]}
	} else {
		ln = LoginName{User: s}
	}
	if ln.User == "" {
		return LoginName{}, ErrInvalidLoginName
	}
	return ln, nil
}
