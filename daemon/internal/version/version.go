package version

import "strings"

// Version is set by the Makefile from `git describe`; "dev" for plain go build.
var Version = "dev"

// Commit is the git commit the binary was built from, when known.
var Commit = ""

// String is the version line the binaries print. The commit is added when
// the version does not already name it (`git describe` of an untagged
// tree is the commit itself).
func String(program string) string {
	s := program + " " + Version
	if Commit != "" && !strings.Contains(Version, Commit) {
		s += " (" + Commit + ")"
	}
	return s
}
