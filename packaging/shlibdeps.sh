#!/bin/sh
# Prints the Debian dependencies on shared libraries (libc6 (>= 2.34), ...)
# of the binaries given, as dpkg-shlibdeps computes them for debhelper's
# ${shlibs:Depends}. Usage: packaging/shlibdeps.sh BINARY...
set -eu
if ! command -v dpkg-shlibdeps >/dev/null 2>&1; then
  echo "shlibdeps.sh: dpkg-shlibdeps (package dpkg-dev) is missing" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# dpkg-shlibdeps runs in a source tree and wants the binaries in a package's
# staging directory: an empty control file and links will do.
mkdir -p "$work/debian/vigil/DEBIAN" "$work/debian/vigil/bin"
: > "$work/debian/control"
for b in "$@"; do ln -s "$(readlink -f "$b")" "$work/debian/vigil/bin/"; done
(cd "$work" && dpkg-shlibdeps -O debian/vigil/bin/*) > "$work/substvars"
sed -n 's/^shlibs:Depends=//p' "$work/substvars"
