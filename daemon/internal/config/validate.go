package config

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/vigilgw/vigil/daemon/internal/pathtmpl"
)

var (
	teamRE      = regexp.MustCompile(`^[a-z0-9_-]{1,32}$`)
	sinkNameRE  = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)
	componentRE = regexp.MustCompile(`^[a-z0-9_.-]{1,64}$`)
	envRE       = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\*?$|^\*$`)
	pluginRE    = regexp.MustCompile(`^([a-z]+)-([a-z0-9][a-z0-9_-]*)$`)
)

var (
	logLevels    = []string{"trace", "debug", "info", "warn", "error"}
	sinkTypes    = []string{"file", "syslog"}
	sinkFormats  = []string{"json", "cef", "espaaa", "userlog"}
	transports   = []string{"udp", "tcp", "tls"}
	framings     = []string{"octet", "lf"}
	udpOversizes = []string{"truncate", "split"}
	facilities   = []string{
		"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp",
		"local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
	}
	// The plugin kinds of plugins/sdk (sdk.Kind*), spelled out so that the
	// configuration does not pull in the plugin runtime.
	pluginKinds = []string{"recorder", "storage", "logformat"}
)

// Syslog message size bounds: RFC 3164 §4.1 caps a packet at 1024 bytes;
// RFC 5424 §6.1 says receivers should accept 2048 and must accept 480;
// 65507 is the largest UDP payload over IPv4.
const (
	udpMin     = 480
	udpMax3164 = 1024
	udpDef5424 = 2048
	udpMaxIPv4 = 65507
)

// sunPathMax is the longest unix socket path: sockaddr_un.sun_path less
// its NUL.
const sunPathMax = 107

// defaultSinkName names the sink used when none is configured.
const defaultSinkName = "json-files"

// CheckAndSetDefaults is the one place that fills the defaults derived from
// other values and checks every value: server_id (the host name),
// ssh.host_key and control.socket (under state_dir), recording.queue_length
// (logical CPUs when 0), recording.upload_location (under state_dir), the
// default [[log.sink]], and each sink's defaults that depend on its type
// and RFC. Load calls it; a Config made with Default and changed in code
// must call it too. Problems come back as Errors.
func (c *Config) CheckAndSetDefaults() error {
	var is issues
	c.check(&is)
	return is.err()
}

// checker reports problems at the file and line that set each key.
type checker struct {
	c  *Config
	is *issues
}

func (k checker) bad(key, format string, args ...any) {
	k.badCause(key, nil, format, args...)
}

func (k checker) badCause(key string, cause error, format string, args ...any) {
	is := &Issue{Key: key, Msg: fmt.Sprintf(format, args...), Err: ErrInvalid, cause: cause, rank: len(k.c.sources)}
	if src := k.c.sourceOf(key); src != nil {
		is.File, is.Line, is.rank = src.name, src.line(key), src.rank
	} else if k.c.path != "" {
		is.File = k.c.path
	}
	k.is.add(is)
}

// sourceOf finds the file that set key or, for a key left to its default,
// the file that set something in the nearest table holding it: a missing
// sink address is reported at its [[log.sink]].
func (c *Config) sourceOf(key string) *source {
	for k := key; k != ""; k = parentKey(k) {
		if o, ok := c.origins[k]; ok && o != OriginDefault {
			return c.sources[o]
		}
		for _, child := range sortedKeys(c.origins) {
			o := c.origins[child]
			if o != OriginDefault && (strings.HasPrefix(child, k+".") || strings.HasPrefix(child, k+"[")) {
				return c.sources[o]
			}
		}
	}
	return nil
}

func (k checker) oneOf(key, v string, allowed []string) {
	if !slices.Contains(allowed, v) {
		k.bad(key, "must be one of %s, got %q", quoteList(allowed), v)
	}
}

func (k checker) atLeast(key string, v, lo int) {
	if v < lo {
		k.bad(key, "must be >= %d, got %d", lo, v)
	}
}

func (k checker) between(key string, v, lo, hi int) {
	if v < lo || v > hi {
		k.bad(key, "must be between %d and %d, got %d", lo, hi, v)
	}
}

func (k checker) durAtLeast(key string, v, lo time.Duration) {
	if v < lo {
		k.bad(key, "must be >= %s, got %s", FormatDuration(lo), FormatDuration(v))
	}
}

func (k checker) sizeAtLeast(key string, v, lo ByteSize) {
	if v < lo {
		k.bad(key, "must be >= %s, got %s", lo, v)
	}
}

func (k checker) absPath(key string, v *string, required bool) {
	switch {
	case *v == "" && required:
		k.bad(key, "must not be empty")
	case *v == "":
	case !filepath.IsAbs(*v):
		k.bad(key, "must be an absolute path, got %q", *v)
	default:
		*v = filepath.Clean(*v)
	}
}

func (k checker) listen(key, addr string, enabled bool) {
	if addr == "" {
		if enabled {
			k.bad(key, "must be host:port when the listener is enabled")
		}
		return
	}
	if err := hostPort(addr); err != nil {
		k.bad(key, "%s", err)
	}
}

func hostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port, got %q", addr)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port must be 1-65535, got %q", addr)
	}
	if strings.ContainsFunc(host, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == '/' }) {
		return fmt.Errorf("bad host in %q", addr)
	}
	return nil
}

// tlsPair checks that a certificate and its key come together, reporting
// at the one that is set.
func (k checker) tlsPair(prefix, cert, key string) {
	switch {
	case cert != "" && key == "":
		k.bad(prefix+".tls_cert", "needs %s.tls_key as well", prefix)
	case cert == "" && key != "":
		k.bad(prefix+".tls_key", "needs %s.tls_cert as well", prefix)
	}
}

func (c *Config) check(is *issues) {
	k := checker{c: c, is: is}
	if c.origins == nil {
		c.origins = Origins{}
	}

	if !teamRE.MatchString(c.Team) {
		k.bad("team", "must be 1-32 characters of a-z, 0-9, '_' and '-', got %q", c.Team)
	}
	if c.ServerID == "" {
		host, err := os.Hostname()
		if err != nil {
			k.bad("server_id", "is empty and the host name is unknown: %v", err)
		}
		c.ServerID = host
	}
	if len(c.ServerID) > 253 || strings.ContainsFunc(c.ServerID, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		k.bad("server_id", "must be at most 253 characters without spaces or control characters, got %q", c.ServerID)
	}
	k.absPath("state_dir", &c.StateDir, true)
	k.absPath("log_dir", &c.LogDir, true)
	k.absPath("plugin_dir", &c.PluginDir, true)
	c.checkPluginHealth(k)
	k.durAtLeast("shutdown_grace", c.ShutdownGrace, 0)
	k.oneOf("log_level", c.LogLevel, logLevels)

	c.checkListeners(k)
	c.checkRecording(k)
	c.checkLog(k)
	c.checkPlugins(k)
}

// checkPluginHealth checks the plugin watchdog's pace: a check must end
// before the next one is due.
func (c *Config) checkPluginHealth(k checker) {
	interval, timeout := c.PluginHealthInterval, c.PluginHealthTimeout
	k.durAtLeast("plugin_health_interval", interval, time.Millisecond)
	k.durAtLeast("plugin_health_timeout", timeout, time.Millisecond)
	if interval < time.Millisecond || timeout < time.Millisecond || timeout < interval {
		return
	}
	if c.set("plugin_health_timeout") {
		k.bad("plugin_health_timeout", "must be shorter than plugin_health_interval (%s), got %s", FormatDuration(interval), FormatDuration(timeout))
	} else {
		k.bad("plugin_health_interval", "must be longer than plugin_health_timeout (%s), got %s", FormatDuration(timeout), FormatDuration(interval))
	}
}

func (c *Config) checkListeners(k checker) {
	s := &c.SSH
	k.listen("ssh.listen", s.Listen, s.Enabled)
	if s.HostKey == "" {
		s.HostKey = filepath.Join(c.StateDir, "keys", "ssh_host_ed25519_key")
	}
	k.absPath("ssh.host_key", &s.HostKey, true)
	for i, pat := range s.EnvAllow {
		if !envRE.MatchString(pat) {
			k.bad("ssh.env_allow", "item %d: %q is not an environment variable name, optionally ending in *", i+1, pat)
		}
	}
	k.durAtLeast("ssh.login_grace", s.LoginGrace, time.Second)
	k.between("ssh.max_auth_tries", s.MaxAuthTries, 1, 100)
	k.durAtLeast("ssh.idle_timeout", s.IdleTimeout, 0)

	k.listen("vnc.listen", c.VNC.Listen, c.VNC.Enabled)
	k.absPath("vnc.tls_cert", &c.VNC.TLSCert, false)
	k.absPath("vnc.tls_key", &c.VNC.TLSKey, false)
	k.tlsPair("vnc", c.VNC.TLSCert, c.VNC.TLSKey)
	k.durAtLeast("vnc.login_grace", c.VNC.LoginGrace, time.Second)
	k.durAtLeast("vnc.idle_timeout", c.VNC.IdleTimeout, 0)

	w := &c.WUI
	k.listen("wui.listen", w.Listen, w.Enabled)
	k.absPath("wui.tls_cert", &w.TLSCert, false)
	k.absPath("wui.tls_key", &w.TLSKey, false)
	k.tlsPair("wui", w.TLSCert, w.TLSKey)
	k.durAtLeast("wui.session_timeout", w.SessionTimeout, time.Minute)
	k.atLeast("wui.lockout_attempts", w.LockoutAttempts, 0)
	if w.LockoutAttempts > 0 {
		k.durAtLeast("wui.lockout_duration", w.LockoutDuration, time.Second)
	}

	// Two enabled listeners cannot share an address.
	seen := map[string]string{}
	for _, l := range []struct {
		key, addr string
		on        bool
	}{{"ssh.listen", s.Listen, s.Enabled}, {"vnc.listen", c.VNC.Listen, c.VNC.Enabled}, {"wui.listen", w.Listen, w.Enabled}} {
		if !l.on || l.addr == "" {
			continue
		}
		if other, ok := seen[l.addr]; ok {
			k.bad(l.key, "%s is already used by %s", l.addr, other)
		}
		seen[l.addr] = l.key
	}

	if c.Control.Socket == "" {
		c.Control.Socket = filepath.Join(c.StateDir, "vigild.sock")
	}
	k.absPath("control.socket", &c.Control.Socket, true)
	if len(c.Control.Socket) > sunPathMax {
		k.bad("control.socket", "unix socket paths are limited to %d bytes, got %d", sunPathMax, len(c.Control.Socket))
	}
}

func (c *Config) checkRecording(k checker) {
	r := &c.Recording
	k.sizeAtLeast("recording.min_free_bytes", r.MinFreeBytes, 0)
	k.sizeAtLeast("recording.segment_max_bytes", r.SegmentMaxBytes, MiB)
	k.atLeast("recording.queue_length", r.QueueLength, 0)
	if r.QueueLength == 0 {
		r.QueueLength = runtime.NumCPU()
	}
	if r.UploadLocation == "" {
		r.UploadLocation = "file://" + filepath.Join(c.StateDir, "recordings") + "/{username}/{session_id}/{segment}.{ext}"
	}
	r.Upload = nil
	t, err := pathtmpl.Parse(r.UploadLocation)
	switch {
	case err != nil:
		k.badCause("recording.upload_location", err, "%s", strings.TrimPrefix(err.Error(), "pathtmpl: "))
	default:
		var missing []string
		for _, v := range []string{"session_id", "segment", "ext"} {
			if !t.Uses(v) {
				missing = append(missing, "{"+v+"}")
			}
		}
		if len(missing) > 0 {
			k.bad("recording.upload_location", "must use %s so that every segment and render gets its own key", strings.Join(missing, ", "))
		} else if _, err := t.EndpointURL(r.AllowHTTP); err != nil {
			k.badCause("recording.upload_location", err, "endpoint http://%s is plain HTTP; set recording.allow_http = true to allow it", t.Endpoint())
		} else {
			r.Upload = t
		}
	}
	switch {
	case r.StorageKey != "" && r.StorageSecret == "":
		k.bad("recording.storage_key", "needs recording.storage_secret as well")
	case r.StorageKey == "" && r.StorageSecret != "":
		k.bad("recording.storage_secret", "needs recording.storage_key as well")
	}
	k.between("recording.bitrate", r.Bitrate, 1, 100000)
	k.between("recording.framerate", r.Framerate, 1, 60)
	for _, d := range []struct {
		key string
		v   int
	}{{"recording.width", r.Width}, {"recording.height", r.Height}} {
		k.between(d.key, d.v, 16, 8192)
		if d.v%2 != 0 {
			k.bad(d.key, "must be even (H.264 needs even dimensions), got %d", d.v)
		}
	}
	k.durAtLeast("recording.thumbnail_every", r.ThumbnailEvery, 0)
	k.durAtLeast("recording.retention", r.Retention, 0)
	k.durAtLeast("recording.checkpoint_interval", r.CheckpointInterval, time.Millisecond)
	k.sizeAtLeast("recording.checkpoint_bytes", r.CheckpointBytes, 1)
	if r.CheckpointBytes > r.SegmentMaxBytes {
		if c.set("recording.checkpoint_bytes") {
			k.bad("recording.checkpoint_bytes", "must be <= recording.segment_max_bytes (%s), got %s", r.SegmentMaxBytes, r.CheckpointBytes)
		} else {
			k.bad("recording.segment_max_bytes", "must be >= recording.checkpoint_bytes (%s), got %s", r.CheckpointBytes, r.SegmentMaxBytes)
		}
	}
	k.durAtLeast("recording.upload_retry_max_backoff", r.UploadRetryMaxBackoff, time.Second)
}

func (c *Config) checkLog(k checker) {
	k.durAtLeast("log.retention", c.Log.Retention, time.Hour)
	if len(c.Log.Sinks) == 0 {
		s := defaultSink()
		s.Name, s.Type, s.Path = defaultSinkName, "file", "{component}_json.log"
		c.Log.Sinks = []Sink{s}
		walkStruct(indexKey("log.sink", 0), reflect.ValueOf(&c.Log.Sinks[0]).Elem(), func(key string, _ fieldInfo, _ any) {
			c.origins[key] = OriginDefault
		})
	}
	names := map[string]int{}
	for i := range c.Log.Sinks {
		c.checkSink(k, i, names)
	}
}

func (c *Config) checkSink(k checker, i int, names map[string]int) {
	s := &c.Log.Sinks[i]
	p := indexKey("log.sink", i)
	key := func(name string) string { return p + "." + name }
	only := func(name, cond string) {
		if c.set(key(name)) {
			k.bad(key(name), "only applies %s", cond)
		}
	}

	switch {
	case s.Name == "":
		k.bad(key("name"), "is required")
	case !sinkNameRE.MatchString(s.Name):
		k.bad(key("name"), "must be 1-64 characters of a-z, 0-9, '_' and '-', got %q", s.Name)
	default:
		if j, dup := names[s.Name]; dup {
			k.bad(key("name"), "%q is already the name of log.sink[%d]", s.Name, j)
		}
		names[s.Name] = i
	}
	if s.Type == "" {
		k.bad(key("type"), "is required: %s", quoteList(sinkTypes))
	} else {
		k.oneOf(key("type"), s.Type, sinkTypes)
	}
	k.oneOf(key("format"), s.Format, sinkFormats)
	seen := map[string]bool{}
	for j, comp := range s.Components {
		if !componentRE.MatchString(comp) {
			k.bad(key("components"), "item %d: %q is not a component name", j+1, comp)
		} else if seen[comp] {
			k.bad(key("components"), "item %d: %q is listed twice", j+1, comp)
		}
		seen[comp] = true
	}

	fileKeys := []string{"path", "retention", "max_size", "max_age"}
	syslogKeys := []string{
		"address", "transport", "framing", "rfc", "facility", "app_name", "udp_max_size", "udp_oversize",
		"tls_ca", "tls_cert", "tls_key", "tls_server_name", "tls_skip_verify", "buffer_max_bytes", "buffer_max_age",
	}
	switch s.Type {
	case "file":
		for _, n := range syslogKeys {
			only(n, `to type = "syslog"`)
		}
		c.checkFileSink(k, s, key)
	case "syslog":
		for _, n := range fileKeys {
			only(n, `to type = "file"`)
		}
		c.checkSyslogSink(k, s, key, only)
	}

	if s.Format != "espaaa" {
		only("espaaa_cef", `to format = "espaaa"`)
	}
	cef := s.Format == "cef" || s.Format == "espaaa" && s.ESPAAACEF
	if !cef {
		only("cef_vendor", `to CEF output (format = "cef", or "espaaa" with espaaa_cef = true)`)
		only("cef_product", `to CEF output (format = "cef", or "espaaa" with espaaa_cef = true)`)
	}
	for _, n := range []struct{ name, v string }{{"cef_vendor", s.CEFVendor}, {"cef_product", s.CEFProduct}} {
		if n.v == "" || len(n.v) > 63 || strings.ContainsFunc(n.v, unicode.IsControl) {
			k.bad(key(n.name), "must be 1-63 characters without control characters, got %q", n.v)
		}
	}
}

func (c *Config) checkFileSink(k checker, s *Sink, key func(string) string) {
	if s.Path == "" {
		s.Path = s.Name + ".log"
	}
	rest := strings.ReplaceAll(s.Path, "{component}", "")
	if strings.ContainsAny(rest, "{}") {
		k.bad(key("path"), "the only variable a sink path may use is {component}, got %q", s.Path)
	}
	if strings.ContainsFunc(s.Path, unicode.IsControl) {
		k.bad(key("path"), "must not contain control characters")
	}
	if !filepath.IsAbs(s.Path) {
		s.Path = filepath.Join(c.LogDir, s.Path)
	}
	s.Path = filepath.Clean(s.Path)
	k.durAtLeast(key("retention"), s.Retention, time.Hour)
	k.sizeAtLeast(key("max_size"), s.MaxSize, KiB)
	k.durAtLeast(key("max_age"), s.MaxAge, time.Minute)
}

func (c *Config) checkSyslogSink(k checker, s *Sink, key func(string) string, only func(name, cond string)) {
	if s.Address == "" {
		k.bad(key("address"), "is required for syslog sinks (host:port)")
	} else if err := hostPort(s.Address); err != nil {
		k.bad(key("address"), "%s", err)
	}
	k.oneOf(key("transport"), s.Transport, transports)
	if s.Transport == "udp" {
		only("framing", `to transport = "tcp" or "tls"`)
	} else {
		only("udp_max_size", `to transport = "udp"`)
		only("udp_oversize", `to transport = "udp"`)
	}
	if s.Transport != "tls" {
		for _, n := range []string{"tls_ca", "tls_cert", "tls_key", "tls_server_name", "tls_skip_verify"} {
			only(n, `to transport = "tls"`)
		}
	}
	k.oneOf(key("framing"), s.Framing, framings)
	if s.RFC != 5424 && s.RFC != 3164 {
		k.bad(key("rfc"), "must be 5424 or 3164, got %d", s.RFC)
	}
	k.oneOf(key("facility"), s.Facility, facilities)
	appMax := 48 // RFC 5424 APP-NAME
	if s.RFC == 3164 {
		appMax = 32 // RFC 3164 TAG
	}
	if s.AppName == "" || len(s.AppName) > appMax || strings.ContainsFunc(s.AppName, func(r rune) bool { return r <= ' ' || r > '~' }) {
		k.bad(key("app_name"), "must be 1-%d printable ASCII characters without spaces (RFC %d), got %q", appMax, s.RFC, s.AppName)
	}
	if s.UDPMaxSize == 0 {
		s.UDPMaxSize = udpDef5424
		if s.RFC == 3164 {
			s.UDPMaxSize = udpMax3164
		}
	}
	if s.RFC == 3164 {
		k.between(key("udp_max_size"), s.UDPMaxSize, udpMin, udpMax3164)
	} else {
		k.between(key("udp_max_size"), s.UDPMaxSize, udpMin, udpMaxIPv4)
	}
	k.oneOf(key("udp_oversize"), s.UDPOversize, udpOversizes)
	k.absPath(key("tls_ca"), &s.TLSCA, false)
	k.absPath(key("tls_cert"), &s.TLSCert, false)
	k.absPath(key("tls_key"), &s.TLSKey, false)
	switch {
	case s.TLSCert != "" && s.TLSKey == "":
		k.bad(key("tls_cert"), "needs tls_key as well")
	case s.TLSCert == "" && s.TLSKey != "":
		k.bad(key("tls_key"), "needs tls_cert as well")
	}
	k.sizeAtLeast(key("buffer_max_bytes"), s.BufferMaxBytes, MiB)
	k.durAtLeast(key("buffer_max_age"), s.BufferMaxAge, time.Minute)
}

func (c *Config) checkPlugins(k checker) {
	for _, name := range sortedKeys(c.Plugins) {
		key := "plugins." + quoteKey(name)
		m := pluginRE.FindStringSubmatch(name)
		if m == nil || !slices.Contains(pluginKinds, m[1]) {
			k.bad(key, "plugin tables are named [plugins.<kind>-<name>] with kind %s, got %q", quoteList(pluginKinds), name)
			continue
		}
		if _, err := json.Marshal(c.Plugins[name]); err != nil {
			k.badCause(key, err, "cannot be passed to the plugin as JSON (nan and inf are not allowed): %v", err)
		}
	}
}

func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
