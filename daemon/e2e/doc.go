// Package e2e runs Vigil as its users do: vigild, vigilctl and every plugin
// as real processes, in front of a real OpenSSH sshd, driven by real OpenSSH
// clients (and an x/crypto/ssh client where OpenSSH cannot say what a test
// needs: a resize, a login name with a newline).
//
// This package holds the harness; the tests are in package e2e_test beside
// it. Every test gets its own state directory, configuration and free
// 127.0.0.1 ports, waits on every process it starts and stops each by its
// own PID. The binaries come from $VIGIL_BIN_DIR (set by `make test`) or are
// built once into a temporary directory by Main.
package e2e
