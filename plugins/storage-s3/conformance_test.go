package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigilgw/vigil/plugins/sdk"
	"github.com/vigilgw/vigil/plugins/sdk/sdktest"
	"github.com/vigilgw/vigil/plugins/storage-s3/s3test"
)

const binaryName = "vigil-plugin-storage-s3"

// pluginBinary returns the plugin executable to launch: the one `make`
// built into $VIGIL_BIN_DIR when there is one, else a fresh build of this
// package.
func pluginBinary(t testing.TB) string {
	t.Helper()
	if dir := os.Getenv("VIGIL_BIN_DIR"); dir != "" {
		p := filepath.Join(dir, binaryName)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p
		}
	}
	return sdktest.BuildPlugin(t, ".", binaryName)
}

// TestConformance runs the storage suite against a real versitygw: on the
// implementation itself, through the in-process gRPC harness, and through
// the launched binary (AutoMTLS, handshake, Configure), with a small part
// size so that the suite's 20 MiB object is a multipart upload.
func TestConformance(t *testing.T) {
	srv := s3test.Start(t)
	srv.CreateBucket("conformance")
	cfg := srv.PluginConfig("conformance", map[string]any{"part_size": "5MiB", "prefix": "vigil/test"})

	direct := newStorage()
	if err := direct.Configure(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	t.Run("Direct", func(t *testing.T) {
		sdktest.StorageConformance(t, func(*testing.T) sdk.Storage { return direct })
	})
	t.Run("InProcessGRPC", func(t *testing.T) {
		s := sdktest.ServeStorage(t, newStorage(), cfg)
		sdktest.StorageConformance(t, func(*testing.T) sdk.Storage { return s })
	})
	t.Run("LaunchedBinary", func(t *testing.T) {
		s := sdktest.LaunchStorage(t, pluginBinary(t), cfg)
		sdktest.StorageConformance(t, func(*testing.T) sdk.Storage { return s })
	})
}
