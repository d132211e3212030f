package app

import (
	"context"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// slogger is a log/slog logger for the parts of vigild that log through
// slog (the SSH and VNC proxies, the web UI): their lines go to vigild's
// own hclog logger under name, so they follow log_level and come out in
// the same form as every other line (JSON under systemd).
func (d *Daemon) slogger(name string) *slog.Logger {
	return slog.New(&hclogHandler{log: d.log.Named(name)})
}

// hclogHandler is a slog.Handler writing to an hclog.Logger.
type hclogHandler struct {
	log   hclog.Logger
	attrs []any  // from WithAttrs, flattened with their groups
	group string // from WithGroup: "a.b." prefix for later keys
}

func hclogLevel(l slog.Level) hclog.Level {
	switch {
	case l < slog.LevelInfo:
		return hclog.Debug
	case l < slog.LevelWarn:
		return hclog.Info
	case l < slog.LevelError:
		return hclog.Warn
	}
	return hclog.Error
}

func (h *hclogHandler) Enabled(_ context.Context, l slog.Level) bool {
	return h.log.GetLevel() <= hclogLevel(l)
}

func (h *hclogHandler) Handle(_ context.Context, r slog.Record) error {
	args := append([]any(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		args = appendAttr(args, h.group, a)
		return true
	})
	h.log.Log(hclogLevel(r.Level), r.Message, args...)
	return nil
}

func (h *hclogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	n := *h
	n.attrs = append([]any(nil), h.attrs...)
	for _, a := range as {
		n.attrs = appendAttr(n.attrs, h.group, a)
	}
	return &n
}

func (h *hclogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	n := *h
	n.group = h.group + name + "."
	return &n
}

// appendAttr adds a as key/value pairs, groups flattened into dotted keys.
func appendAttr(args []any, prefix string, a slog.Attr) []any {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		p := prefix
		if a.Key != "" {
			p += a.Key + "."
		}
		for _, g := range v.Group() {
			args = appendAttr(args, p, g)
		}
		return args
	}
	if a.Key == "" {
		return args
	}
	return append(args, prefix+a.Key, v.Any())
}
