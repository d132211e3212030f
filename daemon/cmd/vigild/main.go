// Command vigild is the Vigil appliance's core: it proxies and records
// sessions, runs the recording pipeline and the event sinks, supervises the
// plugins and serves the web UI. systemd starts it (Type=notify).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/hashicorp/go-hclog"

	"github.com/vigilgw/vigil/daemon/internal/app"
	"github.com/vigilgw/vigil/daemon/internal/config"
	"github.com/vigilgw/vigil/daemon/internal/logsink"
	"github.com/vigilgw/vigil/daemon/internal/version"
)

func main() {
	err := run(os.Args[1:])
	var usage usageError
	switch {
	case err == nil:
	case errors.As(err, &usage):
		// The flag package has printed the error and the usage.
		if !usage.printed {
			fmt.Fprintln(os.Stderr, "vigild:", err)
		}
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "vigild:", err)
		os.Exit(1)
	}
}

// usageError is a bad command line: exit status 2, as vigilctl's.
type usageError struct {
	err     error
	printed bool
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func run(args []string) error {
	fs := flag.NewFlagSet("vigild", flag.ContinueOnError)
	path := fs.String("config", config.DefaultPath, "configuration file")
	check := fs.Bool("check-config", false, "check the configuration (and settings.toml) and exit")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err: err, printed: true}
	}
	if fs.NArg() > 0 {
		return usageError{err: fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *showVersion {
		fmt.Println(version.String("vigild"))
		return nil
	}
	if *check {
		cfg, _, err := config.Load(*path)
		if err != nil {
			return err
		}
		if err := logsink.CheckAll(cfg); err != nil {
			return fmt.Errorf("config: %s: %w", *path, err)
		}
		fmt.Printf("%s: ok\n", *path)
		return nil
	}
	logger := hclog.New(&hclog.LoggerOptions{
		Name:       "vigild",
		Output:     os.Stderr,
		JSONFormat: os.Getenv("INVOCATION_ID") != "", // under systemd: structured for the journal
	})
	return app.Run(context.Background(), app.Options{ConfigPath: *path, Logger: logger})
}
