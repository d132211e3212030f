package cli

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

func tree(got *[]string, groups *Strings) *Command {
	return &Command{Name: "vigilctl", Sub: []*Command{{
		Name: "users", Summary: "manage users", Sub: []*Command{{
			Name: "add", Usage: "NAME [--group G]...", Summary: "add a user",
			Flags: func(fs *flag.FlagSet) { *groups = nil; fs.Var(groups, "group", "group") },
			Args:  NArgs(1),
			Run:   func(e *Env) error { *got = e.Args; return nil },
		}},
	}}}
}

func TestInterspersedFlags(t *testing.T) {
	var got []string
	var groups Strings
	root := tree(&got, &groups)
	cases := []struct {
		args       []string
		wantArgs   []string
		wantGroups []string
	}{
		{[]string{"users", "add", "alice", "--group", "ops", "--group", "dev"}, []string{"alice"}, []string{"ops", "dev"}},
		{[]string{"users", "add", "--group", "ops", "bob"}, []string{"bob"}, []string{"ops"}},
		{[]string{"users", "add", "--", "-dash"}, []string{"-dash"}, nil},
	}
	for _, c := range cases {
		var out strings.Builder
		if err := Execute(root, c.args, Env{Stdout: &out, Stderr: &out}); err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if strings.Join(got, "|") != strings.Join(c.wantArgs, "|") || strings.Join(groups, "|") != strings.Join(c.wantGroups, "|") {
			t.Errorf("%v: args %v groups %v", c.args, got, groups)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	var got []string
	var groups Strings
	root := tree(&got, &groups)
	for _, args := range [][]string{
		{"nope"},
		{"users", "add"},
		{"users", "add", "a", "b"},
		{"users", "add", "a", "--bogus"},
		{},
	} {
		var out strings.Builder
		err := Execute(root, args, Env{Stdout: &out, Stderr: &out})
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != 2 || !errors.Is(err, ErrUsage) {
			t.Errorf("%v: want usage error with exit 2, got %v", args, err)
		}
	}
}
