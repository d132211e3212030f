#!/bin/sh
# Maps a build version (the Makefile's VERSION: `git describe --tags --always
# --dirty` output, or anything given by hand) to a package version that dpkg
# and rpm both accept and both order the same way. Usage: pkgversion.sh VERSION
#
#   v1.2.3                 -> 1.2.3
#   v1.2.3-rc1             -> 1.2.3~rc1            (before 1.2.3)
#   v1.2.3-4-gabc1234      -> 1.2.3+git4.gabc1234  (after 1.2.3, ordered by 4)
#   v1.2.3-4-gabc1234-dirty-> 1.2.3+git4.gabc1234.dirty
#   abc1234 (no tag yet)   -> 0.1.0~gitabc1234     (before 0.1.0)
#   dev                    -> 0.1.0~dev
#
# Builds that no tag names are taken for previews of the newest version in
# packaging/changelog (0.1.0 above), so the release itself sorts after them.
# Neither format allows '-' in the upstream version (dpkg reads it as the
# revision, rpm refuses it), and a Debian version must start with a digit:
# a bare commit hash may not (or may, by chance: 15d18bc), so hashes are
# never taken for versions.
set -eu
v=${1#v}
next=$(sed -n '1s/^[^ ]* (\([0-9][^)]*\)).*/\1/p' "$(dirname "$0")/changelog" 2>/dev/null || true)
next=${next:-0.0.0}
dirty=
case $v in *-dirty) dirty=1; v=${v%-dirty} ;; esac

num='[0-9]+(\.[0-9]+)*'
pre='(-[0-9A-Za-z.]+)?'
post=
if printf '%s\n' "$v" | grep -Eq "^$num$pre-[0-9]+-g[0-9a-f]+$"; then
  n=$(printf '%s\n' "$v" | sed -E 's/^.*-([0-9]+)-g([0-9a-f]+)$/\1/')
  hash=$(printf '%s\n' "$v" | sed -E 's/^.*-([0-9]+)-g([0-9a-f]+)$/\2/')
  v=$(printf '%s\n' "$v" | sed -E 's/-[0-9]+-g[0-9a-f]+$//')
  post="+git$n.g$hash"
fi
if printf '%s\n' "$v" | grep -Eq "^$num$pre$"; then
  # A tag, possibly with a pre-release part: "-" becomes "~", sorting first.
  base=$(printf '%s\n' "$v" | sed -E 's/-/~/')
elif [ -z "$post" ] && printf '%s\n' "$v" | grep -Eq '^[0-9a-f]{4,40}$'; then
  base=$next post="~git$v"
else
  # Anything else keeps its letters and digits, as a preview too.
  base=$next post="~$(printf '%s' "$v" | tr -c 'A-Za-z0-9.' '.' | sed -E 's/^\.+//; s/\.+$//')"
  [ "$post" = "~" ] && post="~unknown"
fi
if [ -n "$dirty" ]; then
  if [ -n "$post" ]; then post="$post.dirty"; else post="+dirty"; fi
fi
printf '%s%s\n' "$base" "$post"
