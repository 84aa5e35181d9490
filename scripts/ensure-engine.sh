#!/usr/bin/env bash
# Make a Docker engine reachable, and do nothing when one already is.
#
# Used by the README quick start and by .ci/run. Respects DOCKER_HOST: if it
# points somewhere reachable we use that engine and never start our own.
# Otherwise (root on Debian) it installs docker.io if dockerd is missing and
# starts /usr/sbin/dockerd in the background, logging to $GITDEPLOY_DOCKERD_LOG.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

log=${GITDEPLOY_DOCKERD_LOG:-/tmp/gitdeploy-dockerd.log}

reachable() { docker info >/dev/null 2>&1; }

if command -v docker >/dev/null 2>&1 && reachable; then
  exit 0
fi
if [ -n "${DOCKER_HOST:-}" ]; then
  echo "ensure-engine: DOCKER_HOST=$DOCKER_HOST is set but no engine answers there; start it or unset DOCKER_HOST" >&2
  exit 1
fi
if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null 2>&1; then
  echo "ensure-engine: no Docker engine is reachable and starting one needs root; start dockerd or set DOCKER_HOST" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null 2>&1 && [ ! -x /usr/sbin/dockerd ]; then
  echo "ensure-engine: installing docker.io (Debian package)" >&2
  apt_install docker.io
fi
dockerd_bin=$(command -v dockerd || echo /usr/sbin/dockerd)

# A stale pid file from a killed dockerd makes a new one refuse to start.
if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
  as_root rm -f /var/run/docker.pid
fi
# A dockerd of the swarm lab (scripts/swarmlab.sh, its state in /run/swarmlab/) is not the default engine.
default_dockerd_running() {
  local p
  for p in $(pgrep -x dockerd 2>/dev/null); do
    tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | grep -q -- '/run/swarmlab/' || return 0
  done
  return 1
}
if ! default_dockerd_running; then
  echo "ensure-engine: starting $dockerd_bin (log: $log)" >&2
  as_root nohup "$dockerd_bin" >"$log" 2>&1 &
fi
for _ in $(seq 1 60); do
  if reachable; then exit 0; fi
  sleep 0.5
done
echo "ensure-engine: dockerd did not answer within 30 s; see $log" >&2
tail -n 20 "$log" >&2 || true
exit 1
