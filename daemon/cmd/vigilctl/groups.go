package main

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/vigilgw/vigil/daemon/internal/cli"
	"github.com/vigilgw/vigil/daemon/internal/store"
)

func (a *app) groupsCmd() *cli.Command {
	var perms, settings cli.Strings
	return &cli.Command{Name: "groups", Summary: "manage groups (permissions and settings such as record_sessions)", Sub: []*cli.Command{
		{Name: "add", Usage: "NAME [--permission P]... [--setting k=v]...", Summary: "add a group",
			Flags: func(fs *flag.FlagSet) {
				perms, settings = nil, nil
				fs.Var(&perms, "permission", "permission to grant (repeatable): "+permissionNames())
				fs.Var(&settings, "setting", "group setting k=v (repeatable), e.g. record_sessions=false")
			},
			Args: cli.NArgs(1),
			Run: func(e *cli.Env) error {
				var ps []store.Permission
				for _, p := range perms {
					perm, err := store.ParsePermission(p)
					if err != nil {
						return err
					}
					ps = append(ps, perm)
				}
				set := map[string]string{}
				for _, kv := range settings {
					k, v, ok := strings.Cut(kv, "=")
					if !ok || k == "" {
						return cli.Usagef("groups add: --setting %q: want key=value", kv)
					}
					set[k] = v
				}
				st, err := a.store()
				if err != nil {
					return err
				}
				g, err := st.CreateGroup(context.Background(), e.Args[0], ps, set)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.Stdout, "group %s added (id %d)\n", g.Name, g.ID)
				return nil
			}},
		{Name: "list", Summary: "list groups", Args: cli.NArgs(0), Run: func(e *cli.Env) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			gs, err := st.ListGroups(context.Background())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tPERMISSIONS\tSETTINGS")
			for _, g := range gs {
				ps := make([]string, len(g.Permissions))
				for i, p := range g.Permissions {
					ps[i] = string(p)
				}
				var kv []string
				for k, v := range g.Settings {
					kv = append(kv, k+"="+v)
				}
				sort.Strings(kv)
				fmt.Fprintf(w, "%s\t%s\t%s\n", printable(g.Name), strings.Join(ps, ","), strings.Join(kv, ","))
			}
			return w.Flush()
		}},
	}}
}

func permissionNames() string {
	var ns []string
	for _, p := range store.AllPermissions() {
		ns = append(ns, string(p))
	}
	return strings.Join(ns, ", ")
}
