package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/vigilgw/vigil/daemon/internal/cli"
	"github.com/vigilgw/vigil/daemon/internal/store"
)

func (a *app) targetsCmd() *cli.Command {
	var (
		protocol, host, username, keyFile, friendly, hostKey string
		port                                                 int
		pwStdin, allowPF, allowAgent                         bool
		groups                                               cli.Strings
	)
	return &cli.Command{Name: "targets", Summary: "manage the servers users reach through the gateway", Sub: []*cli.Command{
		{Name: "add", Usage: "NAME --protocol ssh|vnc|rdp --host H --port P --username U (--password-stdin | --key-file F) [--friendly-name S] [--group G]...",
			Summary: "add a target; its credential is stored encrypted and never shown again",
			Flags: func(fs *flag.FlagSet) {
				groups = nil
				fs.StringVar(&protocol, "protocol", "ssh", "ssh, vnc or rdp")
				fs.StringVar(&host, "host", "", "host name or address of the real server")
				fs.IntVar(&port, "port", 0, "port (0: the protocol's default)")
				fs.StringVar(&username, "username", "", "account the gateway logs in as")
				fs.BoolVar(&pwStdin, "password-stdin", false, "read the target password from stdin")
				fs.StringVar(&keyFile, "key-file", "", "private key file the gateway logs in with")
				fs.StringVar(&friendly, "friendly-name", "", "name shown to users")
				fs.StringVar(&hostKey, "host-key", "", "pin this host key (authorized_keys form); default: pinned on first use")
				fs.BoolVar(&allowPF, "allow-port-forwarding", false, "let users forward ports through this target")
				fs.BoolVar(&allowAgent, "allow-agent-forwarding", false, "let users forward their SSH agent to this target")
				fs.Var(&groups, "group", "group allowed to use the target (repeatable)")
			},
			Args: cli.NArgs(1),
			Run: func(e *cli.Env) error {
				if host == "" {
					return cli.Usagef("targets add: --host is required")
				}
				if pwStdin == (keyFile != "") {
					return cli.Usagef("targets add: give exactly one of --password-stdin and --key-file")
				}
				var cred store.Credential
				if pwStdin {
					pw, err := readSecret(e)
					if err != nil {
						return err
					}
					cred = store.Credential{Kind: store.CredentialPassword, Secret: []byte(pw)}
				} else {
					b, err := os.ReadFile(keyFile)
					if err != nil {
						return err
					}
					cred = store.Credential{Kind: store.CredentialPrivateKey, Secret: b}
				}
				st, err := a.store()
				if err != nil {
					return err
				}
				ctx := context.Background()
				t := store.Target{
					Name: e.Args[0], FriendlyName: friendly, Protocol: store.Protocol(protocol),
					Host: host, Port: port, Username: username, HostKey: hostKey,
					AllowPortForwarding: allowPF, AllowAgentForwarding: allowAgent,
				}
				for _, g := range groups {
					grp, err := st.GetGroupByName(ctx, g)
					if err != nil {
						return fmt.Errorf("group %q: %w", g, err)
					}
					t.Groups = append(t.Groups, grp.ID)
				}
				t, err = st.CreateTarget(ctx, t, &cred)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.Stdout, "target %s added (id %d)\n", t.Name, t.ID)
				return nil
			}},
		{Name: "list", Summary: "list targets (credentials are never shown)", Args: cli.NArgs(0), Run: func(e *cli.Env) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			ts, err := st.ListTargets(context.Background())
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tPROTOCOL\tADDRESS\tUSERNAME\tCREDENTIAL\tHOST KEY\tFRIENDLY NAME")
			for _, t := range ts {
				pinned := "pinned"
				if t.HostKey == "" {
					pinned = "on first use"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Protocol,
					t.Host+":"+strconv.Itoa(t.Port), printable(t.Username), t.CredentialKind, pinned, printable(t.FriendlyName))
			}
			return w.Flush()
		}},
		{Name: "del", Usage: "NAME", Summary: "delete a target", Args: cli.NArgs(1), Run: func(e *cli.Env) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			t, err := st.GetTargetByName(context.Background(), e.Args[0])
			if err != nil {
				return fmt.Errorf("target %q: %w", e.Args[0], err)
			}
			if err := st.DeleteTarget(context.Background(), t.ID); err != nil {
				return err
			}
			fmt.Fprintf(e.Stdout, "target %s deleted\n", t.Name)
			return nil
		}},
	}}
}
