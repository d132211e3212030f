// Package cli is the small command-table framework behind vigilctl:
// nested commands, flags that may follow positional arguments
// ("users add alice --group ops"), generated help, and exit codes carried by
// errors. It owns no command itself.
package cli
