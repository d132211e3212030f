package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
	"github.com/vigilgw/vigil/plugins/storage-s3/s3test"
)

// benchObjectSize is the size of one uploaded object: a 150 MB capture
// segment's order of magnitude, several parts at the default part size.
const benchObjectSize = 64 << 20

// BenchmarkUpload uploads the same 64 MiB file to the same versitygw
// (plain http, on this machine) with minio-go called directly and through
// the launched plugin, as the recording pipeline uploads a sealed spool
// file. `make bench` prints vigil/baseline in MB/s.
//
//   - baseline: minio-go's Client.PutObject with its default options, given
//     the open *os.File (an io.ReaderAt, so minio-go uploads 16 MiB parts
//     read straight from the file, 4 at once, each with a streaming
//     signature: the server checks a SHA-256 of every 64 KiB chunk).
//   - vigil: sdk's host client Put of the same open *os.File, size and
//     declared SHA-256 to the plugin process (handshake, AutoMTLS,
//     Configure as vigild does). The host passes the file itself on the
//     plugin's side channel and the Put call carries only its token; the
//     plugin uploads 16 MiB parts straight from the file, 4 at once, with
//     the same streaming signatures, and meanwhile hashes the whole
//     content, which it checks against the declared SHA-256 before it
//     completes the upload.
//
// Both sides start each upload from offset 0 of the file, which stays in
// the page cache. Each side starts on a quiet disk: after its loop
// (untimed) it removes what it uploaded and syncs, so that the server's
// dirty pages are not written back while the other side runs. B/op and
// allocs/op count this process only: minio-go's on the baseline side, the
// host side of the plugin call on the vigil side.
func BenchmarkUpload(b *testing.B) {
	srv := s3test.Start(b)
	srv.CreateBucket("bench")
	data := randomBytes(7, benchObjectSize)
	sum := hexSHA(data)
	path := filepath.Join(b.TempDir(), "segment")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rewind := func(b *testing.B) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	// settle removes the objects under prefix and writes everything dirty
	// back to disk.
	settle := func(b *testing.B, prefix string) {
		c := srv.Client()
		for o := range c.ListObjects(ctx, "bench", minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			if o.Err != nil {
				b.Fatal(o.Err)
			}
			if err := c.RemoveObject(ctx, "bench", o.Key, minio.RemoveObjectOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		syscall.Sync()
	}
	settle(b, "")

	b.Run("baseline", func(b *testing.B) {
		c := srv.Client()
		b.SetBytes(benchObjectSize)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			rewind(b)
			if _, err := c.PutObject(ctx, "bench", fmt.Sprintf("baseline/%d", i), f, benchObjectSize,
				minio.PutObjectOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		settle(b, "baseline/")
	})
	b.Run("vigil", func(b *testing.B) {
		s := sdktest.LaunchStorage(b, pluginBinary(b), srv.PluginConfig("bench", nil))
		b.SetBytes(benchObjectSize)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			rewind(b)
			if _, err := s.Put(ctx, fmt.Sprintf("vigil/%d", i), f, benchObjectSize,
				sdk.PutOptions{SHA256: sum}); err != nil {
				b.Fatal(err)
			}
		}
		settle(b, "vigil/")
	})
}
