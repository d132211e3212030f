package app

import (
	"context"
	"encoding/json"

	"github.com/vigilgw/vigil/daemon/internal/control"
)

// startControl opens the control socket vigilctl talks to.
func (d *Daemon) startControl() error {
	srv, err := control.Listen(d.Config().Control.Socket)
	if err != nil {
		return err
	}
	d.control = srv
	srv.Handle("status", func(context.Context, json.RawMessage) (any, error) {
		return map[string]any{"status": d.statusLine(), "started": d.started}, nil
	})
	srv.Handle("reload", func(context.Context, json.RawMessage) (any, error) {
		if err := d.reload(); err != nil {
			return nil, err
		}
		return map[string]string{"result": "configuration reloaded"}, nil
	})
	for name, fn := range d.controlHandlers() {
		srv.Handle(name, fn)
	}
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if err := srv.Serve(); err != nil {
			d.fatal <- err
		}
	}()
	d.onStop("control", srv.Shutdown)
	return nil
}
