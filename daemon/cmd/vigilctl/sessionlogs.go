package main

import (
	"crypto/ed25519"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/vigilgw/vigil/daemon/internal/cli"
	"github.com/vigilgw/vigil/daemon/internal/keys"
	"github.com/vigilgw/vigil/daemon/internal/sessionlog"
)

// sessionLogsCmd verifies, exports and reads signed session logs (.vsl).
// It needs no running vigild and, with --pubkey, no appliance at all: an
// auditor verifies offline with the exported public key.
func (a *app) sessionLogsCmd() *cli.Command {
	var pubFile, format, output string
	var insecure bool
	pubFlag := func(fs *flag.FlagSet) {
		fs.StringVar(&pubFile, "pubkey", "", "public key file (vigilctl keys export); default: this appliance's key")
	}
	insecureFlag := func(fs *flag.FlagSet) {
		fs.BoolVar(&insecure, "insecure", false, "read a session log that does not verify")
	}
	return &cli.Command{Name: "session-logs", Summary: "verify, export and read signed session logs", Sub: []*cli.Command{
		{Name: "verify", Usage: "[--pubkey FILE] FILE...", Summary: "check signatures and hash chain: verified, altered (first bad record), truncated, or wrong key",
			Flags: pubFlag, Args: cli.MinArgs(1),
			Run: func(e *cli.Env) error {
				pub, err := a.publicKey(pubFile)
				if err != nil {
					return err
				}
				return sessionlog.Verify(e.Args, pub, e.Stdout)
			}},
		{Name: "export", Usage: "[--format json|asciinema] [--insecure] [--pubkey FILE] FILE [--output OUT]",
			Summary: "export a session log as JSON (header + base64 frames) or an asciinema cast",
			Flags: func(fs *flag.FlagSet) {
				pubFlag(fs)
				insecureFlag(fs)
				fs.StringVar(&format, "format", "json", "json or asciinema")
				fs.StringVar(&output, "output", "", "write to OUT instead of stdout")
			},
			Args: cli.NArgs(1),
			Run: func(e *cli.Env) error {
				f, err := sessionlog.ParseFormat(format)
				if err != nil {
					return cli.Exit(2, err)
				}
				pub, err := a.publicKey(pubFile)
				if err != nil {
					return err
				}
				var w io.Writer = e.Stdout
				if output != "" {
					out, err := os.OpenFile(output, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
					if err != nil {
						return err
					}
					defer out.Close()
					w = out
				}
				return sessionlog.Export(e.Args[0], f, insecure, pub, w)
			}},
		{Name: "cat", Usage: "[--insecure] [--pubkey FILE] FILE", Summary: "print the decoded terminal output",
			Flags: func(fs *flag.FlagSet) { pubFlag(fs); insecureFlag(fs) }, Args: cli.NArgs(1),
			Run: func(e *cli.Env) error {
				pub, err := a.publicKey(pubFile)
				if err != nil {
					return err
				}
				return sessionlog.Cat(e.Args[0], insecure, pub, e.Stdout)
			}},
	}}
}

// publicKey is the key named by --pubkey, else this appliance's own.
func (a *app) publicKey(file string) (ed25519.PublicKey, error) {
	if file != "" {
		return sessionlog.LoadPublicKey(file)
	}
	l, err := a.layout()
	if err != nil {
		return nil, fmt.Errorf("no --pubkey given and no appliance configuration: %w", err)
	}
	if err := dropToOwner(l.StateDir); err != nil {
		return nil, err
	}
	k, err := keys.Load(l.Keys())
	if err != nil {
		return nil, fmt.Errorf("no --pubkey given: %w", err)
	}
	return k.Public(), nil
}
