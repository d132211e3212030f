package sdk

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// sideChildEnv makes this test binary act as a plugin process that echoes
// on its inherited side channels (see TestMain).
const sideChildEnv = "VIGIL_SDK_SIDECHAN_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(sideChildEnv) != "" {
		os.Exit(sideChannelChild())
	}
	os.Exit(m.Run())
}

// sideChannelChild answers each line on side channel i with "i:<line>",
// and says whether the environment variable was taken away from children.
func sideChannelChild() int {
	conns, err := inheritedSideChannels()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if v, ok := os.LookupEnv(sideChannelsEnv); ok {
		fmt.Fprintf(os.Stderr, "%s still set to %q\n", sideChannelsEnv, v)
		return 3
	}
	done := make(chan struct{}, len(conns))
	for i, c := range conns {
		go func() {
			defer func() { done <- struct{}{} }()
			r := bufio.NewReader(c)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				fmt.Fprintf(c, "%d:%s", i, line)
			}
		}()
	}
	for range conns {
		<-done
	}
	return 0
}

func startSideChild(t *testing.T, env string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), sideChildEnv+"=1", env)
	stderr := new(strings.Builder)
	cmd.Stderr = stderr
	return cmd, stderr
}

func TestSideChannelsReachThePluginProcess(t *testing.T) {
	host, child, err := newSideChannels(2)
	if err != nil {
		t.Fatal(err)
	}
	cmd, stderr := startSideChild(t, sideChannelsEnv+"=2")
	cmd.ExtraFiles = child
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for _, f := range child {
		f.Close()
	}
	for i, c := range host {
		fmt.Fprintf(c, "hello %d\n", i)
		got, err := bufio.NewReader(c).ReadString('\n')
		if want := fmt.Sprintf("%d:hello %d\n", i, i); err != nil || got != want {
			t.Errorf("side channel %d answered %q, %v; want %q", i, got, err, want)
		}
	}
	// Closing the host's ends is how the plugin learns the host is gone.
	for _, c := range host {
		c.Close()
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v: %s", err, stderr)
	}
}

func TestSideChannelsRefuseWhatIsNotAnInheritedSocket(t *testing.T) {
	for _, tc := range []struct{ env, want string }{
		{sideChannelsEnv + "=two", "want a count"},
		{sideChannelsEnv + "=99999", "want a count"},
		// fd 3 is not open in the child: no ExtraFiles.
		{sideChannelsEnv + "=1", "fd 3 is not an inherited socket"},
	} {
		cmd, stderr := startSideChild(t, tc.env)
		err := cmd.Run()
		if err == nil || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%s: child ended with %v, stderr %q; want a failure saying %q", tc.env, err, stderr, tc.want)
		}
	}
	// A regular file on fd 3 is refused too.
	f, err := os.CreateTemp(t.TempDir(), "not-a-socket")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd, stderr := startSideChild(t, sideChannelsEnv+"=1")
	cmd.ExtraFiles = []*os.File{f}
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "fd 3 is not an inherited socket") {
		t.Errorf("regular file on fd 3: child ended with %v, stderr %q", err, stderr)
	}
}
