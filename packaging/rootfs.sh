#!/usr/bin/env bash
# Assembles the appliance root filesystem tarball: a debootstrap of Debian 12
# (bookworm, minbase), the Vigil .deb installed into it, and the rootfs/
# overlay copied over it. Usage: packaging/rootfs.sh DEB OUT.tar.gz
# The Debian mirror is the one this machine's apt uses.
set -euo pipefail
deb=$(readlink -f "$1"); out=$2
top=$(cd "$(dirname "$0")/.." && pwd)
mirror=$(grep -rhoE '^(deb|URIs:) *(\[[^]]*\] *)?https?://[^ ]+' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
  | grep -oE 'https?://[^ ]+' | grep -E '/debian/?$' | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
work=$(mktemp -d)
trap 'umount -R "$work/root/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
echo "rootfs: debootstrap bookworm from $mirror"
debootstrap --variant=minbase --include=systemd,systemd-sysv,rsyslog,adduser,ffmpeg,ca-certificates \
  bookworm "$work/root" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; exit 1; }
cp "$deb" "$work/root/tmp/vigil.deb"
chroot "$work/root" dpkg -i /tmp/vigil.deb
rm -f "$work/root/tmp/vigil.deb"
cp -a "$top/rootfs/." "$work/root/"
chroot "$work/root" apt-get clean
mkdir -p "$(dirname "$out")"
tar -C "$work/root" --numeric-owner -czf "$out" .
echo "rootfs: wrote $out ($(du -h "$out" | cut -f1))"
