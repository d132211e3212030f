package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/vigilgw/vigil/plugins/sdk"
)

// Bounds and defaults of the settings.
const (
	defaultEndpoint       = "s3.amazonaws.com"
	defaultPartSize       = 16 << 20
	minPartSize           = 5 << 20 // S3's minimum for every part but the last
	maxPartSize           = 5 << 30 // S3's maximum part
	maxParts              = 10000   // S3's maximum number of parts
	defaultMaxConcurrency = 4
	maxMaxConcurrency     = 64
	defaultMaxRetries     = 3
	maxMaxRetries         = 10
)

// Config is the plugin's configuration: its [plugins.storage-s3] table
// merged with what vigild passes from the [recording] settings, as JSON.
// Unknown keys are refused.
type Config struct {
	// Endpoint is host[:port], or a URL http(s)://host[:port] whose scheme
	// decides Secure. Default s3.amazonaws.com.
	Endpoint string `json:"endpoint"`
	Bucket   string `json:"bucket"`
	// Prefix is put before every key (and taken off keys that List
	// returns), so that several appliances or uses can share a bucket.
	Prefix string `json:"prefix"`
	// Region: "" lets the client discover it (or use us-east-1).
	Region    string `json:"region"`
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
	// PathStyle puts the bucket in the path (most S3-compatible stores
	// want it); false uses virtual-hosted style. Default true.
	PathStyle *bool `json:"path_style"`
	// Secure uses https. Default true. Plain http also needs AllowHTTP.
	Secure    *bool `json:"secure"`
	AllowHTTP bool  `json:"allow_http"`
	// TLSVerify checks the endpoint's certificate. Default true.
	TLSVerify *bool `json:"tls_verify"`
	// CAFile is a PEM bundle of extra trusted CAs for the endpoint.
	CAFile string `json:"ca_file"`
	// PartSize is the size of one part of a multipart upload, and the
	// size up to which an object goes in one PUT. Default 16 MiB.
	PartSize byteSize `json:"part_size"`
	// MaxConcurrency is how many parts of one Put are uploaded at once.
	// Default 4.
	MaxConcurrency int `json:"max_concurrency"`
	// MaxRetries is how many times minio-go retries one failed request.
	// Default 3: the recording pipeline has its own backoff, so a dead
	// endpoint must fail a call quickly rather than after minutes.
	MaxRetries int `json:"max_retries"`
}

// settings are a checked Config with every default filled in.
type settings struct {
	endpoint       string // host[:port]
	secure         bool
	bucket         string
	prefix         string // "" or ending in "/"
	region         string
	accessKey      string
	secretKey      string
	pathStyle      bool
	tlsConfig      *tls.Config // nil: Go's defaults
	partSize       int64
	maxConcurrency int
	maxRetries     int
}

// parseConfig reads and checks the JSON configuration. Every error wraps
// sdk.ErrInvalidConfig and names the setting.
func parseConfig(configJSON []byte) (settings, error) {
	var c Config
	if s := bytes.TrimSpace(configJSON); len(s) > 0 && !bytes.Equal(s, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(s))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return settings{}, invalid("%v", err)
		}
		if dec.More() {
			return settings{}, invalid("trailing data after the JSON object")
		}
	}
	s := settings{
		bucket:         c.Bucket,
		region:         c.Region,
		accessKey:      c.AccessKey,
		secretKey:      c.SecretKey,
		pathStyle:      c.PathStyle == nil || *c.PathStyle,
		partSize:       int64(c.PartSize),
		maxConcurrency: c.MaxConcurrency,
		maxRetries:     c.MaxRetries,
	}
	if err := s.setEndpoint(c); err != nil {
		return settings{}, err
	}
	if !s.secure && !c.AllowHTTP {
		return settings{}, invalid("endpoint %s is plain http: credentials and recordings would travel unencrypted; set allow_http to accept that", s.endpoint)
	}
	if err := checkBucket(s.bucket); err != nil {
		return settings{}, err
	}
	if c.Prefix != "" {
		p := strings.TrimSuffix(c.Prefix, "/")
		if err := sdk.ValidateKey(p); err != nil {
			return settings{}, invalid("prefix %q: %v", c.Prefix, err)
		}
		s.prefix = p + "/"
	}
	if (s.accessKey == "") != (s.secretKey == "") {
		return settings{}, invalid("access_key and secret_key go together: set both, or neither to use the environment's credentials")
	}
	switch {
	case s.partSize == 0:
		s.partSize = defaultPartSize
	case s.partSize < minPartSize || s.partSize > maxPartSize:
		return settings{}, invalid("part_size %d: must be 5 MiB to 5 GiB", s.partSize)
	}
	switch {
	case s.maxConcurrency == 0:
		s.maxConcurrency = defaultMaxConcurrency
	case s.maxConcurrency < 1 || s.maxConcurrency > maxMaxConcurrency:
		return settings{}, invalid("max_concurrency %d: must be 1 to %d", s.maxConcurrency, maxMaxConcurrency)
	}
	switch {
	case s.maxRetries == 0:
		s.maxRetries = defaultMaxRetries
	case s.maxRetries < 1 || s.maxRetries > maxMaxRetries:
		return settings{}, invalid("max_retries %d: must be 1 to %d", s.maxRetries, maxMaxRetries)
	}
	tlsVerify := c.TLSVerify == nil || *c.TLSVerify
	if !s.secure && (c.CAFile != "" || !tlsVerify) {
		return settings{}, invalid("ca_file and tls_verify apply to https endpoints only")
	}
	if c.CAFile != "" || !tlsVerify {
		s.tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: !tlsVerify} // the administrator's explicit choice
		if c.CAFile != "" {
			pool, err := loadCAFile(c.CAFile)
			if err != nil {
				return settings{}, err
			}
			s.tlsConfig.RootCAs = pool
		}
	}
	return s, nil
}

// setEndpoint reads endpoint and secure.
func (s *settings) setEndpoint(c Config) error {
	ep := c.Endpoint
	if ep == "" {
		ep = defaultEndpoint
	}
	s.secure = c.Secure == nil || *c.Secure
	if strings.Contains(ep, "://") {
		u, err := url.Parse(ep)
		if err != nil {
			return invalid("endpoint %q: %v", ep, err)
		}
		var secure bool
		switch strings.ToLower(u.Scheme) {
		case "https":
			secure = true
		case "http":
		default:
			return invalid("endpoint %q: scheme must be http or https", ep)
		}
		if c.Secure != nil && *c.Secure != secure {
			return invalid("endpoint %q contradicts secure=%t", ep, *c.Secure)
		}
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
			return invalid("endpoint %q: want scheme://host[:port] and nothing more (the bucket and prefix have settings of their own)", ep)
		}
		s.secure, ep = secure, u.Host
	}
	host := ep
	if h, port, err := net.SplitHostPort(ep); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return invalid("endpoint %q: port must be 1-65535", ep)
		}
		host = h
	}
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		return invalid("endpoint %q: want host[:port]", ep)
	}
	s.endpoint = ep
	return nil
}

// checkBucket applies S3's bucket naming rules, loosely: S3-compatible
// stores accept a little more than AWS (upper case, '_').
func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 255 {
		return invalid("bucket %q: 3 to 255 characters", b)
	}
	for _, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return invalid("bucket %q: only letters, digits, '.', '-' and '_'", b)
		}
	}
	return nil
}

func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, invalid("ca_file: %v", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, invalid("ca_file %s: no PEM certificate in it", path)
	}
	return pool, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("storage-s3: configure: "+format+": %w", append(args, sdk.ErrInvalidConfig)...)
}

// byteSize is a size in bytes, written in JSON as a number or as a string
// with a unit: "16MiB", "8 MB", "5242880".
type byteSize int64

var units = []struct {
	suffix string
	factor int64
}{
	// Longest suffixes first, so "MiB" is not read as "B".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1000}, {"mb", 1000 * 1000}, {"gb", 1000 * 1000 * 1000},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30},
	{"b", 1},
}

var errByteSize = errors.New(`want a number of bytes or a string such as "16MiB"`)

func (b *byteSize) UnmarshalJSON(data []byte) error {
	var n json.Number
	if err := json.Unmarshal(data, &n); err == nil {
		v, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil || v < 0 {
			return fmt.Errorf("size %s: %w", data, errByteSize)
		}
		*b = byteSize(v)
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("size %s: %w", data, errByteSize)
	}
	v, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

func parseByteSize(s string) (byteSize, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	factor := int64(1)
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, factor = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.factor
			break
		}
	}
	v, err := strconv.ParseInt(t, 10, 64)
	if err != nil || v < 0 || v > math.MaxInt64/factor {
		return 0, fmt.Errorf("size %q: %w", s, errByteSize)
	}
	return byteSize(v * factor), nil
}
