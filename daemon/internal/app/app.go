package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilgw/vigil/daemon/internal/admission"
	"github.com/vigilgw/vigil/daemon/internal/config"
	"github.com/vigilgw/vigil/daemon/internal/control"
	"github.com/vigilgw/vigil/daemon/internal/events"
	"github.com/vigilgw/vigil/daemon/internal/events/indexer"
	"github.com/vigilgw/vigil/daemon/internal/keys"
	"github.com/vigilgw/vigil/daemon/internal/layout"
	"github.com/vigilgw/vigil/daemon/internal/pluginhost"
	"github.com/vigilgw/vigil/daemon/internal/sdnotify"
	"github.com/vigilgw/vigil/daemon/internal/sessions"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/daemon/internal/version"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// Options are what vigild's command line gives the daemon.
type Options struct {
	ConfigPath string
	// Stdout receives the one-time admin password and the addresses.
	Stdout io.Writer
	Logger hclog.Logger
}

// Daemon is one running vigild.
type Daemon struct {
	opts    Options
	log     hclog.Logger
	notify  *sdnotify.Notifier
	started time.Time

	mu  sync.RWMutex // guards cfg during reloads
	cfg *config.Config

	layout layout.Layout
	keys   *keys.Set
	store  *store.Store
	bus    *events.Bus

	// cleanups run in reverse order on shutdown (Boundary's habit): each
	// subsystem that starts registers how to stop it.
	cleanups []cleanup
	// drainers stop accepting and wait for live work, before cleanups; they
	// run in reverse order of registration.
	drainers []func(ctx context.Context) error
	// reloaders apply a new configuration to a running subsystem.
	reloaders []func(cfg *config.Config) error

	sessions  *sessions.Registry
	admission *admission.Controller // guarded by mu: rebuilt on reload
	listening []string              // what the status line reports
	pipeline  pipelineHook
	plugins   *pluginhost.Manager
	sinks     *sinkSet

	control *control.Server
	wg      sync.WaitGroup
	fatal   chan error
}

type cleanup struct {
	name string
	fn   func(ctx context.Context) error
}

func (d *Daemon) onStop(name string, fn func(ctx context.Context) error) {
	d.cleanups = append(d.cleanups, cleanup{name, fn})
}

// Config is the running configuration.
func (d *Daemon) Config() *config.Config {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.cfg
}

// Run starts vigild and blocks until SIGTERM/SIGINT (or ctx ends), then
// drains and stops.
func Run(ctx context.Context, opts Options) error {
	if opts.Logger == nil {
		opts.Logger = hclog.New(&hclog.LoggerOptions{Name: "vigild", Output: os.Stderr})
	}
	if opts.Stdout == nil {
		opts.Stdout = os.Stdout
	}
	d := &Daemon{opts: opts, log: opts.Logger, notify: sdnotify.New(), started: time.Now(), fatal: make(chan error, 4)}
	cfg, _, err := config.Load(opts.ConfigPath)
	if err != nil {
		return err
	}
	d.cfg = cfg
	d.log.SetLevel(hclog.LevelFromString(cfg.LogLevel))

	// SIGHUP and SIGTERM are caught from the start, so a signal during
	// start-up is never the default action (which would kill us unclean).
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)

	startErr := d.start(ctx)
	if startErr != nil {
		_ = d.notify.Status("start failed: %v", startErr)
		d.stop(startErr)
		return startErr
	}
	if err := d.notify.Ready(); err != nil {
		d.log.Warn("sd_notify", "error", err)
	}
	_ = d.notify.Status("%s", d.statusLine())
	d.publish(event.Event{MetricName: "service.start", Component: "core",
		Message: fmt.Sprintf("vigild %s started", version.Version), Extra: map[string]string{"version": version.Version}})

	watchCtx, stopWatch := context.WithCancel(ctx)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := d.notify.Watchdog(watchCtx, d.healthy); err != nil {
			d.log.Warn("watchdog", "error", err)
		}
	}()

	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-d.fatal:
			runErr = err
			d.log.Error("fatal", "error", err)
			break loop
		case s := <-sigs:
			if s == syscall.SIGHUP {
				d.reload()
				continue
			}
			d.log.Info("signal received, draining", "signal", s.String())
			break loop
		}
	}
	stopWatch()
	d.stop(runErr)
	return runErr
}

// healthy is what the watchdog checks before each keep-alive: the store must
// answer. A wedged daemon stops sending WATCHDOG=1 and systemd restarts it.
func (d *Daemon) healthy() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := d.store.SchemaVersion(ctx)
	return err == nil
}

func (d *Daemon) statusLine() string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	s := "ready"
	for _, l := range d.listening {
		s += "; " + l
	}
	return s
}

// publish emits an event; failing to record one is logged loudly, since
// an accepted event must never be lost silently.
func (d *Daemon) publish(e event.Event) {
	if d.bus == nil {
		d.log.Error("event before the bus opened", "metric", e.MetricName, "message", e.Message)
		return
	}
	if err := d.bus.Publish(e); err != nil {
		d.log.Error("publishing event", "metric", e.MetricName, "error", err)
	}
}

func (d *Daemon) start(ctx context.Context) error {
	cfg := d.Config()
	d.layout = layout.Layout{StateDir: cfg.StateDir, LogDir: cfg.LogDir}
	if err := d.layout.Ensure(); err != nil {
		return err
	}
	ks, err := keys.Ensure(d.layout.Keys())
	if err != nil {
		return err
	}
	d.keys = ks

	st, err := store.Open(ctx, d.layout.Store(), store.Options{
		SealingKey: ks.Sealing[:],
		Lockout:    store.LockoutPolicy{MaxFailures: cfg.WUI.LockoutAttempts, Duration: cfg.WUI.LockoutDuration},
	})
	if err != nil {
		return err
	}
	d.store = st
	d.onStop("store", func(context.Context) error { return st.Close() })

	host, _ := os.Hostname()
	bus, err := events.Open(events.Config{Dir: d.layout.Events(), Host: host, ServerID: cfg.ServerID, Process: "vigild"})
	if err != nil {
		return err
	}
	d.bus = bus
	d.onStop("events", func(context.Context) error { return bus.Close() })

	idx, err := indexer.New(bus, st, indexer.Config{Retention: cfg.Log.Retention})
	if err != nil {
		return err
	}
	d.goRun("indexer", idx.Run)

	boot, err := st.Bootstrap(ctx)
	if err != nil {
		return err
	}
	if err := d.endStaleSessions(ctx); err != nil {
		return err
	}

	for _, step := range d.subsystems() {
		if err := step.start(ctx); err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
	}
	if err := d.startControl(); err != nil {
		return err
	}

	out := d.opts.Stdout
	if boot.Created {
		fmt.Fprintf(out, "\nVigil is initialised. The web UI administrator is shown once:\n  user:     %s\n  password: %s\n(change it with: vigilctl users passwd %s --password-stdin)\n\n",
			boot.AdminName, boot.AdminPassword, boot.AdminName)
		d.publish(event.Event{MetricName: "account.bootstrap", Component: "core", UserName: boot.AdminName,
			Message: "appliance initialised; administrator account created"})
	}
	fmt.Fprintf(out, "vigild %s %s\n", version.Version, d.statusLine())
	return nil
}

// subsystem is one step of start-up, in order.
type subsystem struct {
	name  string
	start func(ctx context.Context) error
}

// goRun runs fn in the background until shutdown; an error it returns
// while the daemon runs is fatal.
func (d *Daemon) goRun(name string, fn func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		defer close(done)
		if err := fn(ctx); err != nil && !errors.Is(err, context.Canceled) {
			d.fatal <- fmt.Errorf("%s: %w", name, err)
		}
	}()
	d.onStop(name, func(context.Context) error { cancel(); <-done; return nil })
}

// stop drains live sessions up to shutdown_grace, then runs the cleanups in
// reverse order of start.
func (d *Daemon) stop(cause error) {
	_ = d.notify.Stopping()
	_ = d.notify.Status("draining")
	cfg := d.Config()
	grace := cfg.ShutdownGrace
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	// Reverse order: the gateways (registered last) stop accepting and wait
	// for their sessions first; the registry's drain then kills leftovers.
	for i := len(d.drainers) - 1; i >= 0; i-- {
		if err := d.drainers[i](ctx); err != nil {
			d.log.Warn("drain", "error", err)
		}
	}
	cancel()
	if d.bus != nil {
		msg := "vigild stopped"
		if cause != nil {
			msg = "vigild stopped: " + cause.Error()
		}
		d.publish(event.Event{MetricName: "service.stop", Component: "core", Message: msg})
	}
	stopCtx, cancelStop := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelStop()
	for i := len(d.cleanups) - 1; i >= 0; i-- {
		c := d.cleanups[i]
		if err := c.fn(stopCtx); err != nil {
			d.log.Warn("stopping", "subsystem", c.name, "error", err)
		}
	}
	d.wg.Wait()
}
