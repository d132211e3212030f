package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/storage-s3/s3test"
)

// newConfigured returns the plugin configured for bucket on srv, with a
// small part size so that a few MiB make a multipart upload.
func newConfigured(t *testing.T, srv *s3test.Server, bucket string, extra map[string]any) *storage {
	t.Helper()
	s := newStorage()
	cfg := map[string]any{"part_size": "5MiB", "max_concurrency": 3}
	for k, v := range extra {
		cfg[k] = v
	}
	if err := s.Configure(context.Background(), srv.PluginConfig(bucket, cfg)); err != nil {
		t.Fatal(err)
	}
	return s
}

func randomBytes(seed uint64, n int) []byte {
	var s [32]byte
	s[0] = byte(seed)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(s).Read(b)
	return b
}

func hexSHA(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// incomplete lists the multipart uploads left open in bucket: a Put that
// failed must abort its upload, not leave parts behind.
func incomplete(t *testing.T, srv *s3test.Server, bucket string) []string {
	t.Helper()
	var out []string
	for u := range srv.Client().ListIncompleteUploads(context.Background(), bucket, "", true) {
		if u.Err != nil {
			t.Fatalf("list incomplete uploads: %v", u.Err)
		}
		out = append(out, u.Key)
	}
	return out
}

// failAfter yields content, then fails with err instead of io.EOF.
type failAfter struct {
	r   io.Reader
	err error
}

func (f *failAfter) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if errors.Is(err, io.EOF) {
		return n, f.err
	}
	return n, err
}

// TestMultipartChecks puts objects of several parts whose content does
// not match what was declared, or whose reader fails: each Put fails, and
// neither an object nor an open multipart upload remains.
func TestMultipartChecks(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket("multipart")
	s := newConfigured(t, srv, "multipart", nil)
	ctx := context.Background()
	content := randomBytes(1, 12<<20+12345) // three parts of 5 MiB
	errBoom := errors.New("boom")

	// Content that is an io.ReaderAt goes in one PUT the server checks
	// against the declared SHA-256 (checkedPut), or, with no declaration
	// or a server that does not check, is uploaded in parts straight from
	// it (multipartAt); any other is read part by part (multipart).
	hashedHere := newConfigured(t, srv, "multipart", nil)
	hashedHere.b.checksums.Store(checksumsIgnored)
	for how, side := range map[string]struct {
		s    *storage
		wrap func(*bytes.Reader) io.Reader
	}{
		"readerat":             {s, func(r *bytes.Reader) io.Reader { return r }},
		"readerat-hashed-here": {hashedHere, func(r *bytes.Reader) io.Reader { return r }},
		"stream":               {s, func(r *bytes.Reader) io.Reader { return struct{ io.Reader }{r} }},
	} {
		wrap := side.wrap
		for _, c := range []struct {
			name string
			r    io.Reader
			size int64
			sum  string
			want error
		}{
			{"wrong sha256", wrap(bytes.NewReader(content)), int64(len(content)), hexSHA([]byte("other")), sdk.ErrContentMismatch},
			{"wrong sha256 unknown size", wrap(bytes.NewReader(content)), -1, hexSHA([]byte("other")), sdk.ErrContentMismatch},
			{"too long", wrap(bytes.NewReader(content)), int64(len(content)) - 1, "", sdk.ErrContentMismatch},
			{"too long by parts", wrap(bytes.NewReader(content)), 6 << 20, "", sdk.ErrContentMismatch},
			{"too short", wrap(bytes.NewReader(content)), int64(len(content)) + 1, "", sdk.ErrContentMismatch},
			{"reader fails", &failAfter{bytes.NewReader(content), errBoom}, int64(len(content)), "", errBoom},
			{"malformed declared sha256", wrap(bytes.NewReader(content)), int64(len(content)), "xyz", sdk.ErrContentMismatch},
		} {
			t.Run(how+"/"+c.name, func(t *testing.T) {
				key := "refused/" + how + "/" + strings.ReplaceAll(c.name, " ", "-")
				_, err := side.s.Put(ctx, key, c.r, c.size, sdk.PutOptions{SHA256: c.sum})
				if !errors.Is(err, c.want) {
					t.Fatalf("Put: %v, want an error wrapping %v", err, c.want)
				}
				if _, err := s.Head(ctx, key); !errors.Is(err, sdk.ErrNotFound) {
					t.Fatalf("Head after a refused Put: %v, want ErrNotFound", err)
				}
			})
		}
	}
	if open := incomplete(t, srv, "multipart"); len(open) > 0 {
		t.Fatalf("multipart uploads left open: %q", open)
	}

	// Accepted: the declared SHA-256 is stored and reported by Head, Get and
	// the object itself as the server holds it.
	info, err := s.Put(ctx, "ok/declared", bytes.NewReader(content), -1, sdk.PutOptions{SHA256: strings.ToUpper(hexSHA(content))})
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(content)) || info.SHA256 != hexSHA(content) {
		t.Fatalf("Put returned %+v", info)
	}
	head, err := s.Head(ctx, "ok/declared")
	if err != nil || head.SHA256 != hexSHA(content) || head.Size != int64(len(content)) {
		t.Fatalf("Head = %+v, %v; want size %d and the declared sha256", head, err, len(content))
	}
	raw, err := srv.Client().GetObject(ctx, "multipart", "ok/declared", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(raw)
	raw.Close()
	if err != nil || !bytes.Equal(got, content) {
		t.Fatalf("the server holds %d bytes (err %v), want the %d put", len(got), err, len(content))
	}

	// The server checked the declared SHA-256 of content it could read
	// straight from a file, and it stands in for the check here.
	if got := s.b.checksums.Load(); got != checksumsVerified {
		t.Errorf("after checked PUTs the backend says the server's checksums are %d, want verified (%d)", got, checksumsVerified)
	}
	f := filepath.Join(t.TempDir(), "content")
	if err := os.WriteFile(f, content, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		st   *storage
	}{{"checked by the server", s}, {"hashed here", hashedHere}} {
		file, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		key := "ok/file/" + strings.ReplaceAll(c.name, " ", "-")
		info, err := c.st.Put(ctx, key, file, int64(len(content)), sdk.PutOptions{SHA256: hexSHA(content)})
		pos, _ := file.Seek(0, io.SeekCurrent)
		file.Close()
		if err != nil || info.SHA256 != hexSHA(content) || pos != int64(len(content)) {
			t.Fatalf("%s: Put of a file = %+v, %v, file left at %d; want the declared sha256 and the file at its end", c.name, info, err, pos)
		}
		if head, err := s.Head(ctx, key); err != nil || head.SHA256 != hexSHA(content) || head.Size != int64(len(content)) {
			t.Fatalf("%s: Head = %+v, %v", c.name, head, err)
		}
	}

	// Without a declaration a multipart object's SHA-256 is not known to
	// Head (it would have to be in the metadata before the first byte).
	if _, err := s.Put(ctx, "ok/undeclared", bytes.NewReader(content), -1, sdk.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if head, err := s.Head(ctx, "ok/undeclared"); err != nil || head.SHA256 != "" {
		t.Fatalf("Head of an undeclared multipart object = %+v, %v", head, err)
	}
	// A small one has it anyway: it is hashed before it is sent.
	if _, err := s.Put(ctx, "ok/small", bytes.NewReader(content[:1000]), -1, sdk.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if head, err := s.Head(ctx, "ok/small"); err != nil || head.SHA256 != hexSHA(content[:1000]) {
		t.Fatalf("Head of a small object = %+v, %v", head, err)
	}
	// An exact multiple of the part size: no empty last part.
	exact := content[:10<<20]
	if _, err := s.Put(ctx, "ok/exact", bytes.NewReader(exact), int64(len(exact)), sdk.PutOptions{SHA256: hexSHA(exact)}); err != nil {
		t.Fatalf("Put of exactly two parts: %v", err)
	}
}

// TestListPaginates lists more objects than one S3 page (1000) holds.
func TestListPaginates(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket("pages")
	s := newConfigured(t, srv, "pages", map[string]any{"prefix": "deep/prefix"})
	ctx := context.Background()
	const n = 1010
	keys := make(chan string)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for k := range keys {
				if _, err := s.Put(ctx, k, strings.NewReader("x"), 1, sdk.PutOptions{}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range n {
		keys <- fmt.Sprintf("many/%05d", i)
	}
	close(keys)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	objs, err := s.List(ctx, "many/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != n || objs[0].Key != "many/00000" || objs[n-1].Key != fmt.Sprintf("many/%05d", n-1) {
		t.Fatalf("List returned %d objects (first %v), want %d from many/00000", len(objs), objs[:min(1, len(objs))], n)
	}
	// The prefix is the plugin's business: the server holds the objects
	// under it, the caller never sees it.
	all, err := srv.Objects("pages")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := all["deep/prefix/many/00000"]; !ok || len(all) != n {
		t.Fatalf("server holds %d objects, want %d under deep/prefix/", len(all), n)
	}
}

// TestPresignedURLs uses the URLs with a plain HTTP client.
func TestPresignedURLs(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket("presign")
	s := newConfigured(t, srv, "presign", nil)
	ctx := context.Background()

	putURL, err := s.Presign(ctx, "via/url", http.MethodPut, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPut, putURL, strings.NewReader("uploaded through a presigned URL"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT to the presigned URL: %s", resp.Status)
	}
	getURL, err := s.Presign(ctx, "via/url", http.MethodGet, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(getURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "uploaded through a presigned URL" {
		t.Fatalf("GET of the presigned URL: %s %q", resp.Status, body)
	}
	for _, c := range []struct {
		method string
		expiry time.Duration
	}{{"DELETE", time.Minute}, {"GET", 0}, {"GET", 8 * 24 * time.Hour}} {
		if _, err := s.Presign(ctx, "via/url", c.method, c.expiry); err == nil {
			t.Errorf("Presign(%s, %s) succeeded", c.method, c.expiry)
		}
	}
}

// TestTLS talks HTTPS to a server whose certificate only the test's CA
// vouches for: with ca_file it works, without it fails, and with
// tls_verify=false it works again.
func TestTLS(t *testing.T) {
	srv := s3test.StartTLS(t)
	srv.CreateBucket("secure")
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		extra  map[string]any
		wantOK bool
	}{
		{"trusted CA file", nil, true},
		{"system roots only", map[string]any{"ca_file": ""}, false},
		{"verification off", map[string]any{"ca_file": "", "tls_verify": false}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newConfigured(t, srv, "secure", c.extra)
			_, err := s.Put(ctx, "tls/"+c.name, strings.NewReader("x"), 1, sdk.PutOptions{})
			if c.wantOK && err != nil {
				t.Fatalf("Put over TLS: %v", err)
			}
			if !c.wantOK && (err == nil || !strings.Contains(err.Error(), "certificate")) {
				t.Fatalf("Put to an untrusted certificate: %v, want a certificate error", err)
			}
		})
	}
}

// TestMissingBucket: a bucket that does not exist is a configuration
// problem, not a missing key.
func TestMissingBucket(t *testing.T) {
	srv := s3test.Start(t)
	s := newConfigured(t, srv, "nobucket", nil)
	_, err := s.Head(context.Background(), "k")
	if err == nil || errors.Is(err, sdk.ErrNotFound) {
		t.Fatalf("Head in a missing bucket: %v, want an error other than ErrNotFound", err)
	}
	if _, err := s.Put(context.Background(), "k", strings.NewReader("x"), 1, sdk.PutOptions{}); err == nil {
		t.Fatal("Put into a missing bucket succeeded")
	}
}

// TestNotConfigured: calls before Configure fail cleanly.
func TestNotConfigured(t *testing.T) {
	s := newStorage()
	if _, err := s.Head(context.Background(), "k"); !errors.Is(err, errNotConfigured) {
		t.Fatalf("Head before Configure: %v", err)
	}
	if _, err := s.List(context.Background(), ""); !errors.Is(err, errNotConfigured) {
		t.Fatalf("List before Configure: %v", err)
	}
}
