package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/event"
)

// handle routes each call to the instance's live client. Callers keep one
// handle for the daemon's lifetime; the process behind it may change.
type handle struct{ in *instance }

// wrap names the plugin in an error that says it is unavailable; the
// plugin's own errors already name it.
func (h handle) wrap(err error) error {
	if err != nil && errors.Is(err, ErrPluginUnavailable) {
		return fmt.Errorf("pluginhost: %s: %w", h.in.id, err)
	}
	return err
}

func (h handle) plugin() (sdk.Plugin, error) {
	c, err := h.in.client()
	if err != nil {
		return nil, err
	}
	return c.Plugin(), nil
}

// Info asks the live process.
func (h handle) Info(ctx context.Context) (sdk.Info, error) {
	p, err := h.plugin()
	if err != nil {
		return sdk.Info{}, err
	}
	info, err := p.Info(ctx)
	return info, h.wrap(err)
}

// Configure sets the plugin's configuration for the live process and for
// every later launch (the daemon calls it on a reload). If no process is
// live, the next launch uses it.
func (h handle) Configure(ctx context.Context, configJSON []byte) error {
	h.in.setConfig(configJSON)
	p, err := h.plugin()
	if err != nil {
		return nil // no live process: the next launch configures it
	}
	return h.wrap(p.Configure(ctx, configJSON))
}

type storageHandle struct{ handle }

var _ sdk.Storage = storageHandle{}

func (h storageHandle) storage() (sdk.Storage, error) {
	p, err := h.plugin()
	if err != nil {
		return nil, err
	}
	return p.(sdk.Storage), nil
}

func (h storageHandle) Put(ctx context.Context, key string, r io.Reader, size int64, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	s, err := h.storage()
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	info, err := s.Put(ctx, key, r, size, opts)
	return info, h.wrap(err)
}

func (h storageHandle) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, sdk.ObjectInfo, error) {
	s, err := h.storage()
	if err != nil {
		return nil, sdk.ObjectInfo{}, err
	}
	rc, info, err := s.Get(ctx, key, offset, length)
	if err != nil {
		return nil, info, h.wrap(err)
	}
	return readCloser{rc, h.handle}, info, nil
}

// readCloser names the plugin when the stream breaks because it died.
type readCloser struct {
	io.ReadCloser
	h handle
}

func (r readCloser) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = r.h.wrap(err)
	}
	return n, err
}

func (h storageHandle) Head(ctx context.Context, key string) (sdk.ObjectInfo, error) {
	s, err := h.storage()
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	info, err := s.Head(ctx, key)
	return info, h.wrap(err)
}

func (h storageHandle) List(ctx context.Context, prefix string) ([]sdk.ObjectInfo, error) {
	s, err := h.storage()
	if err != nil {
		return nil, err
	}
	objs, err := s.List(ctx, prefix)
	return objs, h.wrap(err)
}

func (h storageHandle) Delete(ctx context.Context, key string) error {
	s, err := h.storage()
	if err != nil {
		return err
	}
	return h.wrap(s.Delete(ctx, key))
}

func (h storageHandle) Presign(ctx context.Context, key, method string, expiry time.Duration) (string, error) {
	s, err := h.storage()
	if err != nil {
		return "", err
	}
	url, err := s.Presign(ctx, key, method, expiry)
	return url, h.wrap(err)
}

type logFormatterHandle struct{ handle }

var _ sdk.LogFormatter = logFormatterHandle{}

func (h logFormatterHandle) Format(ctx context.Context, events []event.Event) ([][]byte, error) {
	p, err := h.plugin()
	if err != nil {
		return nil, err
	}
	lines, err := p.(sdk.LogFormatter).Format(ctx, events)
	return lines, h.wrap(err)
}

type recorderHandle struct{ handle }

var _ sdk.Recorder = recorderHandle{}

func (h recorderHandle) Render(ctx context.Context, req sdk.RenderRequest, progress func(percent int)) (sdk.RenderResult, error) {
	p, err := h.plugin()
	if err != nil {
		return sdk.RenderResult{}, err
	}
	res, err := p.(sdk.Recorder).Render(ctx, req, progress)
	return res, h.wrap(err)
}
