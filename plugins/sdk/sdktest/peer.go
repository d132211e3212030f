package sdktest

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// InCI reports whether the tests run in CI (CI=true), where a missing peer
// is a failure, never a skip.
func InCI() bool { return os.Getenv("CI") == "true" }

// RequirePeer returns the absolute path of the executable name, looked up in
// PATH and then in the extra directories given. When it is missing the test
// fails in CI and is skipped elsewhere, with a message saying what to install
// ("make test" installs every peer).
func RequirePeer(t testing.TB, name string, extraDirs ...string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, d := range extraDirs {
		p := d + "/" + name
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	msg := "peer " + name + " is not installed (run `make test-deps`)"
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// WaitFor polls cond every few milliseconds until it returns true or timeout
// passes, then fails the test with what. The timeout is a safety net against
// hangs, never an assertion about speed.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
