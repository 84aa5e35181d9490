# Helpers sourced by the other scripts.

# as_root CMD...: run as root, through sudo when we are not root.
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_install PKG...: install Debian packages, refreshing the index only if needed.
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get install -y -qq "$@" >/dev/null 2>&1 \
    || { as_root apt-get update -qq && as_root apt-get install -y -qq "$@" >/dev/null; }
}
