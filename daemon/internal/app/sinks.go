package app

import (
	"context"
	"fmt"
	"sync"

	"github.com/vigilgw/vigil/daemon/internal/config"
	"github.com/vigilgw/vigil/daemon/internal/logsink"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// sinkSet runs one logsink.Sink per [[log.sink]]. A reload stops the sinks
// whose configuration changed and starts the new ones; a sink that keeps
// its name resumes from its journal cursor, so a reload loses nothing.
type sinkSet struct {
	d       *Daemon
	mu      sync.Mutex
	running map[string]*runningSink
}

type runningSink struct {
	cfg    logsink.Config
	sink   *logsink.Sink
	cancel context.CancelFunc
	done   chan struct{}
}

func (d *Daemon) startSinks(ctx context.Context) error {
	d.sinks = &sinkSet{d: d, running: map[string]*runningSink{}}
	if err := d.sinks.apply(d.Config()); err != nil {
		return err
	}
	d.reloaders = append(d.reloaders, d.sinks.apply)
	d.onStop("sinks", func(context.Context) error { d.sinks.stopAll(); return nil })
	return nil
}

func (ss *sinkSet) apply(cfg *config.Config) error {
	var want []logsink.Config
	for _, s := range cfg.Log.Sinks {
		want = append(want, logsink.FromConfig(s))
	}
	// Build every new sink first: a bad one refuses the whole reload and
	// the running sinks stay as they are.
	type pending struct {
		cfg  logsink.Config
		sink *logsink.Sink
	}
	var start []pending
	// replaced are the running sinks stopped for a changed configuration:
	// if the reload fails they run again as they were.
	var replaced []*runningSink
	keep := map[string]bool{}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	fail := func(err error) error {
		for _, p := range start {
			discardSink(p.sink)
		}
		for _, r := range replaced {
			ss.restart(r.cfg)
		}
		return err
	}
	for _, c := range want {
		if r, ok := ss.running[c.Name]; ok && sameSink(r.cfg, c) {
			keep[c.Name] = true
			continue
		}
		f, err := ss.d.plugins.LogFormatter(c.Format)
		if err != nil {
			return fail(fmt.Errorf("log.sink %q: format %q: %w", c.Name, c.Format, err))
		}
		// A changed sink must release its journal consumer before its
		// replacement can open it: stop the old one now.
		if r, ok := ss.running[c.Name]; ok {
			r.stop()
			delete(ss.running, c.Name)
			replaced = append(replaced, r)
		}
		sink, err := logsink.New(c, ss.d.bus, f, logsink.Options{LogDir: cfg.LogDir})
		if err != nil {
			return fail(fmt.Errorf("log.sink %q: %w", c.Name, err))
		}
		start = append(start, pending{c, sink})
		keep[c.Name] = true
	}
	for name, r := range ss.running {
		if !keep[name] {
			r.stop()
			delete(ss.running, name)
		}
	}
	for _, p := range start {
		ss.run(p.cfg, p.sink)
	}
	return logsink.ForgetRemoved(ss.d.bus, want)
}

// run starts sink; ss.mu is held.
func (ss *sinkSet) run(cfg logsink.Config, sink *logsink.Sink) {
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningSink{cfg: cfg, sink: sink, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		if err := sink.Run(ctx); err != nil && ctx.Err() == nil {
			ss.d.log.Error("log sink stopped", "sink", cfg.Name, "error", err)
		}
	}()
	ss.running[cfg.Name] = r
}

// restart runs a sink stopped by a reload that failed, as it ran before
// (in the running configuration's log_dir); ss.mu is held. It resumes from
// its journal cursor.
func (ss *sinkSet) restart(cfg logsink.Config) {
	f, err := ss.d.plugins.LogFormatter(cfg.Format)
	if err == nil {
		var sink *logsink.Sink
		if sink, err = logsink.New(cfg, ss.d.bus, f, logsink.Options{LogDir: ss.d.Config().LogDir}); err == nil {
			ss.run(cfg, sink)
			return
		}
	}
	// Its events wait in the journal for the next reload or start.
	ss.d.log.Error("log sink could not be restarted after a failed reload", "sink", cfg.Name, "error", err)
	ss.d.publish(event.Event{MetricName: "log.sink.stopped", Level: event.LevelError, Component: "core",
		Message: fmt.Sprintf("log sink %s could not be restarted after a failed reload; its events wait in the journal", cfg.Name),
		Reason:  err.Error(), Extra: map[string]string{"sink": cfg.Name}})
}

// discardSink releases a sink that was built but never run (its writer
// and journal consumer).
func discardSink(sink *logsink.Sink) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = sink.Run(ctx)
}

func (r *runningSink) stop() {
	r.cancel()
	<-r.done
}

func (ss *sinkSet) stopAll() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for name, r := range ss.running {
		r.stop()
		delete(ss.running, name)
	}
}

// status is the sinks' state for vigilctl and the WUI.
func (ss *sinkSet) status() []logsink.Status {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	var out []logsink.Status
	for _, r := range ss.running {
		out = append(out, r.sink.Status())
	}
	return out
}

func sameSink(a, b logsink.Config) bool {
	return fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b)
}
