#!/bin/sh
# Prints the Debian changelog shipped in the .deb: packaging/changelog, under
# an entry for this build when its version is not a released one (a snapshot
# between tags, a dirty tree), so the package's changelog always names the
# package's own version. Usage: packaging/changelog.sh PKG_VERSION VERSION
set -eu
pkgv=$1 buildv=$2
src=$(dirname "$0")/changelog
top=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$src")
if [ "$pkgv" != "$top" ]; then
  # The maintainer of the newest entry signs the snapshot; the date is the
  # commit's, so that two builds of one commit give the same package.
  who=$(sed -n 's/^ -- \(.*>\)  .*/\1/p' "$src" | head -1)
  when=$(git log -1 --format=%cD 2>/dev/null || true)
  [ -n "$when" ] || when=$(LC_ALL=C date -R)
  printf 'vigil (%s) UNRELEASED; urgency=medium\n\n  * Build %s from the source tree, after %s.\n\n -- %s  %s\n\n' \
    "$pkgv" "$buildv" "$top" "$who" "$when"
fi
cat "$src"
