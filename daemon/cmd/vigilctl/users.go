package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/vigilgw/vigil/daemon/internal/cli"
	"github.com/vigilgw/vigil/daemon/internal/store"
)

func (a *app) usersCmd() *cli.Command {
	var groups cli.Strings
	var pwStdin bool
	pwFlags := func(fs *flag.FlagSet) {
		fs.BoolVar(&pwStdin, "password-stdin", false, "read the password from the first line of stdin")
	}
	return &cli.Command{Name: "users", Summary: "manage gateway and web UI users", Sub: []*cli.Command{
		{Name: "add", Usage: "NAME [--group G]... --password-stdin", Summary: "add a user",
			Flags: func(fs *flag.FlagSet) {
				groups = nil
				fs.Var(&groups, "group", "group to join (repeatable)")
				pwFlags(fs)
			},
			Args: cli.NArgs(1),
			Run: func(e *cli.Env) error {
				if !pwStdin {
					return cli.Usagef("users add: --password-stdin is required (passwords never go on the command line)")
				}
				pw, err := readSecret(e)
				if err != nil {
					return err
				}
				st, err := a.store()
				if err != nil {
					return err
				}
				ctx := context.Background()
				var gs []store.Group
				for _, g := range groups {
					grp, err := st.GetGroupByName(ctx, g)
					if err != nil {
						return fmt.Errorf("group %q: %w", g, err)
					}
					gs = append(gs, grp)
				}
				u, err := st.CreateUser(ctx, e.Args[0], pw)
				if err != nil {
					return err
				}
				for _, g := range gs {
					if err := st.AddUserToGroup(ctx, u.ID, g.ID); err != nil {
						return err
					}
				}
				fmt.Fprintf(e.Stdout, "user %s added (id %d)\n", u.Name, u.ID)
				return nil
			}},
		{Name: "passwd", Usage: "NAME --password-stdin", Summary: "set a user's password (and unlock it)", Flags: pwFlags, Args: cli.NArgs(1),
			Run: func(e *cli.Env) error {
				if !pwStdin {
					return cli.Usagef("users passwd: --password-stdin is required")
				}
				pw, err := readSecret(e)
				if err != nil {
					return err
				}
				st, u, err := a.user(e.Args[0])
				if err != nil {
					return err
				}
				if err := st.SetPassword(context.Background(), u.ID, pw); err != nil {
					return err
				}
				if err := st.UnlockUser(context.Background(), u.ID); err != nil {
					return err
				}
				fmt.Fprintf(e.Stdout, "password of %s changed\n", u.Name)
				return nil
			}},
		{Name: "list", Summary: "list users", Args: cli.NArgs(0), Run: func(e *cli.Env) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			ctx := context.Background()
			us, err := st.ListUsers(ctx)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tGROUPS\tSTATE\tLAST LOGIN")
			for _, u := range us {
				gs, err := st.UserGroups(ctx, u.ID)
				if err != nil {
					return err
				}
				names := make([]string, len(gs))
				for i, g := range gs {
					names[i] = g.Name
				}
				state := "active"
				switch {
				case u.Disabled:
					state = "disabled"
				case !u.LockedUntil.IsZero():
					state = "locked until " + u.LockedUntil.UTC().Format("2006-01-02 15:04Z")
				}
				last := "never"
				if !u.LastLogin.IsZero() {
					last = u.LastLogin.UTC().Format("2006-01-02 15:04:05Z")
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", printable(u.Name), strings.Join(names, ","), state, last)
			}
			return w.Flush()
		}},
		{Name: "del", Usage: "NAME", Summary: "delete a user", Args: cli.NArgs(1), Run: func(e *cli.Env) error {
			st, u, err := a.user(e.Args[0])
			if err != nil {
				return err
			}
			if err := st.DeleteUser(context.Background(), u.ID); err != nil {
				return err
			}
			fmt.Fprintf(e.Stdout, "user %s deleted\n", printable(u.Name))
			return nil
		}},
		{Name: "add-key", Usage: "NAME KEYFILE", Summary: "add SSH public keys (authorized_keys lines) for a user", Args: cli.NArgs(2), Run: func(e *cli.Env) error {
			st, u, err := a.user(e.Args[0])
			if err != nil {
				return err
			}
			data, err := os.ReadFile(e.Args[1])
			if err != nil {
				return err
			}
			n := 0
			for i, line := range strings.Split(string(data), "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				k, err := st.AddUserKey(context.Background(), u.ID, line)
				if err != nil {
					return fmt.Errorf("%s:%d: %w", e.Args[1], i+1, err)
				}
				fmt.Fprintf(e.Stdout, "key %s added for %s\n", k.Fingerprint, printable(u.Name))
				n++
			}
			if n == 0 {
				return fmt.Errorf("%s: no public key found", e.Args[1])
			}
			return nil
		}},
	}}
}

func (a *app) user(name string) (*store.Store, store.User, error) {
	st, err := a.store()
	if err != nil {
		return nil, store.User{}, err
	}
	u, err := st.GetUserByName(context.Background(), name)
	if err != nil {
		return nil, store.User{}, fmt.Errorf("user %q: %w", name, err)
	}
	return st, u, nil
}

// printable quotes a name that holds control characters, so a hostile name
// cannot rewrite the operator's terminal.
func printable(s string) string {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}
