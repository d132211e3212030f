package main

import (
	"flag"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/vigilgw/vigil/daemon/internal/cli"
	"github.com/vigilgw/vigil/daemon/internal/config"
	"github.com/vigilgw/vigil/daemon/internal/keys"
	"github.com/vigilgw/vigil/daemon/internal/logsink"
	"github.com/vigilgw/vigil/plugins/sdk/capture"
)

func (a *app) configCmd() *cli.Command {
	return &cli.Command{Name: "config", Summary: "show or check the configuration", Sub: []*cli.Command{
		{Name: "show", Summary: "print every effective value with its origin (default, file, settings); secrets masked", Args: cli.NArgs(0),
			Run: func(e *cli.Env) error {
				cfg, err := a.config()
				if err != nil {
					return err
				}
				w := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(w, "KEY\tVALUE\tORIGIN")
				for _, en := range config.Show(cfg) {
					fmt.Fprintf(w, "%s\t%s\t%s\n", en.Key, en.Value, en.Origin)
				}
				return w.Flush()
			}},
		{Name: "check", Summary: "check the configuration file (and settings.toml) without starting anything", Args: cli.NArgs(0),
			Run: func(e *cli.Env) error {
				cfg, _, err := config.Load(a.configPath)
				if err != nil {
					return err
				}
				if err := logsink.CheckAll(cfg); err != nil {
					return fmt.Errorf("config: %s: %w", a.configPath, err)
				}
				fmt.Fprintf(e.Stdout, "%s: ok\n", a.configPath)
				return nil
			}},
	}}
}

func (a *app) keysCmd() *cli.Command {
	var output string
	return &cli.Command{Name: "keys", Summary: "the appliance's signing key", Sub: []*cli.Command{
		{Name: "export", Usage: "[--output FILE]", Summary: "print the public key that verifies session logs offline",
			Flags: func(fs *flag.FlagSet) { fs.StringVar(&output, "output", "", "write to FILE instead of stdout") },
			Args:  cli.NArgs(0),
			Run: func(e *cli.Env) error {
				l, err := a.layout()
				if err != nil {
					return err
				}
				if err := dropToOwner(l.StateDir); err != nil {
					return err
				}
				k, err := keys.Load(l.Keys())
				if err != nil {
					return err
				}
				pem := capture.MarshalPublicKey(k.Public())
				if output == "" {
					_, err := e.Stdout.Write(pem)
					return err
				}
				return os.WriteFile(output, pem, 0o644)
			}},
	}}
}
