package pluginhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// instance is one discovered plugin and its supervisor.
type instance struct {
	m      *Manager
	id     string
	kind   sdk.Kind
	name   string
	path   string
	log    hclog.Logger // the plugin's own output
	refuse error        // set by discovery: never launch

	mu     sync.Mutex
	config []byte
	live   *sdk.Client
	status Status
	// configRefused: the plugin refused refusedConfig as invalid, so a
	// reload that gives it another may launch it again (relaunchable).
	refusedConfig []byte
	configRefused bool
}

func newInstance(m *Manager, c Candidate) *instance {
	return &instance{
		m: m, id: c.ID, kind: c.Kind, name: c.Name, path: c.Path, refuse: c.Refused,
		log:    m.cfg.Logger.Named("plugin." + c.ID),
		config: m.cfg.Configs[c.ID],
		status: Status{ID: c.ID, Kind: c.Kind, Name: c.Name, Path: c.Path, State: StateStarting},
	}
}

func (in *instance) health() Status {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.status
}

// client returns the live client, or an error wrapping ErrPluginUnavailable
// that says why there is none.
func (in *instance) client() (*sdk.Client, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.live != nil {
		return in.live, nil
	}
	why := string(in.status.State)
	if in.status.LastError != "" {
		why += ": " + in.status.LastError
	}
	return nil, fmt.Errorf("pluginhost: %s: %w (%s)", in.id, ErrPluginUnavailable, why)
}

// setConfig replaces the configuration used from now on, for this and every
// later launch.
func (in *instance) setConfig(b []byte) {
	in.mu.Lock()
	in.config = b
	in.mu.Unlock()
}

// run supervises the plugin until ctx ends: launch, wait for the exit,
// back off, launch again. first is closed once the first launch has an
// outcome.
func (in *instance) run(ctx context.Context, first chan<- struct{}) {
	defer in.m.wg.Done()
	var once sync.Once
	reported := func() { once.Do(func() { close(first) }) }
	defer reported()

	if in.refuse != nil {
		in.refused(in.refuse)
		return
	}
	attempt := 0
	for {
		c, config, err := in.launch(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			in.stopped()
			return
		case err != nil && errors.Is(err, sdk.ErrInvalidConfig):
			in.mu.Lock()
			in.configRefused, in.refusedConfig = true, config
			in.mu.Unlock()
			in.refused(err)
			return
		case err != nil && errors.Is(err, sdk.ErrIncompatible):
			in.refused(err)
			return
		case err != nil:
			in.log.Error("plugin failed to launch", "error", err)
			in.setLastError(err.Error())
		default:
			started := time.Now()
			in.running(c, started)
			reported()
			stopWatchdog := in.watchdog(ctx, c)
			select {
			case <-c.Done():
			case <-ctx.Done():
				stopWatchdog()
				in.mu.Lock()
				in.live = nil
				in.mu.Unlock()
				c.Kill()
				in.stopped()
				in.emit("plugin.exit", event.LevelInfo, fmt.Sprintf("plugin %s stopped", in.id), "stopped", "vigild is stopping", nil)
				return
			}
			hung := stopWatchdog()
			reason := c.ExitReason()
			if reason == "" {
				reason = "connection lost"
			}
			if hung != "" {
				reason = "killed by vigild: it stopped answering health checks (" + hung + "); " + reason
			}
			in.mu.Lock()
			in.live = nil
			in.status.PID = 0
			in.status.FailedChecks = 0
			in.status.LastError = "exited: " + reason
			in.mu.Unlock()
			// The process is gone; Kill releases what go-plugin holds for it.
			c.Kill()
			ran := time.Since(started)
			in.log.Error("plugin exited", "reason", reason, "ran", ran.String())
			in.emit("plugin.exit", event.LevelWarning, fmt.Sprintf("plugin %s exited: %s", in.id, reason), "failure", reason,
				map[string]string{"pid": strconv.Itoa(c.PID()), "uptime": ran.Round(time.Millisecond).String()})
			if ran >= in.m.cfg.Backoff.StableAfter {
				attempt = 0
			}
		}
		reported()

		attempt++
		wait := in.m.cfg.Backoff.delay(attempt)
		in.mu.Lock()
		in.status.State = StateRestarting
		in.status.Restarts++
		restarts := in.status.Restarts
		in.mu.Unlock()
		in.log.Info("relaunching plugin", "attempt", attempt, "backoff", wait.String())
		in.emit("plugin.restart", event.LevelInfo, fmt.Sprintf("plugin %s restarts in %s (attempt %d)", in.id, wait, attempt), "", "",
			map[string]string{"attempt": strconv.Itoa(attempt), "backoff": wait.String(), "restarts": strconv.Itoa(restarts)})
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			in.stopped()
			return
		}
	}
}

// watchdog checks the running process c until it exits or ctx ends (see
// watch). The returned func stops it, waits for it, and says why it killed
// the process, or "" if it did not.
func (in *instance) watchdog(ctx context.Context, c *sdk.Client) (stop func() (hung string)) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var hung string
	go func() {
		defer close(done)
		hung = in.watch(ctx, c)
	}()
	return func() string {
		cancel()
		<-done
		return hung
	}
}

// watch pings c every HealthInterval, each ping bounded by HealthTimeout.
// After HealthFailures failures in a row the process is hung: watch
// reports it, kills it (SIGKILL at once: a hung process would not act on
// a request to exit) and returns why; the supervisor sees the exit and
// relaunches. It returns "" when c exits by itself or ctx ends.
func (in *instance) watch(ctx context.Context, c *sdk.Client) string {
	cfg := &in.m.cfg
	ticker := time.NewTicker(cfg.HealthInterval)
	defer ticker.Stop()
	failed := 0
	for {
		select {
		case <-ctx.Done():
			return ""
		case <-c.Done():
			return ""
		case <-ticker.C:
		}
		pingCtx, cancel := context.WithTimeout(ctx, cfg.HealthTimeout)
		err := c.Ping(pingCtx)
		cancel()
		select {
		case <-ctx.Done():
			return "" // stopping: the check did not finish
		case <-c.Done():
			return "" // exited by itself: the supervisor says how
		default:
		}
		if err == nil {
			if failed > 0 {
				in.m.log.Info("plugin answers health checks again", "plugin", in.id, "pid", c.PID(), "failed", failed)
			}
			failed = 0
			in.checkFailed(0, "", err)
			continue
		}
		failed++
		in.checkFailed(failed, fmt.Sprintf("health check %d of %d failed: %v", failed, cfg.HealthFailures, err), err)
		if failed < cfg.HealthFailures {
			in.m.log.Warn("plugin health check failed", "plugin", in.id, "pid", c.PID(),
				"failed", failed, "of", cfg.HealthFailures, "error", err)
			continue
		}
		hung := fmt.Sprintf("%d health checks in a row failed, the last: %v", failed, err)
		in.m.log.Error("plugin unresponsive; killing it", "plugin", in.id, "pid", c.PID(), "reason", hung)
		in.emit("plugin.unresponsive", event.LevelError,
			fmt.Sprintf("plugin %s (pid %d) stopped answering; vigild kills and relaunches it", in.id, c.PID()),
			"failure", hung, map[string]string{"pid": strconv.Itoa(c.PID())})
		c.KillProcess()
		return hung
	}
}

// checkFailed records the number of health checks failed in a row and,
// when one failed, why; then it tells Config.checked about err.
func (in *instance) checkFailed(n int, msg string, err error) {
	in.mu.Lock()
	in.status.FailedChecks = n
	if msg != "" {
		in.status.LastError = msg
	}
	in.mu.Unlock()
	if in.m.cfg.checked != nil {
		in.m.cfg.checked(in.id, err)
	}
}

// relaunchable says whether a supervisor should start again for a plugin
// that has none: one that was disabled and is used now, or one that was
// refused for its configuration and has been given another since. If so,
// it marks the plugin starting, so that it is not started twice.
func (in *instance) relaunchable(used bool) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	switch {
	case in.status.State == StateDisabled && used:
	case in.status.State == StateRefused && in.configRefused && used && !bytes.Equal(in.refusedConfig, in.config):
		in.configRefused = false
	default:
		return false
	}
	in.status.State = StateStarting
	return true
}

// launch starts one process with the current configuration, which it
// returns too.
func (in *instance) launch(ctx context.Context) (*sdk.Client, []byte, error) {
	in.mu.Lock()
	in.status.State = StateStarting
	config := in.config
	in.mu.Unlock()
	c, err := sdk.Launch(ctx, sdk.LaunchConfig{
		Kind:         in.kind,
		Path:         in.path,
		Accept:       in.m.cfg.Accept[in.kind],
		Config:       config,
		Logger:       in.log,
		StartTimeout: in.m.cfg.StartTimeout,
	})
	if err != nil {
		return nil, config, fmt.Errorf("pluginhost: %s: %w", in.id, err)
	}
	return c, config, nil
}

func (in *instance) running(c *sdk.Client, started time.Time) {
	info := c.Info()
	in.mu.Lock()
	in.live = c
	in.status.State = StateRunning
	in.status.PID = c.PID()
	in.status.StartedAt = started
	in.status.Version = info.Version
	in.status.APIVersion = c.APIVersion()
	in.mu.Unlock()
	in.m.log.Info("plugin running", "plugin", in.id, "pid", c.PID(), "version", info.Version, "api_version", c.APIVersion())
	in.emit("plugin.start", event.LevelInfo,
		fmt.Sprintf("plugin %s started (pid %d, version %s, API %d)", in.id, c.PID(), info.Version, c.APIVersion()), "success", "",
		map[string]string{"pid": strconv.Itoa(c.PID()), "version": info.Version, "api_version": strconv.Itoa(c.APIVersion())})
}

func (in *instance) refused(err error) {
	in.mu.Lock()
	in.status.State = StateRefused
	in.status.LastError = err.Error()
	in.mu.Unlock()
	in.m.log.Error("plugin refused", "plugin", in.id, "error", err)
	in.emit("plugin.refused", event.LevelError, fmt.Sprintf("plugin %s refused", in.id), "refused", err.Error(), nil)
}

func (in *instance) stopped() {
	in.mu.Lock()
	in.status.State = StateStopped
	in.status.PID = 0
	in.status.FailedChecks = 0
	in.mu.Unlock()
}

func (in *instance) setLastError(msg string) {
	in.mu.Lock()
	in.status.LastError = msg
	in.mu.Unlock()
}

// emit sends one event about this plugin.
func (in *instance) emit(metric, level, message, result, reason string, extra map[string]string) {
	x := map[string]string{"plugin": in.id, "kind": string(in.kind), "name": in.name}
	for k, v := range extra {
		x[k] = v
	}
	in.m.cfg.Emit(event.Event{
		Time:       time.Now().UTC(),
		MetricName: metric,
		Level:      level,
		Message:    message,
		Component:  "plugins",
		Result:     result,
		Reason:     reason,
		Extra:      x,
	})
}
