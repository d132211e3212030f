package logsink

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/events"
	"github.com/vigilgw/vigil/daemon/internal/logsink/file"
	"github.com/vigilgw/vigil/daemon/internal/logsink/syslog"
)

// ErrInvalidConfig is wrapped by every configuration error.
var ErrInvalidConfig = errors.New("logsink: invalid config")

// Sink types.
const (
	TypeFile   = "file"
	TypeSyslog = "syslog"
)

// Config is one [[log.sink]] table. The daemon's config loader maps the
// TOML keys onto it; CheckAndSetDefaults fills the defaults and names the
// offending key in its errors.
type Config struct {
	// Name identifies the sink (letters, digits, '.', '_', '-'); its
	// journal cursor is kept under ConsumerName(Name).
	Name string
	// Type is "file" or "syslog".
	Type string
	// Format names the logformat plugin: json, cef, espaaa, userlog.
	Format string
	// Components keeps only events of these components (empty: all).
	Components []string

	// File sinks.
	// Path, relative to the log directory, may contain {component}
	// (default "{component}_<format>.log", e.g. ssh_json.log).
	Path string
	// MaxSize (default 100 MiB) and MaxAge (default 24 h) rotate a file;
	// Retention (default 7 days) deletes rotated files. Negative: never.
	MaxSize   int64
	MaxAge    time.Duration
	Retention time.Duration
	// Compress gzips rotated files.
	Compress bool

	// Syslog sinks.
	Address   string // host:port
	Transport string // udp, tcp (default), tls
	Framing   string // octet (default) or lf, for tcp and tls
	RFC       int    // 5424 (default) or 3164
	Facility  string // kern ... local7 (default local0)
	AppName   string // default "vigil"
	// Hostname is the HOSTNAME of events that carry no host (default: the
	// machine's name).
	Hostname    string
	UDPMaxSize  int    // default 1472
	UDPOversize string // truncate (default) or split
	TLSCAFile   string
	TLSCertFile string
	TLSKeyFile  string
	// TLSServerName is checked in the server's certificate (default: the
	// host of Address).
	TLSServerName string
	TLSSkipVerify bool

	// BufferMaxBytes and BufferMaxAge bound how far behind this sink may
	// fall (the events wait in the journal) before its oldest events are
	// dropped and a log.sink.dropped event says so. 0: the bus defaults
	// (1 GiB, no age limit); negative: no limit.
	BufferMaxBytes int64
	BufferMaxAge   time.Duration
}

var validSinkName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ConsumerName is the journal consumer that keeps a sink's cursor, so the
// daemon can delete those of sinks no longer configured.
func ConsumerName(sink string) string { return "sink." + sink }

func keyErr(name, key, format string, args ...any) error {
	return fmt.Errorf("%w: log.sink %q: %s: %s", ErrInvalidConfig, name, key, fmt.Sprintf(format, args...))
}

// Check reports what New would refuse in c without opening anything
// (`vigild --check-config`): its values and, for a syslog sink over TLS,
// its certificate files.
func (c Config) Check() error {
	if err := c.CheckAndSetDefaults(); err != nil {
		return err
	}
	if c.Type != TypeSyslog {
		return nil
	}
	w, err := syslog.New(c.syslogConfig(0, nil)) // connects on first use only
	if err != nil {
		return fmt.Errorf("logsink %s: %w", c.Name, err)
	}
	return w.Close()
}

// CheckAndSetDefaults validates c and fills its defaults.
func (c *Config) CheckAndSetDefaults() error {
	if !validSinkName.MatchString(c.Name) {
		return keyErr(c.Name, "name", "want letters, digits, '.', '_' or '-'")
	}
	if c.Format == "" {
		return keyErr(c.Name, "format", "missing")
	}
	for i, comp := range c.Components {
		if strings.TrimSpace(comp) == "" {
			return keyErr(c.Name, "components", "entry %d is empty", i)
		}
	}
	switch c.Type {
	case TypeFile:
		if c.Address != "" {
			return keyErr(c.Name, "address", "only for syslog sinks")
		}
		if c.Path == "" {
			c.Path = file.ComponentPlaceholder + "_" + c.Format + ".log"
		}
	case TypeSyslog:
		if c.Path != "" {
			return keyErr(c.Name, "path", "only for file sinks")
		}
		if c.Address == "" {
			return keyErr(c.Name, "address", "missing")
		}
		if c.Facility == "" {
			c.Facility = "local0"
		}
		if _, ok := syslog.Facilities[strings.ToLower(c.Facility)]; !ok {
			return keyErr(c.Name, "facility", "unknown facility %q", c.Facility)
		}
	default:
		return keyErr(c.Name, "type", "%q (want file or syslog)", c.Type)
	}
	return nil
}

func (c *Config) syslogConfig(settle time.Duration, now func() time.Time) syslog.Config {
	return syslog.Config{
		Address:   c.Address,
		Transport: c.Transport,
		Framing:   c.Framing,
		Header: syslog.Header{
			RFC:      c.RFC,
			Facility: syslog.Facilities[strings.ToLower(c.Facility)],
			AppName:  c.AppName,
			Hostname: c.Hostname,
		},
		UDPMaxSize:  c.UDPMaxSize,
		UDPOversize: c.UDPOversize,
		TLS: syslog.TLSConfig{
			CAFile: c.TLSCAFile, CertFile: c.TLSCertFile, KeyFile: c.TLSKeyFile,
			ServerName: c.TLSServerName, SkipVerify: c.TLSSkipVerify,
		},
		Settle: settle,
		Now:    now,
	}
}

// ForgetRemoved deletes the journal cursors of sinks that are no longer
// configured, so they stop holding back the deletion of consumed journal
// segments. Call it after the configured sinks are created.
func ForgetRemoved(bus *events.Bus, configured []Config) error {
	keep := map[string]bool{}
	for _, c := range configured {
		keep[ConsumerName(c.Name)] = true
	}
	var errs []error
	for _, st := range bus.Consumers() {
		if strings.HasPrefix(st.Name, ConsumerName("")) && !keep[st.Name] {
			errs = append(errs, bus.DeleteConsumer(st.Name))
		}
	}
	return errors.Join(errs...)
}
