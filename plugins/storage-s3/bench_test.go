package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
	"github.com/vigilgw/vigil/plugins/storage-s3/s3test"
)

// benchObjectSize is the size of one uploaded object: a 150 MB capture
// segment's order of magnitude, several parts at the default part size.
const benchObjectSize = 64 << 20

// BenchmarkUpload uploads the same 64 MiB object to the same versitygw
// with minio-go called directly (baseline: PutObject from memory, its
// default options) and through the launched plugin over gRPC (vigil: the
// content streamed over AutoMTLS, the declared SHA-256 checked, the parts
// uploaded by the plugin). `make bench` prints vigil/baseline in MB/s.
// B/op and allocs/op count this process only: minio-go's on the baseline
// side, the host side of the plugin call on the vigil side.
func BenchmarkUpload(b *testing.B) {
	srv := s3test.Start(b)
	srv.CreateBucket("bench")
	data := randomBytes(7, benchObjectSize)
	sum := hexSHA(data)
	ctx := context.Background()

	b.Run("baseline", func(b *testing.B) {
		c := srv.Client()
		b.SetBytes(benchObjectSize)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := c.PutObject(ctx, "bench", fmt.Sprintf("baseline/%d", i), bytes.NewReader(data), benchObjectSize,
				minio.PutObjectOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("vigil", func(b *testing.B) {
		s := sdktest.LaunchStorage(b, pluginBinary(b), srv.PluginConfig("bench", nil))
		b.SetBytes(benchObjectSize)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			i++
			if _, err := s.Put(ctx, fmt.Sprintf("vigil/%d", i), bytes.NewReader(data), benchObjectSize,
				sdk.PutOptions{SHA256: sum}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
