package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
)

// ExitError carries a process exit code with its message.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Exit wraps err with an exit code.
func Exit(code int, err error) error { return &ExitError{Code: code, Err: err} }

// ErrUsage marks a command line that does not fit the command (exit 2).
var ErrUsage = errors.New("usage")

// Usagef returns a usage error with a message.
func Usagef(format string, args ...any) error {
	return Exit(2, fmt.Errorf("%w: "+format, append([]any{ErrUsage}, args...)...))
}

// Env is what a command runs with.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Args are the positional arguments left after flag parsing.
	Args []string
}

// Command is one node of the command tree: either Run or Sub is set.
type Command struct {
	Name    string
	Usage   string // arguments, e.g. "NAME [--group G]..."
	Summary string
	// Flags registers the command's flags on fs; called once per run.
	Flags func(fs *flag.FlagSet)
	// Args, if non-nil, checks the number of positional arguments.
	Args func(n int) bool
	Run  func(env *Env) error
	Sub  []*Command
}

// Execute runs the command named by args below root.
func Execute(root *Command, args []string, env Env) error {
	cmd, path := root, root.Name
	for len(cmd.Sub) > 0 {
		if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			cmd.help(env.Stdout, path)
			if len(args) == 0 {
				return Usagef("%s needs a command", path)
			}
			return nil
		}
		next := cmd.find(args[0])
		if next == nil {
			cmd.help(env.Stderr, path)
			return Usagef("%s: unknown command %q", path, args[0])
		}
		cmd, path, args = next, path+" "+next.Name, args[1:]
	}
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if cmd.Flags != nil {
		cmd.Flags(fs)
	}
	pos, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		cmd.usage(env.Stdout, path, fs)
		return nil
	}
	if err != nil {
		cmd.usage(env.Stderr, path, fs)
		return Usagef("%s: %v", path, err)
	}
	if cmd.Args != nil && !cmd.Args(len(pos)) {
		cmd.usage(env.Stderr, path, fs)
		return Usagef("%s: wrong number of arguments", path)
	}
	env.Args = pos
	return cmd.Run(&env)
}

// parseInterspersed parses flags anywhere among the arguments; "--" ends
// flag parsing.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		// flag stops at "--" (consumed) or at the first non-flag.
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func (c *Command) find(name string) *Command {
	for _, s := range c.Sub {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func (c *Command) help(w io.Writer, path string) {
	fmt.Fprintf(w, "Usage: %s <command>\n\nCommands:\n", path)
	subs := append([]*Command(nil), c.Sub...)
	sort.Slice(subs, func(i, j int) bool { return subs[i].Name < subs[j].Name })
	for _, s := range subs {
		fmt.Fprintf(w, "  %-14s %s\n", s.Name, s.Summary)
	}
}

func (c *Command) usage(w io.Writer, path string, fs *flag.FlagSet) {
	fmt.Fprintf(w, "Usage: %s %s\n", path, c.Usage)
	if c.Summary != "" {
		fmt.Fprintf(w, "%s\n", c.Summary)
	}
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// Strings is a repeatable string flag (--group a --group b).
type Strings []string

func (s *Strings) String() string     { return strings.Join(*s, ",") }
func (s *Strings) Set(v string) error { *s = append(*s, v); return nil }

// NArgs returns an Args check for exactly n arguments.
func NArgs(n int) func(int) bool { return func(got int) bool { return got == n } }

// MinArgs returns an Args check for at least n arguments.
func MinArgs(n int) func(int) bool { return func(got int) bool { return got >= n } }
