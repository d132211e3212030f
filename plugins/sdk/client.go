package sdk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
)

// LaunchConfig says which plugin to start and how.
type LaunchConfig struct {
	// Kind is what the host launches the plugin as; a plugin that reports
	// another kind, or does not serve this kind's API, is refused.
	Kind Kind
	// Path is the plugin executable. Exactly one of Path and Reattach is set.
	Path string
	// Env is added to the host's environment for the plugin process.
	Env []string
	// Reattach connects to a plugin served by plugin.Serve in test mode
	// (sdktest's in-process harness) instead of starting a process.
	Reattach *plugin.ReattachConfig
	// Accept lists the API versions the host accepts for Kind; nil means
	// every version this SDK speaks (APIVersions). Each must be one of those.
	Accept []int
	// Config is the plugin's own table from vigil.toml, as JSON, passed to
	// Configure once Info checked out.
	Config []byte
	// Logger receives the plugin's log lines, re-logged structured, under
	// this logger's own name (go-plugin's chatter about the process goes
	// there too). nil discards them.
	Logger hclog.Logger
	// StartTimeout bounds the start and, separately, the Info and Configure
	// calls. Zero means 30 s.
	StartTimeout time.Duration
}

// APIVersionError: the plugin and the host share no API version.
type APIVersionError struct {
	Plugin []int // the versions the plugin speaks
	Host   []int // the versions the host accepts
}

func (e *APIVersionError) Error() string {
	return fmt.Sprintf("plugin speaks API versions %v, host accepts %v", e.Plugin, e.Host)
}

// Is makes errors.Is(err, ErrIncompatible) true.
func (e *APIVersionError) Is(target error) bool { return target == ErrIncompatible }

// KindError: the plugin is not of the kind it was launched as.
type KindError struct {
	Want Kind
	// Got is the kind the plugin reported, or "" when it does not even serve
	// Want's API.
	Got Kind
}

func (e *KindError) Error() string {
	if e.Got == "" {
		return fmt.Sprintf("plugin does not serve the %s API", e.Want)
	}
	return fmt.Sprintf("plugin reports kind %q, launched as %q", e.Got, e.Want)
}

// Is makes errors.Is(err, ErrIncompatible) true.
func (e *KindError) Is(target error) bool { return target == ErrIncompatible }

// Client is one launched plugin: the process, the connection and the typed
// interface. It does not restart anything; the host's supervisor launches a
// new Client when Done is closed.
type Client struct {
	pc      *plugin.Client
	rpc     plugin.ClientProtocol
	cmd     *exec.Cmd
	kind    Kind
	impl    Plugin
	done    <-chan struct{}
	info    Info
	version int
	pid     int
	side    []*net.UnixConn // the side channels the typed client uses; Kill closes them
}

// Launch starts the plugin (or attaches to it), negotiates an API version,
// calls Info and checks the kind and the versions it reports, then calls
// Configure with cfg.Config. On any failure the process is stopped.
//
// Errors name no component: the caller knows which plugin it launched and
// prefixes its own ("pluginhost: storage-foo: plugin speaks API versions
// [99], host accepts [1]"). An *APIVersionError or *KindError (both
// errors.Is ErrIncompatible) means the plugin can never be used as
// launched; an error wrapping ErrInvalidConfig comes from Configure.
func Launch(ctx context.Context, cfg LaunchConfig) (*Client, error) {
	if (cfg.Path == "") == (cfg.Reattach == nil) {
		return nil, errors.New("launch: exactly one of Path and Reattach must be set")
	}
	accept := cfg.Accept
	if accept == nil {
		accept = APIVersions(cfg.Kind)
	}
	sets, err := pluginSets(cfg.Kind, nil, accept)
	if err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	logger := cfg.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	pcfg := &plugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: sets,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		Logger:           fixedNameLogger{logger},
		StartTimeout:     timeout,
		GRPCDialOptions:  dialOptions(),
	}
	switch cfg.Kind {
	case KindLogFormat:
		pcfg.GRPCDialOptions = append(pcfg.GRPCDialOptions, logFormatDialOptions()...)
	case KindStorage:
		pcfg.GRPCDialOptions = append(pcfg.GRPCDialOptions, storageDialOptions()...)
	}
	c := &Client{kind: cfg.Kind}
	var side []*net.UnixConn // the host's ends of the side channels, until a client owns them
	defer func() {
		for _, sc := range side {
			sc.Close()
		}
	}()
	if cfg.Path != "" {
		c.cmd = exec.Command(cfg.Path)
		c.cmd.Env = append(append(c.cmd.Env, cfg.Env...), LogLevelEnv+"="+logger.GetLevel().String())
		if n := sideChannelCount(cfg.Kind); n > 0 {
			host, child, err := newSideChannels(n)
			if err != nil {
				return nil, fmt.Errorf("launch: %w", err)
			}
			side = host
			c.cmd.ExtraFiles = child
			c.cmd.Env = append(c.cmd.Env, sideChannelsEnv+"="+strconv.Itoa(n))
		}
		setProcessAttributes(c.cmd)
		pcfg.Cmd = c.cmd
		pcfg.AutoMTLS = true
	} else {
		// go-plugin negotiates no version when it attaches: the server chose
		// one already.
		set, ok := sets[cfg.Reattach.ProtocolVersion]
		if !ok {
			return nil, &APIVersionError{Plugin: []int{cfg.Reattach.ProtocolVersion}, Host: accept}
		}
		pcfg.Reattach = cfg.Reattach
		pcfg.Plugins = set
	}
	c.pc = plugin.NewClient(pcfg)
	fail := func(err error) (*Client, error) {
		c.Kill()
		return nil, err
	}

	rpc, err := c.pc.Client()
	if c.cmd != nil {
		// The plugin has its copies now (or never will).
		for _, f := range c.cmd.ExtraFiles {
			f.Close()
		}
	}
	if err != nil {
		return fail(startError(cfg, accept, err))
	}
	c.rpc = rpc
	if rc := c.pc.ReattachConfig(); rc != nil && c.cmd != nil {
		c.pid = rc.Pid
	}
	raw, err := rpc.Dispense(string(cfg.Kind))
	if err != nil {
		return fail(fmt.Errorf("dispense %s: %w", cfg.Kind, err))
	}
	c.impl = raw.(Plugin)
	c.done = raw.(doneNotifier).connDone()
	if u, ok := raw.(sideChannelUser); ok && len(side) > 0 {
		u.useSideChannels(side)
		c.side, side = side, nil
	}

	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	info, err := c.impl.Info(callCtx)
	if err != nil {
		var re *RemoteError
		if errors.As(err, &re) && re.Sentinel == nil && re.Status != nil && re.Status.Code() == codes.Unimplemented {
			return fail(&KindError{Want: cfg.Kind})
		}
		return fail(fmt.Errorf("info: %w", err))
	}
	if info.Kind != cfg.Kind {
		return fail(&KindError{Want: cfg.Kind, Got: info.Kind})
	}
	c.version = c.pc.NegotiatedVersion()
	if !slices.Contains(info.APIVersions, c.version) {
		return fail(&APIVersionError{Plugin: info.APIVersions, Host: accept})
	}
	c.info = info
	if err := c.impl.Configure(callCtx, cfg.Config); err != nil {
		return fail(fmt.Errorf("configure: %w", err))
	}
	return c, nil
}

// versionInHandshake finds the version a plugin offered in go-plugin's
// error for a failed version negotiation ("... Plugin version: 99, Client
// versions: [1]"), the only place it is reported. Pinned to go-plugin
// v1.8.0's wording; if that changes, the original error is kept.
var versionInHandshake = regexp.MustCompile(`incompatible API version with plugin\. Plugin version: (\d+)`)

func startError(cfg LaunchConfig, accept []int, err error) error {
	if m := versionInHandshake.FindStringSubmatch(err.Error()); m != nil {
		v, _ := strconv.Atoi(m[1])
		return &APIVersionError{Plugin: []int{v}, Host: accept}
	}
	if cfg.Path != "" {
		return fmt.Errorf("start %s: %w", cfg.Path, err)
	}
	return fmt.Errorf("attach: %w", err)
}

// Kind is the kind the plugin was launched as.
func (c *Client) Kind() Kind { return c.kind }

// Info is what the plugin reported at launch.
func (c *Client) Info() Info { return c.info }

// APIVersion is the API version negotiated with the plugin.
func (c *Client) APIVersion() int { return c.version }

// PID is the plugin process's id, or 0 for a plugin served in process.
func (c *Client) PID() int { return c.pid }

// Plugin is the typed client as the Plugin interface.
func (c *Client) Plugin() Plugin { return c.impl }

// Storage returns the typed client of a storage plugin.
func (c *Client) Storage() (Storage, error) {
	if s, ok := c.impl.(Storage); ok {
		return s, nil
	}
	return nil, fmt.Errorf("sdk: the plugin was launched as %s, not storage", c.kind)
}

// LogFormatter returns the typed client of a logformat plugin.
func (c *Client) LogFormatter() (LogFormatter, error) {
	if f, ok := c.impl.(LogFormatter); ok {
		return f, nil
	}
	return nil, fmt.Errorf("sdk: the plugin was launched as %s, not logformat", c.kind)
}

// Recorder returns the typed client of a recorder plugin.
func (c *Client) Recorder() (Recorder, error) {
	if r, ok := c.impl.(Recorder); ok {
		return r, nil
	}
	return nil, fmt.Errorf("sdk: the plugin was launched as %s, not recorder", c.kind)
}

// Done is closed when the plugin process has exited (or, in process, when
// its server stopped).
func (c *Client) Done() <-chan struct{} { return c.done }

// ExitReason says how the process ended ("exit status 2", "signal:
// killed") once Done is closed, and "" before or for a plugin in process.
func (c *Client) ExitReason() string {
	if c.cmd == nil || c.done == nil {
		return ""
	}
	select {
	case <-c.done:
	default:
		return ""
	}
	// go-plugin's Wait set ProcessState before it closed done.
	if c.cmd.ProcessState == nil {
		return ""
	}
	return c.cmd.ProcessState.String()
}

// Ping asks the plugin's gRPC server whether it is serving (the health
// service go-plugin registers for every plugin), within ctx. Unlike
// go-plugin's own Ping, it gives up when ctx ends: a process that is
// stopped, deadlocked or stuck in a system call never answers. A ctx that
// ended is in the error chain (errors.Is(err, context.DeadlineExceeded)),
// as is ErrPluginUnavailable when the connection is gone.
func (c *Client) Ping(ctx context.Context) error {
	gc, ok := c.rpc.(*plugin.GRPCClient)
	if !ok {
		return fmt.Errorf("sdk: ping: %s plugin: no gRPC connection", c.kind)
	}
	res, err := grpc_health_v1.NewHealthClient(gc.Conn).Check(ctx,
		&grpc_health_v1.HealthCheckRequest{Service: plugin.GRPCServiceName})
	if err != nil {
		// The caller's ctx tells a timeout from a connection that went away
		// (Unavailable, or Canceled by its closing).
		return fmt.Errorf("sdk: ping: %w", fromStatus(ctx, context.Background(), err))
	}
	if st := res.GetStatus(); st != grpc_health_v1.HealthCheckResponse_SERVING {
		return fmt.Errorf("sdk: ping: plugin reports %s", st)
	}
	return nil
}

// killGrace bounds Kill's graceful close. go-plugin asks the plugin to shut
// down and waits for the answer without a deadline (then two seconds for
// the exit, then kills it); a process that stopped answering never gives
// that answer.
const killGrace = 5 * time.Second

// Kill stops the plugin: it closes the connection, which makes the plugin
// exit, and kills the process if it has not exited two seconds later, or if
// it does not even take the close within killGrace. It returns once the
// process is gone. Calling it again does nothing. For a plugin attached in
// process it only closes the connection.
func (c *Client) Kill() {
	if gc, ok := c.rpc.(*plugin.GRPCClient); ok && c.cmd == nil {
		// Attached in test mode: go-plugin leaves the server to whoever
		// started it (sdktest stops it when the test ends); only the
		// connection is ours to close. Its Close would also ask the server
		// to shut down, racing with that owner.
		_ = gc.Conn.Close()
	}
	for _, sc := range c.side {
		sc.Close()
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		c.pc.Kill()
	}()
	timer := time.NewTimer(killGrace)
	defer timer.Stop()
	select {
	case <-closed:
	case <-timer.C:
		// The process's exit ends go-plugin's wait for the answer.
		c.KillProcess()
		<-closed
	}
}

// KillProcess sends SIGKILL to the plugin process at once, without the
// graceful close Kill starts with: for a process that stopped answering.
// Done is closed once it is gone; Kill still releases the connection. It
// does nothing for a plugin attached in process or a process already gone.
func (c *Client) KillProcess() {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	// An error means the process is gone already: nothing left to do.
	_ = c.cmd.Process.Kill()
}

// fixedNameLogger keeps the name the host gave the plugin's logger:
// go-plugin would otherwise add the executable's file name to it.
type fixedNameLogger struct{ hclog.Logger }

func (l fixedNameLogger) Named(string) hclog.Logger      { return l }
func (l fixedNameLogger) ResetNamed(string) hclog.Logger { return l }
