#!/usr/bin/env bash
# Prints the copyright notices and licenses of everything the packaged
# programs contain besides Vigil's own code: the Go standard library and each
# Go module they link. Licenses such as BSD and MIT ask for their notices to
# travel with binary copies; the packages ship this file next to the
# copyright file. Usage: packaging/notices.sh GO-PACKAGE... > FILE
set -euo pipefail
go=${GO:-go}
rule=$(printf '=%.0s' {1..78})
echo "Vigil's programs are built from Vigil's own code (Apache-2.0, see the"
echo "copyright or LICENSE file) and from the following software."
echo
echo "$rule"
echo "The Go standard library and runtime ($($go env GOVERSION))"
echo "$rule"
goroot=$($go env GOROOT)
for f in LICENSE PATENTS; do
  [ -f "$goroot/$f" ] && { echo; cat "$goroot/$f"; }
done
$go list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Version}} {{with .Replace}}{{.Dir}}{{else}}{{.Dir}}{{end}}{{end}}{{end}}' "$@" |
  sort -u | while read -r path version dir; do
    echo
    echo "$rule"
    echo "$path $version"
    echo "$rule"
    found=
    while IFS= read -r -d '' f; do
      found=1
      echo
      echo "--- $(basename "$f")"
      cat "$f"
    done < <(find "$dir" -maxdepth 1 -type f \( -iname 'licen[cs]e*' -o -iname 'copying*' -o -iname 'notice*' -o -iname 'patents*' -o -iname 'copyright*' \) -print0 | sort -z)
    if [ -z "$found" ]; then
      echo "notices.sh: no license file in $path $version" >&2
      echo
      echo "(The module has no license file of its own: see https://pkg.go.dev/$path?tab=licenses)"
    fi
  done
