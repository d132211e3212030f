package version

// Version is set by the Makefile from `git describe`; "dev" for plain go build.
var Version = "dev"

// Commit is the git commit the binary was built from, when known.
var Commit = ""

// String is the version line the binaries print.
func String(program string) string {
	s := program + " " + Version
	if Commit != "" {
		s += " (" + Commit + ")"
	}
	return s
}
