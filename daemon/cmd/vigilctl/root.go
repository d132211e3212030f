package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/vigilgw/vigil/daemon/internal/cli"
	"github.com/vigilgw/vigil/daemon/internal/config"
	"github.com/vigilgw/vigil/daemon/internal/control"
	"github.com/vigilgw/vigil/daemon/internal/keys"
	"github.com/vigilgw/vigil/daemon/internal/layout"
	"github.com/vigilgw/vigil/daemon/internal/store"
	"github.com/vigilgw/vigil/daemon/internal/version"
)

// app is what every command reaches through: the configuration named by
// --config, and lazily the store and the control client.
type app struct {
	configPath string
	cfg        *config.Config
	origins    config.Origins
	st         *store.Store
}

func run(args []string) error {
	a := &app{configPath: config.DefaultPath}
	if p := os.Getenv("VIGIL_CONFIG"); p != "" {
		a.configPath = p
	}
	// Global flags come before the command.
	global := flag.NewFlagSet("vigilctl", flag.ContinueOnError)
	global.StringVar(&a.configPath, "config", a.configPath, "configuration file (env VIGIL_CONFIG)")
	showVersion := global.Bool("version", false, "print the version and exit")
	global.Usage = func() {}
	if err := global.Parse(args); err != nil {
		return cli.Usagef("%v", err)
	}
	if *showVersion {
		fmt.Println(version.String("vigilctl"))
		return nil
	}
	defer a.close()
	return cli.Execute(a.commands(), global.Args(), cli.Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr})
}

func (a *app) commands() *cli.Command {
	return &cli.Command{Name: "vigilctl", Sub: []*cli.Command{
		a.usersCmd(), a.groupsCmd(), a.targetsCmd(), a.sessionsCmd(), a.pluginsCmd(),
		a.configCmd(), a.keysCmd(), a.sessionLogsCmd(), a.recordingsCmd(),
		{Name: "reload", Summary: "make the running vigild reload its configuration (as SIGHUP does)", Usage: "", Args: cli.NArgs(0),
			Run: func(e *cli.Env) error {
				var out map[string]string
				if err := a.call("reload", nil, &out); err != nil {
					return err
				}
				fmt.Fprintln(e.Stdout, out["result"])
				return nil
			}},
	}}
}

func (a *app) config() (*config.Config, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	cfg, origins, err := config.Load(a.configPath)
	if err != nil {
		return nil, err
	}
	a.cfg, a.origins = cfg, origins
	return cfg, nil
}

func (a *app) layout() (layout.Layout, error) {
	cfg, err := a.config()
	if err != nil {
		return layout.Layout{}, err
	}
	return layout.Layout{StateDir: cfg.StateDir, LogDir: cfg.LogDir}, nil
}

// store opens the appliance's store, which vigild must have created.
func (a *app) store() (*store.Store, error) {
	if a.st != nil {
		return a.st, nil
	}
	l, err := a.layout()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(l.Store()); err != nil {
		return nil, fmt.Errorf("no store at %s: start vigild once to initialise the appliance (%w)", l.Store(), err)
	}
	if err := dropToOwner(l.StateDir); err != nil {
		return nil, err
	}
	k, err := keys.Load(l.Keys())
	if err != nil {
		return nil, err
	}
	st, err := store.Open(context.Background(), l.Store(), store.Options{
		SealingKey: k.Sealing[:],
		Lockout: store.LockoutPolicy{
			MaxFailures: a.cfg.WUI.LockoutAttempts,
			Duration:    a.cfg.WUI.LockoutDuration,
		},
	})
	if err != nil {
		return nil, err
	}
	a.st = st
	return st, nil
}

// dropToOwner makes a root vigilctl act as the user that owns the state
// directory (the vigil service user), so files it creates (SQLite's -wal and
// -shm) stay readable by vigild.
func dropToOwner(stateDir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	st, err := os.Stat(stateDir)
	if err != nil {
		return fmt.Errorf("state dir: %w", err)
	}
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || sys.Uid == 0 {
		return nil
	}
	if err := syscall.Setgroups([]int{int(sys.Gid)}); err != nil {
		return fmt.Errorf("dropping privileges: %w", err)
	}
	if err := syscall.Setgid(int(sys.Gid)); err != nil {
		return fmt.Errorf("dropping privileges: %w", err)
	}
	if err := syscall.Setuid(int(sys.Uid)); err != nil {
		return fmt.Errorf("dropping privileges: %w", err)
	}
	return nil
}

// call invokes the running vigild.
func (a *app) call(name string, in, out any) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	sock := cfg.Control.Socket
	if !filepath.IsAbs(sock) {
		sock = filepath.Join(cfg.StateDir, sock)
	}
	return control.NewClient(sock).Call(context.Background(), name, in, out)
}

func (a *app) close() {
	if a.st != nil {
		a.st.Close()
	}
}

// readSecret reads one line (a password) from stdin, without its newline.
func readSecret(e *cli.Env) (string, error) {
	var b strings.Builder
	buf := make([]byte, 1)
	for {
		n, err := e.Stdin.Read(buf)
		if n == 1 {
			if buf[0] == '\n' {
				break
			}
			b.WriteByte(buf[0])
			if b.Len() > 4096 {
				return "", fmt.Errorf("password on stdin is longer than 4096 bytes")
			}
		}
		if err != nil {
			break
		}
	}
	s := strings.TrimSuffix(b.String(), "\r")
	if s == "" {
		return "", fmt.Errorf("no password on stdin")
	}
	return s, nil
}
