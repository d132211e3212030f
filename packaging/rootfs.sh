#!/usr/bin/env bash
# Assembles the appliance's root filesystem tarball: a debootstrap of Debian 12
# (bookworm, minbase, with systemd) plus the Vigil .deb's dependencies, the
# .deb installed into it (its postinst creates the vigil user and enables
# vigil.service), and the rootfs/ overlay copied over it.
# Usage: packaging/rootfs.sh DEB OUT.tar.gz    (as root; `make rootfs`)
# The Debian mirror is the one this machine's apt uses; MIRROR overrides it.
# ROOTFS_GZIP_LEVEL sets the compression (default 6).
set -euo pipefail
deb=$(readlink -f "$1")
out=$2
top=$(cd "$(dirname "$0")/.." && pwd)

arch=$(dpkg-deb -f "$deb" Architecture)
if [ "$arch" != "$(dpkg --print-architecture)" ]; then
  echo "rootfs: $deb is for $arch, this machine is $(dpkg --print-architecture)" >&2
  exit 1
fi

# The first deb822 URIs or one-line deb source of this machine naming a
# Debian archive (…/debian) and its security archive (…/debian-security).
sources() {
  grep -rhoE '^[[:space:]]*(deb|URIs:)[[:space:]]+(\[[^]]*\][[:space:]]*)?https?://[^[:space:]]+' \
    /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | grep -oE 'https?://[^[:space:]]+' | sed 's|/*$||' || true
}
mirror=${MIRROR:-$(sources | grep -E '/debian$' | head -1)}
mirror=${mirror:-http://deb.debian.org/debian}
security=$(sources | grep -E '/debian-security$' | head -1)
security=${security:-http://deb.debian.org/debian-security}

# What the .deb depends on and recommends comes with the base system, so that
# dpkg -i finds it in place (first choice of each alternative).
deps=$(dpkg-deb -f "$deb" Depends Recommends | sed -E 's/^[A-Za-z-]+: //' | tr ',' '\n' |
  sed -E 's/\|.*//; s/\(.*\)//; s/[[:space:]]//g' | grep -v '^$' | sort -u | paste -sd, -)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
echo "rootfs: debootstrap bookworm ($arch) from $mirror with $deps"
if ! debootstrap --variant=minbase --arch="$arch" \
  --include="systemd,systemd-sysv,ca-certificates,$deps" \
  bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -30 "$work/debootstrap.log" >&2
  exit 1
fi

cp "$deb" "$root/tmp/vigil.deb"
chroot "$root" dpkg -i /tmp/vigil.deb
rm -f "$root/tmp/vigil.deb"

# The overlay, owned by root whoever checked it out.
cp -R --preserve=mode,timestamps "$top/rootfs/." "$root/"

# Updates come from the same archives, security included.
rm -f "$root/etc/apt/sources.list"
cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# Every appliance made from the image gets its own identity on first boot:
# an empty machine-id is generated then; vigild makes its keys on first start.
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
echo vigil >"$root/etc/hostname"
chmod 0644 "$root/etc/hostname"
rm -f "$root/etc/resolv.conf"
chroot "$root" apt-get clean
rm -rf "$root/var/lib/apt/lists/"* "$root/var/log/"*.log "$root/var/cache/debconf/"*-old

mkdir -p "$(dirname "$out")"
# ROOTFS_GZIP_LEVEL (1-9, default 6) trades the tarball's size for time.
level=${ROOTFS_GZIP_LEVEL:-6}
case $level in
  [1-9]) ;;
  *) echo "rootfs: ROOTFS_GZIP_LEVEL=$level: want a gzip level 1 to 9" >&2; exit 1 ;;
esac
tar -C "$root" --numeric-owner --sort=name -cf - . | gzip "-$level" -n >"$out.tmp"
mv "$out.tmp" "$out"
echo "rootfs: wrote $out ($(du -h "$out" | cut -f1))"
