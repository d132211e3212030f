package wui_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportBoundary: the WUI depends on the interfaces it declares, never
// on the daemon's internals or a plugin's implementation.
func TestImportBoundary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "github.com/vigilgw/vigil/wui/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/vigilgw/vigil/daemon/") ||
			(strings.HasPrefix(pkg, "github.com/vigilgw/vigil/plugins/") && !strings.HasPrefix(pkg, "github.com/vigilgw/vigil/plugins/sdk")) {
			t.Errorf("wui depends on %s", pkg)
		}
	}
}
