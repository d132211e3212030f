package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// ErrPluginUnavailable: the plugin's process is gone, restarting or was
// refused, so the call did not complete. Callers' queues retry later. It is
// the sdk's sentinel, so errors.Is works with either name.
var ErrPluginUnavailable = sdk.ErrPluginUnavailable

// ErrUnknownPlugin: no plugin of that kind and name was discovered.
var ErrUnknownPlugin = errors.New("no such plugin")

// Backoff is how long the supervisor waits before relaunching a plugin that
// exited: Initial, doubling per consecutive failure up to Max. A plugin that
// ran for StableAfter before it exited starts again from Initial.
type Backoff struct {
	Initial     time.Duration
	Max         time.Duration
	StableAfter time.Duration
}

// DefaultBackoff is 200 ms doubling to 30 s, reset after a stable minute.
var DefaultBackoff = Backoff{Initial: 200 * time.Millisecond, Max: 30 * time.Second, StableAfter: time.Minute}

// delay is the wait before relaunch attempt n (n >= 1).
func (b Backoff) delay(attempt int) time.Duration {
	d := b.Initial
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// Config is what the Manager needs. Dir is required.
type Config struct {
	// Dir is the plugin directory (/usr/lib/vigil/plugins).
	Dir string
	// Configs holds each plugin's [plugins.<kind>-<name>] table as JSON,
	// keyed by "<kind>-<name>". A plugin without an entry is configured with
	// no bytes.
	Configs map[string][]byte
	// Logger is the daemon's logger; each plugin's output is re-logged under
	// Logger.Named("plugin.<kind>-<name>"), the manager's own under
	// "pluginhost". nil discards.
	Logger hclog.Logger
	// Emit receives plugin.start, plugin.exit, plugin.restart,
	// plugin.unresponsive and plugin.refused events (component "plugins").
	// It is called from the supervisors and their watchdogs and must not
	// block for long. nil drops them.
	Emit func(event.Event)
	// Accept lists, per kind, the API versions the host accepts; a kind
	// left out accepts every version the sdk speaks.
	Accept map[sdk.Kind][]int
	// Backoff paces relaunches; the zero value means DefaultBackoff.
	Backoff Backoff
	// StartTimeout bounds a plugin's start, and its Info and Configure
	// calls. Zero means 30 s.
	StartTimeout time.Duration
	// HealthInterval is how often a running plugin is asked whether it
	// still answers (a gRPC health check); zero means 10 s.
	HealthInterval time.Duration
	// HealthTimeout bounds each health check; zero means 5 s. It must be
	// shorter than HealthInterval.
	HealthTimeout time.Duration
	// HealthFailures is how many health checks in a row may fail before
	// the plugin counts as hung: it is reported (plugin.unresponsive),
	// killed and relaunched like a plugin that exited. Zero means 3.
	HealthFailures int
	// Enabled, if set, says which discovered plugins (by "<kind>-<name>")
	// to launch; the others are listed by Health as StateDisabled. The
	// daemon launches only what its configuration uses, so an installed
	// but unused backend (say storage-s3 with a file:// upload location)
	// neither runs nor fails for want of settings.
	Enabled func(id string) bool

	// checked, if set, hears the outcome of every health check (tests
	// count them). It is called from the watchdogs.
	checked func(id string, err error)
}

// Health check defaults: a hung plugin is killed within about half a
// minute, and a busy one has seconds to answer.
const (
	defaultHealthInterval = 10 * time.Second
	defaultHealthTimeout  = 5 * time.Second
	defaultHealthFailures = 3
)

// checkAndSetDefaults fills defaults and validates, in one place.
func (c *Config) checkAndSetDefaults() error {
	if c.Dir == "" {
		return errors.New("pluginhost: config: no plugin dir")
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	if c.Emit == nil {
		c.Emit = func(event.Event) {}
	}
	if c.Backoff == (Backoff{}) {
		c.Backoff = DefaultBackoff
	}
	if c.Backoff.Initial <= 0 || c.Backoff.Max < c.Backoff.Initial {
		return fmt.Errorf("pluginhost: config: backoff %+v: need 0 < initial <= max", c.Backoff)
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 30 * time.Second
	}
	if err := c.checkHealthDefaults(); err != nil {
		return err
	}
	accept := make(map[sdk.Kind][]int, len(sdk.Kinds()))
	for _, k := range sdk.Kinds() {
		accept[k] = sdk.APIVersions(k)
	}
	for k, vs := range c.Accept {
		if _, ok := sdk.ParseKind(string(k)); !ok {
			return fmt.Errorf("pluginhost: config: accept: unknown plugin kind %q", k)
		}
		for _, v := range vs {
			if !slices.Contains(sdk.APIVersions(k), v) {
				return fmt.Errorf("pluginhost: config: accept: %s API version %d is not one this build speaks %v", k, v, sdk.APIVersions(k))
			}
		}
		if len(vs) == 0 {
			return fmt.Errorf("pluginhost: config: accept: no %s API version", k)
		}
		accept[k] = slices.Clone(vs)
	}
	c.Accept = accept
	return nil
}

func (c *Config) checkHealthDefaults() error {
	if c.HealthInterval == 0 {
		c.HealthInterval = defaultHealthInterval
	}
	if c.HealthTimeout == 0 {
		c.HealthTimeout = defaultHealthTimeout
	}
	if c.HealthFailures == 0 {
		c.HealthFailures = defaultHealthFailures
	}
	switch {
	case c.HealthInterval < 0 || c.HealthTimeout < 0:
		return fmt.Errorf("pluginhost: config: health interval %s, timeout %s: need both > 0", c.HealthInterval, c.HealthTimeout)
	case c.HealthTimeout >= c.HealthInterval:
		return fmt.Errorf("pluginhost: config: health timeout %s: need it shorter than the health interval %s", c.HealthTimeout, c.HealthInterval)
	case c.HealthFailures < 0:
		return fmt.Errorf("pluginhost: config: health failures %d: need > 0", c.HealthFailures)
	}
	return nil
}

// State is where a plugin is in its lifecycle.
type State string

const (
	// StateStarting: being launched (the first time, or again after a wait).
	StateStarting State = "starting"
	// StateRunning: launched, Info checked, configured, serving.
	StateRunning State = "running"
	// StateRestarting: exited or failed to launch; waiting out the backoff.
	StateRestarting State = "restarting"
	// StateRefused: never to be run as it is (insecure file, wrong kind, no
	// API version in common, invalid config); LastError says why.
	StateRefused State = "refused"
	// StateDisabled: installed but not used by the configuration.
	StateDisabled State = "disabled"
	// StateStopped: stopped by Stop.
	StateStopped State = "stopped"
)

// Status is one plugin's health.
type Status struct {
	ID   string // "<kind>-<name>"
	Kind sdk.Kind
	Name string
	Path string
	// Version and APIVersion are those of the last successful launch.
	Version    string
	APIVersion int
	State      State
	// Restarts counts the relaunches the supervisor scheduled.
	Restarts int
	// LastError is the last thing that went wrong: a failed launch, an
	// exit, a failed health check. A later success does not clear it.
	LastError string
	// FailedChecks counts the running process's health checks that failed
	// in a row; one that passes resets it.
	FailedChecks int
	// PID and StartedAt describe the running process (zero otherwise).
	PID       int
	StartedAt time.Time
}

// Manager launches and supervises the plugins of one plugin directory.
type Manager struct {
	cfg    Config
	log    hclog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	started   bool
	instances map[string]*instance
	stopOnce  sync.Once
}

// New validates cfg. Nothing starts before Start.
func New(cfg Config) (*Manager, error) {
	if err := cfg.checkAndSetDefaults(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Manager{
		cfg: cfg, log: cfg.Logger.Named("pluginhost"), ctx: ctx, cancel: cancel,
		instances: map[string]*instance{},
	}, nil
}

// Start discovers the plugins and launches each under its own supervisor.
// It returns once every plugin has had its first launch (running, refused,
// or failed and waiting to be relaunched), or when ctx ends; supervision
// goes on until Stop either way. The daemon registers Stop as a cleanup.
func (m *Manager) Start(ctx context.Context) error {
	m.mu.Lock()
	if m.started {
		m.mu.Unlock()
		return errors.New("pluginhost: already started")
	}
	m.started = true
	candidates, err := Discover(m.cfg.Dir)
	if err != nil {
		m.mu.Unlock()
		return err
	}
	var firsts []chan struct{}
	for _, c := range candidates {
		in := newInstance(m, c)
		m.instances[c.ID] = in
		if c.Refused == nil && m.cfg.Enabled != nil && !m.cfg.Enabled(c.ID) {
			in.mu.Lock()
			in.status.State = StateDisabled
			in.mu.Unlock()
			continue
		}
		first := make(chan struct{})
		firsts = append(firsts, first)
		m.wg.Add(1)
		go in.run(m.ctx, first)
	}
	for id := range m.cfg.Configs {
		if _, ok := m.instances[id]; !ok {
			m.log.Warn("configuration for a plugin that is not installed", "plugin", id, "dir", m.cfg.Dir)
		}
	}
	m.mu.Unlock()
	m.log.Info("plugins discovered", "dir", m.cfg.Dir, "count", len(candidates))

	for _, first := range firsts {
		select {
		case <-first:
		case <-ctx.Done():
			return fmt.Errorf("pluginhost: start: %w", ctx.Err())
		}
	}
	return nil
}

// Stop stops every plugin (closing its connection, killing it if it does
// not exit) and every supervisor, and returns when all processes are gone.
// Calling it again does nothing.
func (m *Manager) Stop() {
	m.stopOnce.Do(func() {
		m.mu.Lock() // no Enable starts a supervisor after this
		m.cancel()
		m.mu.Unlock()
		m.wg.Wait()
	})
}

// Enable starts supervising, without waiting for the launches, each plugin
// that used says the configuration now needs and that is disabled, and
// each used plugin that refused its configuration as invalid and has been
// given another since (through its handle's Configure). The daemon calls
// it on a reload, after configuring the plugins, so that a sink added with
// a format nothing used before, or a plugin whose settings were fixed,
// runs without a restart. A plugin no longer used keeps running.
func (m *Manager) Enable(used func(id string) bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.started || m.ctx.Err() != nil {
		return
	}
	for id, in := range m.instances {
		if in.refuse == nil && in.relaunchable(used(id)) {
			m.log.Info("supervising plugin after a reload", "plugin", id)
			m.wg.Add(1)
			go in.run(m.ctx, make(chan struct{}))
		}
	}
}

// Health returns every discovered plugin's status, sorted by ID.
func (m *Manager) Health() []Status {
	m.mu.Lock()
	ins := slices.Collect(maps.Values(m.instances))
	m.mu.Unlock()
	out := make([]Status, 0, len(ins))
	for _, in := range ins {
		out = append(out, in.health())
	}
	slices.SortFunc(out, func(a, b Status) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

// Names returns the names of the discovered plugins of kind, sorted (the
// logformats and recorders the daemon can choose from).
func (m *Manager) Names(kind sdk.Kind) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for _, in := range m.instances {
		if in.kind == kind {
			names = append(names, in.name)
		}
	}
	slices.Sort(names)
	return names
}

func (m *Manager) instance(kind sdk.Kind, name string) (*instance, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	in, ok := m.instances[string(kind)+"-"+name]
	if !ok {
		return nil, fmt.Errorf("pluginhost: %s plugin %q (%s%s-%s in %s): %w",
			kind, name, ExecutablePrefix, kind, name, m.cfg.Dir, ErrUnknownPlugin)
	}
	return in, nil
}

// Storage returns the stable handle of the storage plugin name ("local" for
// vigil-plugin-storage-local). It stays valid across restarts.
func (m *Manager) Storage(name string) (sdk.Storage, error) {
	in, err := m.instance(sdk.KindStorage, name)
	if err != nil {
		return nil, err
	}
	return storageHandle{handle{in}}, nil
}

// LogFormatter returns the stable handle of the logformat plugin name
// ("json" for vigil-plugin-logformat-json).
func (m *Manager) LogFormatter(name string) (sdk.LogFormatter, error) {
	in, err := m.instance(sdk.KindLogFormat, name)
	if err != nil {
		return nil, err
	}
	return logFormatterHandle{handle{in}}, nil
}

// Recorder returns the stable handle of the recorder plugin for protocol
// ("ssh" for vigil-plugin-recorder-ssh).
func (m *Manager) Recorder(protocol string) (sdk.Recorder, error) {
	in, err := m.instance(sdk.KindRecorder, protocol)
	if err != nil {
		return nil, err
	}
	return recorderHandle{handle{in}}, nil
}
