package sdktest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vigilgw/vigil/plugins/sdk"
)

// MemStorage is the loopback storage: an in-memory sdk.Storage that keeps
// the whole contract (key rules, atomic Put, size and sha256 checks, ranges,
// sorted List). Tests of code that stores objects use it instead of a
// plugin process; it is also the reference StorageConformance is checked
// against.
type MemStorage struct {
	mu      sync.Mutex
	objects map[string]memObject
}

type memObject struct {
	data []byte
	info sdk.ObjectInfo
}

var _ sdk.Storage = (*MemStorage)(nil)

// NewMemStorage returns an empty MemStorage.
func NewMemStorage() *MemStorage { return &MemStorage{objects: map[string]memObject{}} }

// Info reports the loopback storage.
func (m *MemStorage) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Kind: sdk.KindStorage, Name: "mem", Version: sdk.BuildVersion, APIVersions: sdk.APIVersions(sdk.KindStorage)}, nil
}

// Configure accepts an empty configuration only.
func (m *MemStorage) Configure(_ context.Context, configJSON []byte) error {
	if s := strings.TrimSpace(string(configJSON)); s != "" && s != "{}" && s != "null" {
		return fmt.Errorf("storage-mem: configure: no settings exist, got %q: %w", s, sdk.ErrInvalidConfig)
	}
	return nil
}

// Put reads all of r before it commits anything.
func (m *MemStorage) Put(ctx context.Context, key string, r io.Reader, size int64, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	if err := sdk.ValidateKey(key); err != nil {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-mem: put: %w", err)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, ctxReader{ctx, r}); err != nil {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-mem: put %q: %w", key, err)
	}
	if size >= 0 && int64(buf.Len()) != size {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-mem: put %q: got %d bytes, size says %d: %w", key, buf.Len(), size, sdk.ErrContentMismatch)
	}
	sum := sha256.Sum256(buf.Bytes())
	if opts.SHA256 != "" && !strings.EqualFold(opts.SHA256, hex.EncodeToString(sum[:])) {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-mem: put %q: sha256 %s, declared %s: %w", key, hex.EncodeToString(sum[:]), opts.SHA256, sdk.ErrContentMismatch)
	}
	info := sdk.ObjectInfo{
		Key: key, Size: int64(buf.Len()), ModTime: time.Now().UTC(), ContentType: opts.ContentType,
		SHA256: hex.EncodeToString(sum[:]), Metadata: maps.Clone(opts.Metadata),
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.objects[key] = memObject{data: buf.Bytes(), info: info}
	return info, nil
}

// ctxReader fails reads once ctx is done, so a cancelled Put stops.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func (m *MemStorage) lookup(op, key string) (memObject, error) {
	if err := sdk.ValidateKey(key); err != nil {
		return memObject{}, fmt.Errorf("storage-mem: %s: %w", op, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objects[key]
	if !ok {
		return memObject{}, fmt.Errorf("storage-mem: %s %q: %w", op, key, sdk.ErrNotFound)
	}
	return o, nil
}

// Get returns a range of the object as it was when Get was called.
func (m *MemStorage) Get(_ context.Context, key string, offset, length int64) (io.ReadCloser, sdk.ObjectInfo, error) {
	o, err := m.lookup("get", key)
	if err != nil {
		return nil, sdk.ObjectInfo{}, err
	}
	if offset < 0 {
		return nil, sdk.ObjectInfo{}, fmt.Errorf("storage-mem: get %q: offset %d: %w", key, offset, sdk.ErrInvalidRange)
	}
	data := o.data[min(offset, int64(len(o.data))):]
	if length >= 0 && length < int64(len(data)) {
		data = data[:length]
	}
	return io.NopCloser(bytes.NewReader(data)), o.info, nil
}

// Head returns the object's info.
func (m *MemStorage) Head(_ context.Context, key string) (sdk.ObjectInfo, error) {
	o, err := m.lookup("head", key)
	return o.info, err
}

// List returns the objects under prefix, sorted by key.
func (m *MemStorage) List(_ context.Context, prefix string) ([]sdk.ObjectInfo, error) {
	if err := sdk.ValidatePrefix(prefix); err != nil {
		return nil, fmt.Errorf("storage-mem: list: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []sdk.ObjectInfo{}
	for _, k := range slices.Sorted(maps.Keys(m.objects)) {
		if strings.HasPrefix(k, prefix) {
			out = append(out, m.objects[k].info)
		}
	}
	return out, nil
}

// Delete removes the object.
func (m *MemStorage) Delete(_ context.Context, key string) error {
	if _, err := m.lookup("delete", key); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.objects, key)
	return nil
}

// Presign is not something memory can do.
func (m *MemStorage) Presign(_ context.Context, key, _ string, _ time.Duration) (string, error) {
	if err := sdk.ValidateKey(key); err != nil {
		return "", fmt.Errorf("storage-mem: presign: %w", err)
	}
	return "", fmt.Errorf("storage-mem: presign: %w", sdk.ErrUnsupported)
}
