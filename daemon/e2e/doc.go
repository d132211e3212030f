// Package e2e runs Vigil as its users do: vigild, vigilctl and every plugin
// as real processes, in front of a real OpenSSH sshd, driven by real OpenSSH
// clients (ssh, scp, sftp) and an x/crypto/ssh client where OpenSSH cannot
// say what a test needs: a resize, a signal, a forwarded agent, a login
// name with a newline.
//
// This package holds the harness; the tests are in package e2e_test beside
// it. Every test gets its own state directory, configuration and free
// 127.0.0.1 ports, waits on every process it starts and stops each by its
// own PID. The binaries come from $VIGIL_BIN_DIR (set by `make test`) or are
// built once into a temporary directory by Main. One sshd serves the whole
// package (root logs in with a key; it accepts LANG, LC_*, TZ and VIGIL_*
// so that the gateway's environment allowlist is what decides). Like the
// shared sshd, TestSpoolFull needs root: it mounts a small tmpfs as a
// gateway's spool.
package e2e
