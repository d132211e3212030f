// Package sessionlog is what `vigilctl session-logs` does with signed
// captures, offline, with nothing but the appliance's exported public key:
// verify them (one line per file, an exit code per verdict), export them as
// JSON or asciicast v2, and print their terminal output (cat). Flag parsing
// stays in daemon/cmd/vigilctl; errors carry exit codes as *cli.ExitError.
package sessionlog
