#!/usr/bin/env bash
# Build the images the sample app and the tests use, locally: no registry.
#
# Each image is a tiny root filesystem holding Debian's busybox-static (sh,
# httpd, wget, ...) plus a few files, imported with `docker import`.
# Idempotent: an image that already exists is left alone (--force rebuilds).
#
#   scripts/build-images.sh [--force] [sample|test|ingress|all]   (test includes ingress: a Caddy image)
set -euo pipefail
# Note: Debian 12's busybox-static 1.35 wget segfaults whenever -T (timeout) is
# given; never pass -T to it in images or health checks.

. "$(dirname "$0")/lib.sh"

force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
what=${1:-all}

busybox=/bin/busybox
if ! dpkg -s busybox-static >/dev/null 2>&1; then
  echo "build-images: installing busybox-static (Debian package)" >&2
  apt_install busybox-static
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# image NAME CMD_JSON: builds $work/NAME-rootfs (filled by the caller's
# callback `files_for_image ROOT`) into image NAME.
image() {
  local name=$1 cmd=$2 root
  if [ "$force" = 0 ] && docker image inspect "$name" >/dev/null 2>&1; then
    return 0
  fi
  root=$(mktemp -d "$work/rootfs.XXXX")
  mkdir -p "$root/bin" "$root/www/cgi-bin" "$root/etc" "$root/tmp"
  cp "$busybox" "$root/bin/busybox"
  for applet in sh httpd wget sleep cat echo hostname date env ls true false kill ps nc; do
    ln -s busybox "$root/bin/$applet"
  done
  echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
  files_for_image "$root"
  tar -C "$root" -c . | docker import --change "CMD $cmd" --change 'WORKDIR /' - "$name" >/dev/null
  echo "built $name" >&2
}

cgi() { # cgi FILE BODY: a CGI script answering text/plain
  printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\n%s\n' "$2" > "$1"
  chmod +x "$1"
}

build_sample() {
  files_for_image() {
    echo '<h1>shop</h1><p><a href="/cgi-bin/api">ask the api</a></p>' > "$1/www/index.html"
    cgi "$1/www/cgi-bin/api" 'echo "web $(hostname) asked api: $(wget -qO- http://api:8080/cgi-bin/hello 2>&1)"'
  }
  image gitdeploy-sample/web:1.0 '["/bin/httpd", "-f", "-p", "80", "-h", "/www"]'

  files_for_image() {
    cgi "$1/www/cgi-bin/hello" 'echo "${GREETING:-hello} from $(hostname)"'
    echo ok > "$1/www/healthz"
  }
  image gitdeploy-sample/api:1.0 '["/bin/httpd", "-f", "-p", "8080", "-h", "/www"]'

  files_for_image() {
    # It says what config and how long a token it got (never the token), then polls the api.
    printf '#!/bin/sh\necho "config: $(cat /etc/worker/worker.conf 2>&1)"\necho "api token: $(wc -c < /run/secrets/api-token 2>&1) bytes"\nwhile true; do echo "$(date) $(wget -qO- http://api:8080/cgi-bin/hello 2>&1)"; sleep "${EVERY:-5}"; done\n' > "$1/bin/worker"
    chmod +x "$1/bin/worker"
  }
  image gitdeploy-sample/worker:1.1 '["/bin/worker"]'
}

build_test() {
  # v1 and v2 are good and differ only in what they serve, so tests can tell
  # which runs. v3 serves but has no /healthz, so its health checks fail.
  # v4 exits at once.
  for version in v1 v2 v3; do
    files_for_image() {
      echo "$version" > "$1/www/index.html"
      if [ "$version" != v3 ]; then echo ok > "$1/www/healthz"; fi
    }
    image "gitdeploy-test/app:$version" '["/bin/httpd", "-f", "-p", "80", "-h", "/www"]'
  done
  files_for_image() { :; }
  image gitdeploy-test/app:v4 '["/bin/sh", "-c", "echo v4 starting; echo v4 cannot start: missing config >&2; exit 1"]'
  # v2-hc and v3-hc carry an image HEALTHCHECK (docker import cannot set one;
  # docker commit can): for services that declare no healthCheck of their own.
  with_healthcheck gitdeploy-test/app:v2 gitdeploy-test/app:v2-hc
  with_healthcheck gitdeploy-test/app:v3 gitdeploy-test/app:v3-hc
}

with_healthcheck() { # with_healthcheck SOURCE TARGET
  if [ "$force" = 0 ] && docker image inspect "$2" >/dev/null 2>&1; then return 0; fi
  local base
  base=$(docker create "$1")
  docker commit --change 'HEALTHCHECK --interval=1s --timeout=1s --retries=2 CMD ["wget", "-q", "-O", "/dev/null", "http://127.0.0.1/healthz"]' \
    "$base" "$2" >/dev/null
  docker rm "$base" >/dev/null
  echo "built $2" >&2
}

build_ingress() {
  # The ingress image for the tests and the demo: Debian's caddy binary and the libraries ldd lists,
  # beside busybox (GITDEPLOY_INGRESS_IMAGE=gitdeploy-test/caddy:2). The package is unpacked, never
  # installed: installing it would start a caddy service on this host's port 80.
  local name=gitdeploy-test/caddy:2
  if [ "$force" = 0 ] && docker image inspect "$name" >/dev/null 2>&1; then return 0; fi
  local pkg; pkg=$(mktemp -d "$work/caddy.XXXX")
  (cd "$pkg" && apt-get download caddy >/dev/null 2>&1) || { apt-get update -qq >/dev/null && (cd "$pkg" && apt-get download caddy >/dev/null); }
  dpkg-deb -x "$pkg"/caddy_*.deb "$pkg/x"
  files_for_image() {
    mkdir -p "$1/usr/bin" "$1/data" "$1/etc/caddy" "$1/etc/ssl/certs"
    cp "$pkg/x/usr/bin/caddy" "$1/usr/bin/caddy"
    ldd "$pkg/x/usr/bin/caddy" | grep -o '/[^ ]*' | while read -r lib; do
      mkdir -p "$1$(dirname "$lib")"; cp -L "$lib" "$1$lib"
    done
    [ -f /etc/ssl/certs/ca-certificates.crt ] && cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/" || true
  }
  image "$name" '["caddy", "run", "--config", "/etc/caddy/gitdeploy.json"]'
}

case "$what" in
  sample) build_sample ;;
  test) build_test; build_ingress ;;
  ingress) build_ingress ;;
  all) build_sample; build_test; build_ingress ;;
  *) echo "usage: $0 [--force] [sample|test|ingress|all]" >&2; exit 2 ;;
esac
