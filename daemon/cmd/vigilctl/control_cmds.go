package main

import (
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/vigilgw/vigil/daemon/internal/cli"
)

// LiveSession is one row of `sessions list`, as vigild's control socket
// returns it.
type LiveSession struct {
	ID       string    `json:"id"`
	Protocol string    `json:"protocol"`
	User     string    `json:"user"`
	Target   string    `json:"target"`
	Client   string    `json:"client"`
	Start    time.Time `json:"start"`
	BytesIn  int64     `json:"bytes_in"`
	BytesOut int64     `json:"bytes_out"`
	Recorded bool      `json:"recorded"`
}

// PluginHealth is one row of `plugins list`.
type PluginHealth struct {
	Name       string    `json:"name"`
	Kind       string    `json:"kind"`
	Version    string    `json:"version"`
	APIVersion int       `json:"api_version"`
	State      string    `json:"state"`
	Restarts   int       `json:"restarts"`
	PID        int       `json:"pid"`
	StartedAt  time.Time `json:"started_at"`
	LastError  string    `json:"last_error"`
}

func (a *app) sessionsCmd() *cli.Command {
	var all bool
	var user string
	return &cli.Command{Name: "sessions", Summary: "live sessions on the running vigild", Sub: []*cli.Command{
		{Name: "list", Summary: "list live sessions", Args: cli.NArgs(0), Run: func(e *cli.Env) error {
			var ss []LiveSession
			if err := a.call("sessions.list", nil, &ss); err != nil {
				return err
			}
			w := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "ID\tPROTOCOL\tUSER\tTARGET\tCLIENT\tSTART\tBYTES IN\tBYTES OUT\tRECORDED")
			for _, s := range ss {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%t\n", s.ID, s.Protocol, printable(s.User), s.Target, s.Client,
					s.Start.UTC().Format(time.RFC3339), s.BytesIn, s.BytesOut, s.Recorded)
			}
			return w.Flush()
		}},
		{Name: "kill", Usage: "ID | --all [--user U]", Summary: "end live sessions (both sides are closed)",
			Flags: func(fs *flag.FlagSet) {
				fs.BoolVar(&all, "all", false, "kill every live session")
				fs.StringVar(&user, "user", "", "with --all: only this user's sessions")
			},
			Args: func(n int) bool { return n <= 1 },
			Run: func(e *cli.Env) error {
				var out struct {
					Killed []string `json:"killed"`
				}
				switch {
				case all && len(e.Args) == 0:
					if err := a.call("sessions.kill_all", map[string]string{"user": user, "by": "vigilctl"}, &out); err != nil {
						return err
					}
				case !all && len(e.Args) == 1 && user == "":
					if err := a.call("sessions.kill", map[string]string{"id": e.Args[0], "by": "vigilctl"}, &out); err != nil {
						return err
					}
				default:
					return cli.Usagef("sessions kill: give a session ID, or --all [--user U]")
				}
				fmt.Fprintf(e.Stdout, "killed %d session(s)\n", len(out.Killed))
				for _, id := range out.Killed {
					fmt.Fprintln(e.Stdout, id)
				}
				return nil
			}},
	}}
}

func (a *app) pluginsCmd() *cli.Command {
	return &cli.Command{Name: "plugins", Summary: "plugins of the running vigild", Sub: []*cli.Command{
		{Name: "list", Summary: "list plugins and their health", Args: cli.NArgs(0), Run: func(e *cli.Env) error {
			var ps []PluginHealth
			if err := a.call("plugins.list", nil, &ps); err != nil {
				return err
			}
			w := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tKIND\tVERSION\tAPI\tSTATE\tRESTARTS\tPID\tLAST ERROR")
			for _, p := range ps {
				fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%d\t%d\t%s\n", p.Name, p.Kind, p.Version, p.APIVersion, p.State, p.Restarts, p.PID, p.LastError)
			}
			return w.Flush()
		}},
	}}
}
