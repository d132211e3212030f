package pathtmpl

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultS3Endpoint is used when an s3:// template names no @endpoint.
const DefaultS3Endpoint = "s3.amazonaws.com"

// Sentinel errors, for callers that branch on what is wrong.
var (
	ErrScheme          = errors.New("unsupported scheme")
	ErrUnknownVariable = errors.New("unknown variable")
	ErrBrace           = errors.New("unbalanced brace")
	ErrBucket          = errors.New("bad bucket")
	ErrEndpoint        = errors.New("bad endpoint")
	ErrPath            = errors.New("bad path")
	ErrPlainHTTP       = errors.New("plain http endpoint")
	ErrMissingVariable = errors.New("missing variable")
	ErrKeyTooLong      = errors.New("key too long")
)

// Variable names a template may use, in the order the documentation lists
// them.
var names = []string{
	"session_id", "user_id", "username", "target_id", "target_friendly_name",
	"created_timestamp", "created_date", "start_timestamp", "start_date",
	"current_epoch", "segment", "ext",
}

// Names returns the variable names a template may use.
func Names() []string { return append([]string(nil), names...) }

func known(name string) bool {
	for _, n := range names {
		if n == name {
			return true
		}
	}
	return false
}

// part is a run of fixed text or one variable.
type part struct {
	lit  string
	name string // variable name; empty for fixed text
}

// Template is a parsed upload location. It is immutable and safe for
// concurrent use.
type Template struct {
	raw       string
	scheme    string
	bucket    string
	endpoint  string
	plainHTTP bool
	root      string
	parts     []part
}

// Parse checks an upload-location template and splits it into its parts.
func Parse(s string) (*Template, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("pathtmpl: %w: not valid UTF-8", ErrPath)
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return nil, fmt.Errorf("pathtmpl: %w: no scheme in %q (want s3://bucket/... or file:///dir/...)", ErrScheme, s)
	}
	t := &Template{raw: s, scheme: strings.ToLower(scheme)}
	var key string
	var err error
	switch t.scheme {
	case "s3":
		key, err = t.parseS3(rest)
	case "file":
		key, err = t.parseFile(rest)
	default:
		return nil, fmt.Errorf("pathtmpl: %w %q (want s3 or file)", ErrScheme, scheme)
	}
	if err != nil {
		return nil, err
	}
	if t.parts, err = parseKey(key); err != nil {
		return nil, err
	}
	return t, nil
}

// parseS3 reads bucket[@[http[s]://]endpoint]/key and returns the key.
func (t *Template) parseS3(rest string) (string, error) {
	i := strings.IndexAny(rest, "@/")
	if i < 0 {
		i = len(rest)
	}
	t.bucket = rest[:i]
	if err := checkBucket(t.bucket); err != nil {
		return "", err
	}
	if i == len(rest) {
		return "", fmt.Errorf("pathtmpl: %w: no object key after the bucket", ErrPath)
	}
	if rest[i] == '/' {
		t.endpoint = DefaultS3Endpoint
		return rest[i+1:], nil
	}
	after := rest[i+1:]
	switch lower := strings.ToLower(after); {
	case strings.HasPrefix(lower, "http://"):
		t.plainHTTP = true
		after = after[len("http://"):]
	case strings.HasPrefix(lower, "https://"):
		after = after[len("https://"):]
	}
	ep, key, ok := strings.Cut(after, "/")
	if err := checkEndpoint(ep); err != nil {
		return "", err
	}
	t.endpoint = ep
	if !ok {
		return "", fmt.Errorf("pathtmpl: %w: no object key after the endpoint", ErrPath)
	}
	return key, nil
}

// parseFile reads /dir/.../key: root is the directory part before the first
// variable, the rest is the key.
func (t *Template) parseFile(rest string) (string, error) {
	if !strings.HasPrefix(rest, "/") {
		return "", fmt.Errorf("pathtmpl: %w: file location must be an absolute path (file:///dir/...), got %q", ErrPath, "file://"+rest)
	}
	fixed := rest
	if i := strings.IndexAny(rest, "{}"); i >= 0 {
		fixed = rest[:i]
	}
	cut := strings.LastIndexByte(fixed, '/')
	t.root = rest[:cut]
	if t.root == "" {
		t.root = "/"
	} else if err := checkFixed(t.root[1:]); err != nil {
		return "", err
	}
	return rest[cut+1:], nil
}

func checkBucket(b string) error {
	if b == "" {
		return fmt.Errorf("pathtmpl: %w: empty bucket name", ErrBucket)
	}
	if strings.ContainsAny(b, "{}") {
		return fmt.Errorf("pathtmpl: %w %q: variables are not allowed in the bucket", ErrBucket, b)
	}
	if len(b) > 255 {
		return fmt.Errorf("pathtmpl: %w %q: longer than 255 bytes", ErrBucket, b)
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return fmt.Errorf("pathtmpl: %w %q: only letters, digits, '.', '-' and '_' are allowed", ErrBucket, b)
		}
	}
	return nil
}

func checkEndpoint(ep string) error {
	if ep == "" {
		return fmt.Errorf("pathtmpl: %w: empty endpoint after @", ErrEndpoint)
	}
	if strings.ContainsAny(ep, "{}") {
		return fmt.Errorf("pathtmpl: %w %q: variables are not allowed in the endpoint", ErrEndpoint, ep)
	}
	host := ep
	if h, port, err := net.SplitHostPort(ep); err == nil {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("pathtmpl: %w %q: port must be 1-65535", ErrEndpoint, ep)
		}
		host = h
	} else if strings.HasPrefix(ep, "[") || strings.Count(ep, ":") == 1 {
		return fmt.Errorf("pathtmpl: %w %q: want host or host:port", ErrEndpoint, ep)
	}
	if net.ParseIP(host) != nil {
		return nil
	}
	if host == "" || len(host) > 253 {
		return fmt.Errorf("pathtmpl: %w %q: bad host name", ErrEndpoint, ep)
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return fmt.Errorf("pathtmpl: %w %q: bad host name", ErrEndpoint, ep)
		}
	}
	return nil
}

// parseKey splits the key template into fixed text and variables and checks
// that the fixed text cannot make a key climb, start with "/" or hold empty
// segments.
func parseKey(s string) ([]part, error) {
	if s == "" {
		return nil, fmt.Errorf("pathtmpl: %w: empty object key", ErrPath)
	}
	var parts []part
	var lit strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '{':
			end := strings.IndexByte(s[i+1:], '}')
			if end < 0 {
				return nil, fmt.Errorf("pathtmpl: %w: unclosed { at offset %d", ErrBrace, i)
			}
			name := s[i+1 : i+1+end]
			if strings.IndexByte(name, '{') >= 0 {
				return nil, fmt.Errorf("pathtmpl: %w: unclosed { at offset %d", ErrBrace, i)
			}
			if !known(name) {
				return nil, fmt.Errorf("pathtmpl: %w {%s}", ErrUnknownVariable, name)
			}
			if lit.Len() > 0 {
				parts = append(parts, part{lit: lit.String()})
				lit.Reset()
			}
			parts = append(parts, part{name: name})
			i += end + 1
		case '}':
			return nil, fmt.Errorf("pathtmpl: %w: unmatched } at offset %d", ErrBrace, i)
		default:
			lit.WriteByte(s[i])
		}
	}
	if lit.Len() > 0 {
		parts = append(parts, part{lit: lit.String()})
	}
	// A value never starts or ends with a dot and never holds "/", so
	// checking each fixed run on its own and each all-fixed segment as a
	// whole keeps "..", empty and "." segments out of every rendered key.
	for _, p := range parts {
		if p.name == "" {
			if err := checkFixedChars(p.lit); err != nil {
				return nil, err
			}
		}
	}
	var seg strings.Builder
	hasVar := false
	flush := func() error {
		defer func() { seg.Reset(); hasVar = false }()
		if hasVar {
			return nil
		}
		return checkSegment(seg.String())
	}
	for _, p := range parts {
		if p.name != "" {
			hasVar = true
			continue
		}
		rest := p.lit
		for {
			before, after, found := strings.Cut(rest, "/")
			seg.WriteString(before)
			if !found {
				break
			}
			if err := flush(); err != nil {
				return nil, err
			}
			rest = after
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return parts, nil
}

// checkFixed checks a slash-separated run of fixed segments.
func checkFixed(s string) error {
	for seg := range strings.SplitSeq(s, "/") {
		if err := checkSegment(seg); err != nil {
			return err
		}
	}
	return nil
}

func checkSegment(seg string) error {
	switch seg {
	case "":
		return fmt.Errorf("pathtmpl: %w: empty path segment (leading, trailing or doubled /)", ErrPath)
	case ".", "..":
		return fmt.Errorf("pathtmpl: %w: path segment %q is not allowed", ErrPath, seg)
	}
	return checkFixedChars(seg)
}

func checkFixedChars(s string) error {
	if strings.Contains(s, "..") {
		return fmt.Errorf("pathtmpl: %w: %q contains \"..\"", ErrPath, s)
	}
	for _, r := range s {
		if r == '\\' || unicode.IsControl(r) {
			return fmt.Errorf("pathtmpl: %w: %q contains a backslash or control character", ErrPath, s)
		}
	}
	return nil
}

// String returns the template as written.
func (t *Template) String() string { return t.raw }

// Scheme is "s3" or "file".
func (t *Template) Scheme() string { return t.scheme }

// Bucket is the S3 bucket; empty for file templates.
func (t *Template) Bucket() string { return t.bucket }

// Endpoint is the S3 endpoint as host[:port], DefaultS3Endpoint when the
// template names none; empty for file templates.
func (t *Template) Endpoint() string { return t.endpoint }

// PlainHTTP reports whether the endpoint was written with http://.
func (t *Template) PlainHTTP() bool { return t.plainHTTP }

// Root is the fixed directory that file keys live under ("/" at least);
// empty for s3 templates.
func (t *Template) Root() string { return t.root }

// Prefix is the fixed start of every key, up to the first variable; storage
// listings of this template's objects can start there.
func (t *Template) Prefix() string {
	if len(t.parts) > 0 && t.parts[0].name == "" {
		return t.parts[0].lit
	}
	return ""
}

// Variables returns the variables the template uses, in order, once each.
func (t *Template) Variables() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range t.parts {
		if p.name != "" && !seen[p.name] {
			seen[p.name] = true
			out = append(out, p.name)
		}
	}
	return out
}

// Uses reports whether the template contains {name}.
func (t *Template) Uses(name string) bool {
	for _, p := range t.parts {
		if p.name == name {
			return true
		}
	}
	return false
}

// EndpointURL is the S3 endpoint with its scheme: https, unless the
// template says http:// and allowHTTP is set. A plain-HTTP endpoint without
// allowHTTP is ErrPlainHTTP.
func (t *Template) EndpointURL(allowHTTP bool) (string, error) {
	if t.scheme != "s3" {
		return "", nil
	}
	if t.plainHTTP {
		if !allowHTTP {
			return "", fmt.Errorf("pathtmpl: %w: endpoint http://%s sends credentials and recordings unencrypted; allow it with allow_http", ErrPlainHTTP, t.endpoint)
		}
		return "http://" + t.endpoint, nil
	}
	return "https://" + t.endpoint, nil
}

// Location names an object in the template's wording, for logs and events:
// s3://bucket@endpoint/key or file:///root/key.
func (t *Template) Location(key string) string {
	if t.scheme == "s3" {
		ep := t.endpoint
		if t.plainHTTP {
			ep = "http://" + ep
		}
		return "s3://" + t.bucket + "@" + ep + "/" + key
	}
	return "file://" + strings.TrimSuffix(t.root, "/") + "/" + key
}
