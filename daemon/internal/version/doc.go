// Package version holds the version stamped into every binary at build time
// with -ldflags "-X github.com/vigilgw/vigil/daemon/internal/version.Version=...".
package version
