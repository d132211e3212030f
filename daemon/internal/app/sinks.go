package app

import (
	"context"
	"fmt"
	"sync"

	"github.com/vigilgw/vigil/daemon/internal/config"
	"github.com/vigilgw/vigil/daemon/internal/logsink"
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

// sinkConfig maps one [[log.sink]] onto the sink package's config.
func sinkConfig(s config.Sink) logsink.Config {
	return logsink.Config{
		Name: s.Name, Type: s.Type, Format: s.Format, Components: s.Components,
		Path: s.Path, MaxSize: int64(s.MaxSize), MaxAge: s.MaxAge, Retention: s.Retention,
		Address: s.Address, Transport: s.Transport, Framing: s.Framing, RFC: s.RFC,
		Facility: s.Facility, AppName: s.AppName, UDPMaxSize: s.UDPMaxSize, UDPOversize: s.UDPOversize,
		TLSCAFile: s.TLSCA, TLSCertFile: s.TLSCert, TLSKeyFile: s.TLSKey, TLSServerName: s.TLSServerName,
		TLSSkipVerify: s.TLSSkipVerify, BufferMaxBytes: int64(s.BufferMaxBytes), BufferMaxAge: s.BufferMaxAge,
	}
}

func (ss *sinkSet) apply(cfg *config.Config) error {
	var want []logsink.Config
	for _, s := range cfg.Log.Sinks {
		want = append(want, sinkConfig(s))
	}
	// Build every new sink first: a bad one refuses the whole reload and
	// the running sinks stay as they are.
	type pending struct {
		cfg  logsink.Config
		sink *logsink.Sink
	}
	var start []pending
	keep := map[string]bool{}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for _, c := range want {
		if r, ok := ss.running[c.Name]; ok && sameSink(r.cfg, c) {
			keep[c.Name] = true
			continue
		}
		f, err := ss.d.plugins.LogFormatter(c.Format)
		if err != nil {
			return fmt.Errorf("log.sink %q: format %q: %w", c.Name, c.Format, err)
		}
		// A changed sink must release its journal consumer before its
		// replacement can open it: stop the old one now.
		if r, ok := ss.running[c.Name]; ok {
			r.stop()
			delete(ss.running, c.Name)
		}
		sink, err := logsink.New(c, ss.d.bus, f, logsink.Options{LogDir: cfg.LogDir})
		if err != nil {
			return fmt.Errorf("log.sink %q: %w", c.Name, err)
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
		ctx, cancel := context.WithCancel(context.Background())
		r := &runningSink{cfg: p.cfg, sink: p.sink, cancel: cancel, done: make(chan struct{})}
		go func() {
			defer close(r.done)
			if err := p.sink.Run(ctx); err != nil && ctx.Err() == nil {
				ss.d.log.Error("log sink stopped", "sink", p.cfg.Name, "error", err)
			}
		}()
		ss.running[p.cfg.Name] = r
	}
	return logsink.ForgetRemoved(ss.d.bus, want)
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
