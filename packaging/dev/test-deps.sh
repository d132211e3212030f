#!/usr/bin/env bash
# Installs the real peers the tests talk to (see ../shared/peers.md) when
# they are missing. Idempotent: a machine that has them all does nothing.
set -euo pipefail

need_apt=()
check() { command -v "$1" >/dev/null 2>&1 || need_apt+=("$2"); }
check sshd openssh-server
check ssh openssh-client
check sshpass sshpass
check nc netcat-openbsd
check Xvfb xvfb
check x11vnc x11vnc
check xsetroot x11-xserver-utils
check xdpyinfo x11-utils
check xterm xterm
check xauth xauth
check Xtigervnc tigervnc-standalone-server
check xtigervncviewer tigervnc-viewer
check ffmpeg ffmpeg
check rsyslogd rsyslog
check asciinema asciinema
check chromium chromium
check chromedriver chromium-driver
check rpm rpm
check lintian lintian
check protoc protobuf-compiler
check script bsdutils
check debootstrap debootstrap
check dpkg-shlibdeps dpkg-dev
check man man-db
check systemd-analyze systemd
check deb-systemd-helper init-system-helpers
# TestRootfs boots the appliance image with systemd as its PID 1.
check systemd-nspawn systemd-container
check gcc gcc
[ -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ] || need_apt+=(rsyslog-gnutls)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test-deps: installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

gobin="$(go env GOPATH)/bin"
mkdir -p "$gobin"
ginstall() { # binary module@version
  [ -x "$gobin/$1" ] && return 0
  echo "test-deps: go install $2"
  GOBIN="$gobin" go install "$2"
}
ginstall versitygw github.com/versity/versitygw/cmd/versitygw@v1.8.0
# nfpm @latest fails here: one of its newest dependencies is refused by the module proxy.
ginstall nfpm github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
ginstall protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
ginstall protoc-gen-go-grpc google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
echo "test-deps: all peers present"
