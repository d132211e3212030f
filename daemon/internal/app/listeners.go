package app

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// listen opens the TCP listener of the front end name ("ssh", "vnc",
// "wui"); its error is prefixed with name.
func listen(name, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return ln, nil
}

// serve lists ln on the status line (shown followed by its address) and
// runs run(ln) in the background until shutdown. An error other than
// closed, the one run returns once its server is closed, is fatal,
// prefixed with name.
func (d *Daemon) serve(name, shown string, ln net.Listener, run func(net.Listener) error, closed error) {
	d.addListening(shown + ln.Addr().String())
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := run(ln); err != nil && !errors.Is(err, closed) {
			d.fatal <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

// gateway is a session gateway (SSH, VNC) as shutdown sees it.
type gateway interface {
	Shutdown(ctx context.Context) error // stop accepting, wait for sessions
	Close() error
}

// stopGateway registers how a gateway stops: with the drainers it stops
// accepting first and its live sessions drain through the registry; with
// the cleanups it is closed.
func (d *Daemon) stopGateway(name string, gw gateway) {
	d.drainers = append(d.drainers, gw.Shutdown)
	d.onStop(name, func(context.Context) error { return gw.Close() })
}

func (d *Daemon) addListening(what string) {
	d.mu.Lock()
	d.listening = append(d.listening, what)
	d.mu.Unlock()
}
