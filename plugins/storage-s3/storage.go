package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/vigilgw/vigil/plugins/sdk"
)

// pluginName is the name the plugin reports in Info.
const pluginName = "s3"

// defaultContentType is what S3 reports for an object stored without a
// content type; the plugin reports it as "" (unknown), so that a Put
// without ContentType reads back as it was written.
const defaultContentType = "application/octet-stream"

// errNotConfigured: a call before Configure succeeded.
var errNotConfigured = errors.New("storage-s3: not configured")

// storage is the plugin: an sdk.Storage over one bucket.
type storage struct {
	mu sync.RWMutex
	b  *backend
}

var _ sdk.Storage = (*storage)(nil)

func newStorage() *storage { return &storage{} }

// backend is one configuration's client.
type backend struct {
	settings
	client *minio.Client
	core   minio.Core
	// parts recycles part buffers of partSize between Puts: a Put holds
	// up to maxConcurrency+1 of them.
	parts sync.Pool
	// bucketSeen is set once the bucket was seen to exist. A HEAD of a
	// missing key and one in a missing bucket both answer a bare 404;
	// until then such a 404 is checked against the bucket.
	bucketSeen atomic.Bool
	// checksums is what the server was seen to do with an
	// x-amz-checksum-sha256 header: checksumsUnknown until the first
	// checked PUT (checkedPut) answers.
	checksums atomic.Int32
}

// What a server does with x-amz-checksum-sha256 (backend.checksums).
const (
	checksumsUnknown  = iota
	checksumsVerified // it computes the SHA-256 of the body and refuses a mismatch (BadDigest)
	checksumsIgnored  // it says nothing of it: the content is hashed here
)

// maxCheckedPut is the largest content checkedPut sends in one request;
// larger content goes in parts, which can be retried alone.
const maxCheckedPut = 1 << 30

func (s *storage) Info(context.Context) (sdk.Info, error) {
	return sdk.Info{Kind: sdk.KindStorage, Name: pluginName, Version: sdk.BuildVersion, APIVersions: sdk.APIVersions(sdk.KindStorage)}, nil
}

// Configure checks the settings and builds the client. It does not contact
// the endpoint: an object store that is down at start must not make the
// plugin unusable, only its calls fail until the store is back.
func (s *storage) Configure(_ context.Context, configJSON []byte) error {
	st, err := parseConfig(configJSON)
	if err != nil {
		return err
	}
	b, err := newBackend(st)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.b = b
	s.mu.Unlock()
	return nil
}

func newBackend(st settings) (*backend, error) {
	tr, err := minio.DefaultTransport(st.secure)
	if err != nil {
		return nil, invalid("transport: %v", err)
	}
	if st.tlsConfig != nil {
		tr.TLSClientConfig = st.tlsConfig
	}
	// Parts of one Put go out in parallel, each on its own connection.
	tr.MaxIdleConnsPerHost = max(tr.MaxIdleConnsPerHost, 2*st.maxConcurrency)
	creds := credentials.NewStaticV4(st.accessKey, st.secretKey, "")
	if st.accessKey == "" {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{}, &credentials.EnvMinio{}, &credentials.IAM{},
		})
	}
	lookup := minio.BucketLookupDNS
	if st.pathStyle {
		lookup = minio.BucketLookupPath
	}
	client, err := minio.New(st.endpoint, &minio.Options{
		Creds: creds, Secure: st.secure, Transport: tr, Region: st.region,
		BucketLookup: lookup, MaxRetries: st.maxRetries,
	})
	if err != nil {
		return nil, invalid("client: %v", err)
	}
	b := &backend{settings: st, client: client, core: minio.Core{Client: client}}
	b.parts.New = func() any { return make([]byte, st.partSize) }
	return b, nil
}

// backend returns the configured backend after checking key.
func (s *storage) backend(op, key string) (*backend, error) {
	s.mu.RLock()
	b := s.b
	s.mu.RUnlock()
	if b == nil {
		return nil, fmt.Errorf("storage-s3: %s: %w", op, errNotConfigured)
	}
	if err := sdk.ValidateKey(key); err != nil {
		return nil, fmt.Errorf("storage-s3: %s: %w", op, err)
	}
	return b, nil
}

// callError names the call and maps S3's "no such key" to sdk.ErrNotFound.
func callError(op, key string, err error) error {
	resp := minio.ToErrorResponse(err)
	if resp.StatusCode == http.StatusNotFound && resp.Code != "NoSuchBucket" || resp.Code == "NoSuchKey" {
		return fmt.Errorf("storage-s3: %s %q: %w", op, key, sdk.ErrNotFound)
	}
	return fmt.Errorf("storage-s3: %s %q: %w", op, key, err)
}

func (s *storage) Put(ctx context.Context, key string, r io.Reader, size int64, opts sdk.PutOptions) (sdk.ObjectInfo, error) {
	b, err := s.backend("put", key)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	want := strings.ToLower(opts.SHA256)
	if want != "" {
		if raw, err := hex.DecodeString(want); err != nil || len(raw) != sha256.Size {
			return sdk.ObjectInfo{}, fmt.Errorf("storage-s3: put %q: declared sha256 %q is not a hex SHA-256: %w", key, opts.SHA256, sdk.ErrContentMismatch)
		}
	}
	if _, err := encodeMetadata(opts.Metadata, ""); err != nil {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-s3: put %q: %w", key, err)
	}
	p := &put{b: b, key: key, name: b.prefix + key, size: size, want: want, opts: opts, partSize: b.partSizeFor(size)}
	if size >= 0 && size > p.partSize*maxParts {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-s3: put %q: %d bytes is more than %d parts of %d bytes", key, size, maxParts, p.partSize)
	}
	return p.run(ctx, r)
}

// partSizeFor grows the part size for objects so large that the
// configured size would need more than S3's 10,000 parts.
func (b *backend) partSizeFor(size int64) int64 {
	ps := b.partSize
	if size > ps*maxParts {
		const mib = 1 << 20
		ps = min((size/maxParts+mib)/mib*mib, maxPartSize)
	}
	return ps
}

// put is one Put in progress.
type put struct {
	b        *backend
	key      string
	name     string // the object name in the bucket: prefix + key
	size     int64  // declared, -1 unknown
	want     string // declared sha256, lower-case hex, or ""
	opts     sdk.PutOptions
	partSize int64
}

// contentFile is content that can be read at any offset: a file the host
// passed (sdk's side channel), or any io.ReaderAt and io.Seeker.
type contentFile interface {
	io.ReaderAt
	io.Seeker
}

// run reads the first part. Content that ends within it goes in one PUT,
// checked before anything is sent; longer content goes in a multipart
// upload, checked before the upload is completed. Longer content of known
// size in a file is uploaded from where it lies (multipartAt).
func (p *put) run(ctx context.Context, r io.Reader) (sdk.ObjectInfo, error) {
	if f, ok := r.(contentFile); ok && p.want != "" && p.size > 0 && p.size <= maxCheckedPut &&
		p.b.checksums.Load() != checksumsIgnored {
		if base, err := f.Seek(0, io.SeekCurrent); err == nil {
			info, checked, err := p.checkedPut(ctx, f, base)
			if err == nil && checked {
				_, err = f.Seek(base+p.size, io.SeekStart)
			}
			if err != nil || checked {
				return info, err
			}
			// The server stored the content without checking it: put it
			// again, checked here, over what it stored.
		}
	}
	if f, ok := r.(contentFile); ok && p.size > p.partSize {
		if base, err := f.Seek(0, io.SeekCurrent); err == nil {
			info, err := p.multipartAt(ctx, f, base)
			if err == nil {
				_, err = f.Seek(base+p.size, io.SeekStart)
			}
			return info, err
		}
	}
	bufSize := p.partSize
	if p.size >= 0 && p.size < p.partSize {
		// One byte more than declared, to see content that is too long.
		bufSize = p.size + 1
	}
	buf := p.getBuffer(bufSize)
	defer p.putBuffer(buf)
	n, err := io.ReadFull(r, buf)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return p.single(ctx, buf[:n])
	case err != nil:
		return sdk.ObjectInfo{}, fmt.Errorf("storage-s3: put %q: read content: %w", p.key, err)
	case bufSize < p.partSize:
		return sdk.ObjectInfo{}, p.mismatch(fmt.Sprintf("more than the declared %d bytes", p.size))
	}
	return p.multipart(ctx, buf, r)
}

// getBuffer returns a buffer of n bytes, from the pool when n is the
// configured part size.
func (p *put) getBuffer(n int64) []byte {
	if n == p.b.partSize {
		return p.b.parts.Get().([]byte)
	}
	return make([]byte, n)
}

func (p *put) putBuffer(b []byte) {
	if int64(len(b)) == p.b.partSize {
		p.b.parts.Put(b)
	}
}

func (p *put) mismatch(what string) error {
	return fmt.Errorf("storage-s3: put %q: content has %s: %w", p.key, what, sdk.ErrContentMismatch)
}

// check compares what was read with what was declared.
func (p *put) check(n int64, sum string) error {
	if p.size >= 0 && n != p.size {
		return p.mismatch(fmt.Sprintf("%d bytes, declared %d", n, p.size))
	}
	if p.want != "" && sum != p.want {
		return p.mismatch(fmt.Sprintf("sha256 %s, declared %s", sum, p.want))
	}
	return nil
}

func (p *put) single(ctx context.Context, data []byte) (sdk.ObjectInfo, error) {
	s := sha256.Sum256(data)
	sum := hex.EncodeToString(s[:])
	if err := p.check(int64(len(data)), sum); err != nil {
		return sdk.ObjectInfo{}, err
	}
	meta, err := encodeMetadata(p.opts.Metadata, sum)
	if err != nil {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-s3: put %q: %w", p.key, err)
	}
	// The content was checked here; the checksum header has a server that
	// knows it check that the bytes arrived as they left.
	meta[checksumHeader] = base64.StdEncoding.EncodeToString(s[:])
	up, err := p.b.core.PutObject(ctx, p.b.bucket, p.name, bytes.NewReader(data), int64(len(data)), "", sum,
		minio.PutObjectOptions{ContentType: p.opts.ContentType, UserMetadata: meta})
	if err != nil {
		return sdk.ObjectInfo{}, callError("put", p.key, err)
	}
	return p.info(int64(len(data)), sum, up.LastModified), nil
}

func (p *put) info(n int64, sum string, mod time.Time) sdk.ObjectInfo {
	if mod.IsZero() {
		mod = time.Now()
	}
	return sdk.ObjectInfo{
		Key: p.key, Size: n, ModTime: mod.UTC(), ContentType: p.opts.ContentType, SHA256: sum,
		Metadata: maps.Clone(p.opts.Metadata),
	}
}

// multipartUpload runs a multipart upload: upload sends the parts and
// returns them with the content's length and SHA-256, which are checked
// against the declaration before the upload is completed. The SHA-256 goes
// into the object's metadata at the start, so it is stored only when it
// was declared. Any failure aborts the upload, so no object (and no stray
// parts) is left behind.
func (p *put) multipartUpload(ctx context.Context, upload func(ctx context.Context, uploadID string) ([]minio.CompletePart, int64, string, error)) (sdk.ObjectInfo, error) {
	meta, err := encodeMetadata(p.opts.Metadata, p.want)
	if err != nil {
		return sdk.ObjectInfo{}, fmt.Errorf("storage-s3: put %q: %w", p.key, err)
	}
	uploadID, err := p.b.core.NewMultipartUpload(ctx, p.b.bucket, p.name,
		minio.PutObjectOptions{ContentType: p.opts.ContentType, UserMetadata: meta})
	if err != nil {
		return sdk.ObjectInfo{}, callError("put", p.key, err)
	}
	completed := false
	defer func() {
		if !completed {
			// The caller's context may be what ended the Put.
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = p.b.core.AbortMultipartUpload(actx, p.b.bucket, p.name, uploadID)
		}
	}()
	pctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done, total, sum, err := upload(pctx, uploadID)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	if err := p.check(total, sum); err != nil {
		return sdk.ObjectInfo{}, err
	}
	slices.SortFunc(done, func(a, b minio.CompletePart) int { return a.PartNumber - b.PartNumber })
	up, err := p.b.core.CompleteMultipartUpload(ctx, p.b.bucket, p.name, uploadID, done, minio.PutObjectOptions{})
	if err != nil {
		return sdk.ObjectInfo{}, callError("put", p.key, err)
	}
	completed = true
	return p.info(total, sum, up.LastModified), nil
}

// multipart uploads first and the rest of r in parts, up to
// maxConcurrency at once, while the next part is read; a goroutine of its
// own hashes the parts in order meanwhile.
func (p *put) multipart(ctx context.Context, first []byte, r io.Reader) (sdk.ObjectInfo, error) {
	return p.multipartUpload(ctx, func(ctx context.Context, uploadID string) ([]minio.CompletePart, int64, string, error) {
		pctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		m := &parts{p: p, ctx: pctx, cancel: cancel, uploadID: uploadID, first: first,
			free: make(chan []byte, p.b.maxConcurrency+1), hashing: make(chan *part, p.b.maxConcurrency+1), hashed: make(chan []byte)}
		go m.hash()
		total := m.send(r)
		close(m.hashing)
		sum := hex.EncodeToString(<-m.hashed)
		m.wg.Wait()
		m.recycle()
		return m.done, total, sum, context.Cause(pctx)
	})
}

// checkedPut sends the p.size bytes of f from base in one PUT read
// straight from f, with the declared SHA-256 as x-amz-checksum-sha256: the
// server hashes the body it received and refuses it (BadDigest) when the
// sum differs, so nothing here reads the content twice or hashes it at
// all, and what is checked is what arrived. The header is signed, the
// body not (UNSIGNED-PAYLOAD): the checksum is what protects it, end to
// end, against the SHA-256 recorded when the file was sealed. checked is
// false when the server did not echo the checksum (it predates S3's
// additional checksums and ignored the header): the caller then uploads
// again the way that hashes here, and so do later Puts.
func (p *put) checkedPut(ctx context.Context, f io.ReaderAt, base int64) (info sdk.ObjectInfo, checked bool, err error) {
	if err := p.exactSize(f, base); err != nil {
		return sdk.ObjectInfo{}, false, err
	}
	raw, _ := hex.DecodeString(p.want) // Put checked it
	want := base64.StdEncoding.EncodeToString(raw)
	meta, err := encodeMetadata(p.opts.Metadata, p.want)
	if err != nil {
		return sdk.ObjectInfo{}, false, fmt.Errorf("storage-s3: put %q: %w", p.key, err)
	}
	meta[checksumHeader] = want
	up, err := p.b.core.PutObject(ctx, p.b.bucket, p.name, io.NewSectionReader(f, base, p.size), p.size, "", "",
		minio.PutObjectOptions{ContentType: p.opts.ContentType, UserMetadata: meta, DisableContentSha256: true})
	switch {
	case minio.ToErrorResponse(err).Code == "BadDigest":
		p.b.checksums.Store(checksumsVerified)
		return sdk.ObjectInfo{}, false, p.mismatch(fmt.Sprintf("another SHA-256 than the declared %s (the server's check)", p.want))
	case err != nil:
		return sdk.ObjectInfo{}, false, callError("put", p.key, err)
	case up.ChecksumSHA256 == "":
		p.b.checksums.Store(checksumsIgnored)
		return sdk.ObjectInfo{}, false, nil
	case up.ChecksumSHA256 != want:
		return sdk.ObjectInfo{}, false, p.mismatch(fmt.Sprintf("SHA-256 %s by the server's count, declared %s", up.ChecksumSHA256, want))
	}
	p.b.checksums.Store(checksumsVerified)
	return p.info(p.size, p.want, up.LastModified), true, nil
}

// checksumHeader carries a PUT's SHA-256 for the server to check.
const checksumHeader = "x-amz-checksum-sha256"

// exactSize refuses content of f from base that is not exactly p.size
// bytes, before anything is sent.
func (p *put) exactSize(f io.ReaderAt, base int64) error {
	var probe [1]byte
	if _, err := f.ReadAt(probe[:], base+p.size-1); err != nil {
		return p.mismatch(fmt.Sprintf("fewer than the declared %d bytes", p.size))
	}
	if n, _ := f.ReadAt(probe[:], base+p.size); n > 0 {
		return p.mismatch(fmt.Sprintf("more than the declared %d bytes", p.size))
	}
	return nil
}

// multipartAt uploads the p.size bytes of f from base in parts read
// straight from f, up to maxConcurrency at once, as minio-go's PutObject
// does with an io.ReaderAt: no part is copied into a buffer. A goroutine
// of its own reads the content in order meanwhile and hashes it.
func (p *put) multipartAt(ctx context.Context, f io.ReaderAt, base int64) (sdk.ObjectInfo, error) {
	if err := p.exactSize(f, base); err != nil {
		return sdk.ObjectInfo{}, err
	}
	// Hashing starts at once, while the upload is being created.
	// It is over before this returns: f is not read after the Put.
	hctx, stop := context.WithCancel(ctx)
	var hashing sync.WaitGroup
	defer func() {
		stop()
		hashing.Wait()
	}()
	type digest struct {
		sum string
		err error
	}
	hashed := make(chan digest, 1)
	hashing.Go(func() {
		sum, err := hashAt(hctx, f, base, p.size)
		hashed <- digest{sum, err}
	})
	return p.multipartUpload(ctx, func(ctx context.Context, uploadID string) ([]minio.CompletePart, int64, string, error) {
		pctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		nparts := int((p.size + p.partSize - 1) / p.partSize)
		nums := make(chan int)
		done := make([]minio.CompletePart, nparts)
		var wg sync.WaitGroup
		for range min(p.b.maxConcurrency, nparts) {
			wg.Go(func() {
				for num := range nums {
					off := int64(num-1) * p.partSize
					n := min(p.partSize, p.size-off)
					up, err := p.b.core.PutObjectPart(pctx, p.b.bucket, p.name, uploadID, num,
						io.NewSectionReader(f, base+off, n), n, minio.PutObjectPartOptions{})
					if err != nil {
						cancel(callError(fmt.Sprintf("put part %d of", num), p.key, err))
						continue
					}
					done[num-1] = minio.CompletePart{PartNumber: num, ETag: up.ETag}
				}
			})
		}
		for num := 1; num <= nparts && pctx.Err() == nil; num++ {
			select {
			case nums <- num:
			case <-pctx.Done():
			}
		}
		close(nums)
		wg.Wait()
		if err := context.Cause(pctx); err != nil {
			return nil, 0, "", err
		}
		d := <-hashed
		if d.err != nil {
			return nil, 0, "", fmt.Errorf("storage-s3: put %q: read content: %w", p.key, d.err)
		}
		return done, p.size, d.sum, nil
	})
}

// parts is a multipart upload's parts in flight. A part buffer goes back
// to free once both its upload and its hashing are done with it; at most
// maxConcurrency+1 buffers exist.
type parts struct {
	p        *put
	ctx      context.Context
	cancel   context.CancelCauseFunc
	uploadID string
	first    []byte // run's buffer, which run gives back to the pool

	free      chan []byte
	allocated int
	hashing   chan *part
	hashed    chan []byte

	wg   sync.WaitGroup
	mu   sync.Mutex
	done []minio.CompletePart
}

type part struct {
	num  int
	buf  []byte
	data []byte
	refs atomic.Int32
}

func (m *parts) release(pt *part) {
	if pt.refs.Add(-1) == 0 {
		m.free <- pt.buf
	}
}

// hash hashes the parts in order and sends the digest on hashed.
func (m *parts) hash() {
	h := sha256.New()
	for pt := range m.hashing {
		h.Write(pt.data)
		m.release(pt)
	}
	m.hashed <- h.Sum(nil)
}

// send reads r part by part and starts each part's upload and hashing,
// until r ends or something fails (then m.ctx is cancelled with the
// cause). It returns how many bytes it read.
func (m *parts) send(r io.Reader) int64 {
	var total int64
	buf, n, eof := m.first, len(m.first), false
	m.allocated = 1
	for num := 1; ; num++ {
		if num > maxParts {
			m.cancel(fmt.Errorf("storage-s3: put %q: more than %d parts of %d bytes", m.p.key, maxParts, m.p.partSize))
			return total
		}
		total += int64(n)
		if m.p.size >= 0 && total > m.p.size {
			m.cancel(m.p.mismatch(fmt.Sprintf("more than the declared %d bytes", m.p.size)))
			return total
		}
		pt := &part{num: num, buf: buf, data: buf[:n]}
		pt.refs.Store(2)
		m.hashing <- pt
		m.wg.Add(1)
		go m.upload(pt)
		if eof {
			return total
		}
		if buf = m.buffer(); buf == nil {
			return total
		}
		var err error
		n, err = io.ReadFull(r, buf)
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			m.free <- buf
			return total
		case errors.Is(err, io.ErrUnexpectedEOF):
			eof = true
		default:
			m.cancel(fmt.Errorf("storage-s3: put %q: read content: %w", m.p.key, err))
			return total
		}
	}
}

// buffer returns a free part buffer, a new one while fewer than
// maxConcurrency+1 exist, or nil once m.ctx ends.
func (m *parts) buffer() []byte {
	select {
	case b := <-m.free:
		return b
	default:
	}
	if m.allocated <= m.p.b.maxConcurrency {
		m.allocated++
		return m.p.getBuffer(m.p.partSize)
	}
	select {
	case b := <-m.free:
		return b
	case <-m.ctx.Done():
		return nil
	}
}

// upload puts one part. minio-go's defaults apply, as for its own
// PutObject: over http the part goes with a streaming signature (the
// server checks a SHA-256 per chunk), over https TLS protects it.
func (m *parts) upload(pt *part) {
	defer m.wg.Done()
	defer m.release(pt)
	p := m.p
	up, err := p.b.core.PutObjectPart(m.ctx, p.b.bucket, p.name, m.uploadID, pt.num, bytes.NewReader(pt.data), int64(len(pt.data)),
		minio.PutObjectPartOptions{})
	if err != nil {
		m.cancel(callError(fmt.Sprintf("put part %d of", pt.num), p.key, err))
		return
	}
	m.mu.Lock()
	m.done = append(m.done, minio.CompletePart{PartNumber: pt.num, ETag: up.ETag})
	m.mu.Unlock()
}

// recycle gives the part buffers back to the pool, once every part is
// done with them.
func (m *parts) recycle() {
	close(m.free)
	for b := range m.free {
		if &b[0] != &m.first[0] {
			m.p.putBuffer(b)
		}
	}
}

func (s *storage) Get(ctx context.Context, key string, offset, length int64) (io.ReadCloser, sdk.ObjectInfo, error) {
	b, err := s.backend("get", key)
	if err != nil {
		return nil, sdk.ObjectInfo{}, err
	}
	if offset < 0 {
		return nil, sdk.ObjectInfo{}, fmt.Errorf("storage-s3: get %q: offset %d: %w", key, offset, sdk.ErrInvalidRange)
	}
	if length == 0 {
		info, err := s.Head(ctx, key)
		if err != nil {
			return nil, sdk.ObjectInfo{}, err
		}
		return io.NopCloser(bytes.NewReader(nil)), info, nil
	}
	var opts minio.GetObjectOptions
	ranged := offset > 0 || length > 0
	if ranged {
		end := int64(0) // with offset > 0: to the end
		if length > 0 {
			end = offset + length - 1
		}
		if err := opts.SetRange(offset, end); err != nil {
			return nil, sdk.ObjectInfo{}, fmt.Errorf("storage-s3: get %q: %w", key, err)
		}
	}
	rc, oi, hdr, err := b.core.GetObject(ctx, b.bucket, b.prefix+key, opts)
	if err != nil {
		if minio.ToErrorResponse(err).StatusCode == http.StatusRequestedRangeNotSatisfiable {
			// The range starts at or past the end: no bytes, by the
			// contract, but the object's info all the same.
			info, herr := s.Head(ctx, key)
			if herr != nil {
				return nil, sdk.ObjectInfo{}, herr
			}
			return io.NopCloser(bytes.NewReader(nil)), info, nil
		}
		return nil, sdk.ObjectInfo{}, callError("get", key, err)
	}
	info := objectInfo(key, oi)
	if ranged {
		total, ok := contentRangeTotal(hdr.Get("Content-Range"))
		if !ok {
			rc.Close()
			return nil, sdk.ObjectInfo{}, fmt.Errorf("storage-s3: get %q: ranged response without a usable Content-Range (%q)", key, hdr.Get("Content-Range"))
		}
		info.Size = total
	}
	return rc, info, nil
}

// contentRangeTotal reads the object size from "bytes 0-9/1000".
func contentRangeTotal(v string) (int64, bool) {
	_, total, ok := strings.Cut(v, "/")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(total, 10, 64)
	return n, err == nil && n >= 0
}

func objectInfo(key string, oi minio.ObjectInfo) sdk.ObjectInfo {
	meta, sum := decodeMetadata(oi.UserMetadata)
	ct := oi.ContentType
	if ct == defaultContentType {
		ct = ""
	}
	return sdk.ObjectInfo{Key: key, Size: oi.Size, ModTime: oi.LastModified.UTC(), ContentType: ct, SHA256: sum, Metadata: meta}
}

func (s *storage) Head(ctx context.Context, key string) (sdk.ObjectInfo, error) {
	b, err := s.backend("head", key)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	oi, err := b.stat(ctx, "head", key)
	if err != nil {
		return sdk.ObjectInfo{}, err
	}
	return objectInfo(key, oi), nil
}

// stat is a HEAD of key that tells a missing key (sdk.ErrNotFound) from a
// missing bucket (a configuration error).
func (b *backend) stat(ctx context.Context, op, key string) (minio.ObjectInfo, error) {
	oi, err := b.client.StatObject(ctx, b.bucket, b.prefix+key, minio.StatObjectOptions{})
	if err == nil {
		b.bucketSeen.Store(true)
		return oi, nil
	}
	err = callError(op, key, err)
	if errors.Is(err, sdk.ErrNotFound) && !b.bucketSeen.Load() {
		ok, berr := b.client.BucketExists(ctx, b.bucket)
		switch {
		case berr != nil:
			return minio.ObjectInfo{}, fmt.Errorf("storage-s3: %s %q: %w", op, key, berr)
		case !ok:
			return minio.ObjectInfo{}, fmt.Errorf("storage-s3: %s %q: bucket %q does not exist", op, key, b.bucket)
		}
		b.bucketSeen.Store(true)
	}
	return minio.ObjectInfo{}, err
}

// List pages through the whole listing (minio-go follows S3's
// continuation tokens). Entries that are not objects of this contract
// (directory markers ending in "/", keys ValidateKey refuses) are left out.
func (s *storage) List(ctx context.Context, prefix string) ([]sdk.ObjectInfo, error) {
	s.mu.RLock()
	b := s.b
	s.mu.RUnlock()
	if b == nil {
		return nil, fmt.Errorf("storage-s3: list: %w", errNotConfigured)
	}
	if err := sdk.ValidatePrefix(prefix); err != nil {
		return nil, fmt.Errorf("storage-s3: list: %w", err)
	}
	out := []sdk.ObjectInfo{}
	for o := range b.client.ListObjectsIter(ctx, b.bucket, minio.ListObjectsOptions{Prefix: b.prefix + prefix, Recursive: true}) {
		if o.Err != nil {
			return nil, fmt.Errorf("storage-s3: list %q: %w", prefix, o.Err)
		}
		k, ok := strings.CutPrefix(o.Key, b.prefix)
		if !ok || sdk.ValidateKey(k) != nil {
			continue
		}
		out = append(out, sdk.ObjectInfo{Key: k, Size: o.Size, ModTime: o.LastModified.UTC()})
	}
	slices.SortFunc(out, func(a, b sdk.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// Delete removes the object. S3 answers a delete of a missing key with
// success, so the key is looked up first to keep the contract's
// ErrNotFound.
func (s *storage) Delete(ctx context.Context, key string) error {
	b, err := s.backend("delete", key)
	if err != nil {
		return err
	}
	if _, err := b.stat(ctx, "delete", key); err != nil {
		return err
	}
	if err := b.client.RemoveObject(ctx, b.bucket, b.prefix+key, minio.RemoveObjectOptions{}); err != nil {
		return callError("delete", key, err)
	}
	return nil
}

// Presign signs a GET or PUT URL, valid for 1 s to 7 days (S3's bounds).
func (s *storage) Presign(ctx context.Context, key, method string, expiry time.Duration) (string, error) {
	b, err := s.backend("presign", key)
	if err != nil {
		return "", err
	}
	if expiry < time.Second || expiry > 7*24*time.Hour {
		return "", fmt.Errorf("storage-s3: presign %q: expiry %s is outside 1s to 7 days", key, expiry)
	}
	var u fmt.Stringer
	switch method {
	case http.MethodGet:
		u, err = b.client.PresignedGetObject(ctx, b.bucket, b.prefix+key, expiry, nil)
	case http.MethodPut:
		u, err = b.client.PresignedPutObject(ctx, b.bucket, b.prefix+key, expiry)
	default:
		return "", fmt.Errorf("storage-s3: presign %q: method %q: %w", key, method, sdk.ErrUnsupported)
	}
	if err != nil {
		return "", callError("presign", key, err)
	}
	return u.String(), nil
}
