package config

import (
	"time"

	"github.com/vigilgw/vigil/daemon/internal/pathtmpl"
)

// DefaultPath is where the package installs the configuration file.
const DefaultPath = "/etc/vigil/vigil.toml"

// SettingsFile is the overlay the web UI writes, inside state_dir.
const SettingsFile = "settings.toml"

// Struct tags: `toml:"name"` is the key; `vigil:"..."` lists what the key
// is: "path" (a relative value is resolved against the directory of the
// file that set it), "secret" (masked by Show), "fixed" (only vigil.toml
// may set it, never settings.toml).

// Config is vigild's effective configuration. Load returns it with every
// default filled in and every value checked.
type Config struct {
	Team                 string        `toml:"team"`
	ServerID             string        `toml:"server_id"`
	StateDir             string        `toml:"state_dir" vigil:"path,fixed"`
	LogDir               string        `toml:"log_dir" vigil:"path"`
	PluginDir            string        `toml:"plugin_dir" vigil:"path,fixed"`
	PluginHealthInterval time.Duration `toml:"plugin_health_interval"` // how often each running plugin is checked
	PluginHealthTimeout  time.Duration `toml:"plugin_health_timeout"`  // how long a check may take
	ShutdownGrace        time.Duration `toml:"shutdown_grace"`
	LogLevel             string        `toml:"log_level"`

	SSH       SSH       `toml:"ssh"`
	VNC       VNC       `toml:"vnc"`
	WUI       WUI       `toml:"wui"`
	Control   Control   `toml:"control"`
	Recording Recording `toml:"recording"`
	Log       Log       `toml:"log"`

	// Plugins holds the [plugins.<kind>-<name>] tables as written; see
	// PluginConfigJSON.
	Plugins map[string]map[string]any `toml:"plugins"`

	path    string // the file Load read; empty for Default()
	origins Origins
	sources map[Origin]*source
}

// SSH is the [ssh] table: the SSH listener.
type SSH struct {
	Enabled      bool          `toml:"enabled"`
	Listen       string        `toml:"listen"`
	HostKey      string        `toml:"host_key" vigil:"path"`
	Banner       string        `toml:"banner"`
	EnvAllow     []string      `toml:"env_allow"`
	LoginGrace   time.Duration `toml:"login_grace"`
	MaxAuthTries int           `toml:"max_auth_tries"`
	IdleTimeout  time.Duration `toml:"idle_timeout"` // 0: none
}

// VNC is the [vnc] table: the VNC listener.
type VNC struct {
	Enabled bool   `toml:"enabled"`
	Listen  string `toml:"listen"`
	TLSCert string `toml:"tls_cert" vigil:"path"` // empty: self-signed, made on first start
	TLSKey  string `toml:"tls_key" vigil:"path"`
	// LoginGrace bounds the time from accept to a session with the target.
	LoginGrace time.Duration `toml:"login_grace"`
	// IdleTimeout ends a session without key or pointer input this long.
	IdleTimeout time.Duration `toml:"idle_timeout"` // 0: none
}

// WUI is the [wui] table: the web UI listener and its login policy.
type WUI struct {
	Enabled         bool          `toml:"enabled"`
	Listen          string        `toml:"listen"`
	TLSCert         string        `toml:"tls_cert" vigil:"path"` // empty: self-signed, made on first start
	TLSKey          string        `toml:"tls_key" vigil:"path"`
	SessionTimeout  time.Duration `toml:"session_timeout"`
	LockoutAttempts int           `toml:"lockout_attempts"` // 0: no lockout
	LockoutDuration time.Duration `toml:"lockout_duration"`
}

// Control is the [control] table: the local socket vigilctl talks to.
type Control struct {
	Socket string `toml:"socket" vigil:"path,fixed"`
}

// Recording is the [recording] table: admission, capture, encoding and
// upload of recordings. Names follow Kasm's session recording settings.
type Recording struct {
	MinFreeBytes          ByteSize      `toml:"min_free_bytes"`
	SegmentMaxBytes       ByteSize      `toml:"segment_max_bytes"`
	QueueLength           int           `toml:"queue_length"` // encode slots; 0 in the file: logical CPUs
	UploadLocation        string        `toml:"upload_location"`
	StorageKey            string        `toml:"storage_key" vigil:"secret"`
	StorageSecret         string        `toml:"storage_secret" vigil:"secret"`
	AllowHTTP             bool          `toml:"allow_http"`
	S3Region              string        `toml:"s3_region"`
	S3PathStyle           bool          `toml:"s3_path_style"`
	S3TLSVerify           bool          `toml:"s3_tls_verify"`
	Bitrate               int           `toml:"bitrate"` // kbit/s
	Framerate             int           `toml:"framerate"`
	Width                 int           `toml:"width"`
	Height                int           `toml:"height"`
	ThumbnailEvery        time.Duration `toml:"thumbnail_every"` // 0: no thumbnails
	Retention             time.Duration `toml:"retention"`       // 0: delete right after a verified upload
	RecordInput           bool          `toml:"record_input"`
	CheckpointInterval    time.Duration `toml:"checkpoint_interval"`
	CheckpointBytes       ByteSize      `toml:"checkpoint_bytes"`
	UploadRetryMaxBackoff time.Duration `toml:"upload_retry_max_backoff"`

	// Upload is UploadLocation parsed, set by CheckAndSetDefaults.
	Upload *pathtmpl.Template `toml:"-"`
}

// Log is the [log] table: the events index and the [[log.sink]] array.
type Log struct {
	Retention time.Duration `toml:"retention"`
	Sinks     []Sink        `toml:"sink"`
}

// Sink is one [[log.sink]]: where events go and in which format.
type Sink struct {
	Name       string   `toml:"name"`
	Type       string   `toml:"type"`       // file | syslog
	Format     string   `toml:"format"`     // json | cef | espaaa | userlog
	Components []string `toml:"components"` // empty: all

	// type = "file"
	Path      string        `toml:"path"` // may hold {component}; relative to log_dir
	Retention time.Duration `toml:"retention"`
	MaxSize   ByteSize      `toml:"max_size"`
	MaxAge    time.Duration `toml:"max_age"`

	// type = "syslog"
	Address        string        `toml:"address"`
	Transport      string        `toml:"transport"` // udp | tcp | tls
	Framing        string        `toml:"framing"`   // octet | lf (tcp and tls)
	RFC            int           `toml:"rfc"`       // 5424 | 3164
	Facility       string        `toml:"facility"`
	AppName        string        `toml:"app_name"`
	UDPMaxSize     int           `toml:"udp_max_size"`
	UDPOversize    string        `toml:"udp_oversize"` // truncate | split
	TLSCA          string        `toml:"tls_ca" vigil:"path"`
	TLSCert        string        `toml:"tls_cert" vigil:"path"`
	TLSKey         string        `toml:"tls_key" vigil:"path"`
	TLSServerName  string        `toml:"tls_server_name"`
	TLSSkipVerify  bool          `toml:"tls_skip_verify"`
	BufferMaxBytes ByteSize      `toml:"buffer_max_bytes"`
	BufferMaxAge   time.Duration `toml:"buffer_max_age"`

	// formats
	ESPAAACEF  bool   `toml:"espaaa_cef"`
	CEFVendor  string `toml:"cef_vendor"`
	CEFProduct string `toml:"cef_product"`
}

const day = 24 * time.Hour

// Default returns the static defaults: every key the file may leave out,
// before CheckAndSetDefaults derives the rest (server_id, ssh.host_key,
// control.socket, recording.queue_length, recording.upload_location and
// the default sink).
func Default() *Config {
	c := &Config{
		Team:                 "vigil",
		StateDir:             "/var/lib/vigil",
		LogDir:               "/var/log/vigil",
		PluginDir:            "/usr/lib/vigil/plugins",
		PluginHealthInterval: 10 * time.Second,
		PluginHealthTimeout:  5 * time.Second,
		ShutdownGrace:        30 * time.Second,
		LogLevel:             "info",
		SSH: SSH{
			Enabled:      true,
			Listen:       "127.0.0.1:2222",
			Banner:       "This session is recorded.",
			EnvAllow:     []string{"LANG", "LC_*", "TERM", "TZ"},
			LoginGrace:   30 * time.Second,
			MaxAuthTries: 6,
		},
		VNC: VNC{Enabled: true, Listen: "127.0.0.1:5900", LoginGrace: time.Minute},
		WUI: WUI{
			Enabled:         true,
			Listen:          "127.0.0.1:8443",
			SessionTimeout:  8 * time.Hour,
			LockoutAttempts: 5,
			LockoutDuration: 15 * time.Minute,
		},
		Recording: Recording{
			MinFreeBytes:          500 * MB,
			SegmentMaxBytes:       150 * MB,
			S3PathStyle:           true,
			S3TLSVerify:           true,
			Bitrate:               1000,
			Framerate:             10,
			Width:                 1280,
			Height:                720,
			ThumbnailEvery:        10 * time.Second,
			Retention:             24 * time.Hour,
			CheckpointInterval:    time.Second,
			CheckpointBytes:       MiB,
			UploadRetryMaxBackoff: 5 * time.Minute,
		},
		Log: Log{Retention: 7 * day},
	}
	c.origins = Origins{}
	walk(c, func(key string, _ fieldInfo, _ any) { c.origins[key] = OriginDefault })
	return c
}

// defaultSink holds the defaults of every [[log.sink]] key.
func defaultSink() Sink {
	return Sink{
		Format:         "json",
		Retention:      7 * day,
		MaxSize:        100 * MB,
		MaxAge:         24 * time.Hour,
		Transport:      "tcp",
		Framing:        "octet",
		RFC:            5424,
		Facility:       "local0",
		AppName:        "vigil",
		UDPOversize:    "truncate",
		BufferMaxBytes: 256 * MB,
		BufferMaxAge:   7 * day,
		CEFVendor:      "Vigil",
		CEFProduct:     "Gateway",
	}
}

// Path is the file Load read.
func (c *Config) Path() string { return c.path }

// SettingsPath is the overlay written by the web UI: <state_dir>/settings.toml.
func (c *Config) SettingsPath() string { return joinPath(c.StateDir, SettingsFile) }

// Origin says where an effective value came from.
type Origin string

// Origins of values.
const (
	OriginDefault  Origin = "default"
	OriginFile     Origin = "file"
	OriginSettings Origin = "settings"
)

// Origins maps every dotted key (log.sink[0].name, plugins.storage-s3.bucket)
// to where its value came from.
type Origins map[string]Origin

// Origins returns a copy of where every key's value came from.
func (c *Config) Origins() Origins {
	out := make(Origins, len(c.origins))
	for k, v := range c.origins {
		out[k] = v
	}
	return out
}

// set reports whether key was written in a file, not left to its default.
func (c *Config) set(key string) bool {
	o, ok := c.origins[key]
	return ok && o != OriginDefault
}
