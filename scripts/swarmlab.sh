#!/usr/bin/env bash
# swarmlab.sh - a real multi-node Docker Swarm on ONE Linux host.
#
# Every node is a separate dockerd (own --data-root/--exec-root/--pidfile/socket,
# own dockerd-managed containerd, own cgroup parent) running in its own network
# namespace (swarmlab-nodeK) and UTS namespace (hostname nodeK).  The nodes are
# wired with veth pairs to a Linux bridge (swlab0) that lives in a private "hub"
# namespace (swarmlab-hub), so the lab subnet never appears in the root
# namespace, nothing is routed out of the machine and the root netns iptables
# (owned by the default docker engine) is never touched.
#
# Usage: swarmlab.sh up [N] [--managers M] [--images "img1 img2"]
#        swarmlab.sh down
#        swarmlab.sh status
#        swarmlab.sh kill K [--link]     # node loss: kill -9 daemons (or link down)
#        swarmlab.sh revive K            # undo kill
#        swarmlab.sh load IMG...         # docker save (default engine) | load into every node
#        swarmlab.sh exec K CMD...       # run CMD inside node K's network namespace
#        swarmlab.sh env [K]             # print export DOCKER_HOST=...
#
# Tunables (env): SWARMLAB_NET (default 10.213.47; nodes get .11,.12,...),
#   SWARMLAB_POOL (swarm --default-addr-pool, default 10.214.0.0/16),
#   SWARMLAB_IMAGES (default: the test images of scripts/build-images.sh test),
#   SWARMLAB_SOURCE_HOST (engine the images are saved from, default the
#   default engine unix:///var/run/docker.sock; only ever read from).
#
# Notes, timings and this host's limits (no IPVS: publish mode=host, dnsrr):
# docs/swarm-lab.md. The integration tests drive it through the `lab` fixture
# in tests/integration/swarm/conftest.py.
set -euo pipefail

NET=${SWARMLAB_NET:-10.213.47}          # lab /24 (bridge lives in hub netns only)
POOL=${SWARMLAB_POOL:-10.214.0.0/16}    # swarm overlay address pool
IMAGES_DEFAULT=${SWARMLAB_IMAGES:-"gitdeploy-test/app:v1 gitdeploy-test/app:v2 gitdeploy-test/app:v3 gitdeploy-test/app:v4 gitdeploy-test/app:v2-hc gitdeploy-test/app:v3-hc"}
RUN=/run/swarmlab                       # sockets, pids, exec-roots, logs
DATA=/var/lib/swarmlab                  # data-roots
HUB=swarmlab-hub
BR=swlab0
DOCKERD=${SWARMLAB_DOCKERD:-/usr/sbin/dockerd}
DEFAULT_SOCK=${SWARMLAB_SOURCE_HOST:-unix:///var/run/docker.sock}

log() { printf '[swarmlab %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
ns() { echo "swarmlab-node$1"; }
ip_of() { echo "$NET.$((10 + $1))"; }
sock() { echo "unix://$RUN/node$1.sock"; }
dk() { local k=$1; shift; docker -H "$(sock "$k")" "$@"; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
nodes() { [ -f "$RUN/nodes" ] && cat "$RUN/nodes" || true; }

# --- process helpers (only recorded pids / pids inside OUR netns / OUR cgroups)
readpid() { [ -f "$1" ] && cat "$1" 2>/dev/null || true; }
kill_pid() { # kill_pid SIG PID  (no-op if dead)
  alive "${2:-}" && kill "-$1" "$2" 2>/dev/null || true
}
ours() { # ours K PID: PID is node K's dockerd/containerd (its command line names
  # node K's state dir); a recorded pid from a crashed run may have been reused
  alive "${2:-}" && tr '\0' ' ' <"/proc/$2/cmdline" 2>/dev/null | grep -q -- "$RUN/node$1[/ ]"
}
wait_dead() { # wait_dead SECONDS PID...
  local t=$(( $1 * 10 )); shift
  while [ $t -gt 0 ]; do
    local any=0 p; for p in "$@"; do alive "$p" && any=1; done
    [ $any = 0 ] && return 0; sleep 0.1; t=$((t-1))
  done; return 1
}
cgroup_pids() { # pids of containers started by node K (cgroup parent /swarmlab-nodeK)
  local d; for d in /sys/fs/cgroup/pids/swarmlab-node$1 /sys/fs/cgroup/memory/swarmlab-node$1 \
                    /sys/fs/cgroup/swarmlab-node$1; do   # cgroup v1 controllers; v2 (unified)
    [ -d "$d" ] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}
netns_pids() { [ -e "/run/netns/$(ns "$1")" ] && ip netns pids "$(ns "$1")" 2>/dev/null || true; }

hard_kill_node() { # SIGKILL dockerd, containerd, shims, container processes of node K
  local k=$1 d=$RUN/node$1 pids="" p
  for p in $(readpid "$d/dockerd.pid") $(readpid "$d/exec/containerd/containerd.pid"); do
    ours "$k" "$p" && pids="$pids $p"
  done
  for p in $pids; do kill_pid KILL "$p"; done
  for p in $(cgroup_pids "$k") $(netns_pids "$k"); do kill_pid KILL "$p"; done
  wait_dead 10 $pids $(cgroup_pids "$k") $(netns_pids "$k") || log "node$k: some pids still alive"
}

rm_cgroups() {
  local d; for d in /sys/fs/cgroup/*/swarmlab-node$1 /sys/fs/cgroup/swarmlab-node$1; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
}

# --- network ---------------------------------------------------------------
check_net_free() {
  ip -4 route show | grep -q "^$NET\." && die "$NET.0/24 already routed in root netns; set SWARMLAB_NET"
  return 0
}
no_ipv6() { # no IPv6 (not even link-local) in lab namespaces; IPv4 lab /24 only
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}
mk_hub() {
  ip netns add "$HUB"
  no_ipv6 "$HUB"
  ip -n "$HUB" link set lo up
  ip -n "$HUB" link add "$BR" type bridge
  ip -n "$HUB" link set "$BR" up
}
mk_node_net() { # veth swl-hK (hub, on bridge) <-> lab0 (node ns, $NET.(10+K)/24)
  local k=$1 n; n=$(ns "$1")
  ip netns add "$n"
  no_ipv6 "$n"
  ip -n "$n" link set lo up
  ip -n "$HUB" link add "swl-h$k" type veth peer name lab0 netns "$n"
  ip -n "$HUB" link set "swl-h$k" master "$BR" up
  ip -n "$n" addr add "$(ip_of "$k")/24" dev lab0
  ip -n "$n" link set lab0 up
  # no default route: nothing can leave the lab subnet
}

# --- daemons ---------------------------------------------------------------
start_dockerd() {
  local k=$1 d=$RUN/node$1
  mkdir -p "$d/exec" "$DATA/node$k"
  [ -f "$d/daemon.json" ] || echo '{}' > "$d/daemon.json"   # never read /etc/docker/daemon.json
  # nsenter --net (NOT "ip netns exec": that remounts /sys and hides the cgroup
  # mounts -> "Devices cgroup isn't mounted") -> unshare UTS (hostname nodeK =
  # swarm node name) + private mount ns (slave: dockerd's overlay/netns mounts
  # stay invisible to the host and die with the node) -> exec dockerd.
  # Nothing forks on the way, so $! is dockerd's pid.
  setsid nsenter --net="/run/netns/$(ns "$k")" -- unshare --uts --mount --propagation slave -- sh -c \
    "hostname node$k && exec $DOCKERD \
      --config-file $d/daemon.json \
      --data-root $DATA/node$k \
      --exec-root $d/exec \
      --pidfile $d/docker.pid \
      -H $(sock "$k") \
      --cgroup-parent /swarmlab-node$k \
      --storage-driver overlay2 \
      --log-level ${SWARMLAB_LOGLEVEL:-warn}" \
    </dev/null >>"$d/dockerd.log" 2>&1 &
  echo $! > "$d/dockerd.pid"
}
wait_sock() { # wait until node K answers (timeout s)
  local k=$1 t=$(( ${2:-40} * 10 ))
  while [ $t -gt 0 ]; do
    dk "$k" version --format '{{.Server.Version}}' >/dev/null 2>&1 && return 0
    alive "$(readpid "$RUN/node$k/dockerd.pid")" || { tail -20 "$RUN/node$k/dockerd.log" >&2; die "node$k dockerd died"; }
    sleep 0.1; t=$((t-1))
  done
  die "node$k: socket did not come up"
}

# --- images ----------------------------------------------------------------
save_images() { # save_images IMG... -> $RUN/images.tar (only those present locally)
  local have=() i
  case $DEFAULT_SOCK in *"$RUN"/*) die "SWARMLAB_SOURCE_HOST=$DEFAULT_SOCK is a lab node, not an image source";; esac
  for i in "$@"; do
    if docker -H "$DEFAULT_SOCK" image inspect "$i" >/dev/null 2>&1; then have+=("$i")
    else log "image $i not on default engine - skipped"; fi
  done
  [ ${#have[@]} -gt 0 ] || { rm -f "$RUN/images.tar"; return 0; }
  docker -H "$DEFAULT_SOCK" save -o "$RUN/images.tar" "${have[@]}"
  log "saved ${have[*]} ($(du -h "$RUN/images.tar" | cut -f1))"
}
load_images_all() {
  [ -f "$RUN/images.tar" ] || return 0
  local k pids=()
  for k in $(nodes); do dk "$k" load -q -i "$RUN/images.tar" >/dev/null & pids+=($!); done
  for k in "${pids[@]}"; do wait "$k"; done
}

# --- commands ----------------------------------------------------------------
preflight() { # one clear line for whatever makes `up` impossible here
  [ "$(id -u)" = 0 ] || die "must run as root (network namespaces, a dockerd per node)"
  local c; for c in ip nsenter unshare setsid docker; do
    command -v "$c" >/dev/null 2>&1 || die "$c not found"
  done
  [ -x "$DOCKERD" ] || die "dockerd not found at $DOCKERD (set SWARMLAB_DOCKERD)"
  ip netns list >/dev/null 2>&1 || die "ip netns does not work here"
}
leftovers() { # anything of a lab: state dirs, data-roots, namespaces
  [ -e "$RUN" ] || [ -e "$DATA" ] || [ -e "/run/netns/$HUB" ] && return 0
  ip netns list 2>/dev/null | grep -q '^swarmlab-node[0-9]'
}
cmd_up() {
  local n=3 managers=1 images=$IMAGES_DEFAULT
  while [ $# -gt 0 ]; do case $1 in
    --managers) managers=$2; shift 2;;
    --images) images=$2; shift 2;;
    [0-9]*) n=$1; shift;;
    *) die "unknown arg $1";;
  esac; done
  [ "$n" -ge 1 ] && [ "$n" -le 40 ] || die "N must be 1..40"
  [ "$managers" -ge 1 ] && [ "$managers" -le "$n" ] || die "--managers must be 1..N"
  preflight
  leftovers && die "lab already up, or left over by a crashed run (run: $0 down)"
  check_net_free
  local t0=$SECONDS k
  mkdir -p "$RUN" "$DATA"
  seq 1 "$n" | tr '\n' ' ' > "$RUN/nodes"
  echo "$managers" > "$RUN/managers"
  mk_hub
  for k in $(nodes); do mk_node_net "$k"; done
  for k in $(nodes); do start_dockerd "$k"; done
  save_images $images & local savepid=$!
  for k in $(nodes); do wait_sock "$k" 60; done
  for k in $(nodes); do readpid "$RUN/node$k/exec/containerd/containerd.pid" > "$RUN/node$k/containerd.pid"; done
  log "$n dockerd up after $((SECONDS-t0))s"
  wait $savepid; load_images_all & local loadpid=$!
  dk 1 swarm init --advertise-addr "$(ip_of 1)" --listen-addr "$(ip_of 1):2377" \
     --default-addr-pool "$POOL" >/dev/null
  local wtok mtok; wtok=$(dk 1 swarm join-token -q worker); mtok=$(dk 1 swarm join-token -q manager)
  for k in $(nodes); do [ "$k" = 1 ] && continue
    if [ "$k" -le "$managers" ]; then   # managers one at a time (raft)
      dk "$k" swarm join --token "$mtok" --advertise-addr "$(ip_of "$k")" --listen-addr "$(ip_of "$k"):2377" "$(ip_of 1):2377" >/dev/null
    fi
  done
  local jp=()
  for k in $(nodes); do [ "$k" -le "$managers" ] && continue
    dk "$k" swarm join --token "$wtok" --advertise-addr "$(ip_of "$k")" --listen-addr "$(ip_of "$k"):2377" "$(ip_of 1):2377" >/dev/null & jp+=($!)
  done
  for k in "${jp[@]}"; do wait "$k"; done
  local t=600; while [ $t -gt 0 ]; do
    [ "$(dk 1 node ls --format '{{.Status}}' | grep -c Ready)" -ge "$n" ] && break; sleep 0.1; t=$((t-1)); done
  [ $t -gt 0 ] || { dk 1 node ls >&2 || true; die "not all $n nodes Ready after 60 s"; }
  wait $loadpid
  log "swarm of $n nodes ($managers manager(s)) ready in $((SECONDS-t0))s"
  dk 1 node ls
  echo "export DOCKER_HOST=$(sock 1)"
}

cmd_down() {
  local k ks
  ks=$( (nodes; ls "$RUN" 2>/dev/null | sed -n 's/^node\([0-9]*\)$/\1/p'; \
              ip netns list 2>/dev/null | sed -n 's/^swarmlab-node\([0-9]*\).*/\1/p') | tr ' ' '\n' | sort -un)
  for k in $ks; do
    hard_kill_node "$k" &   # all nodes in parallel
  done
  wait
  for k in $ks; do
    rm_cgroups "$k"
    [ -e "/run/netns/$(ns "$k")" ] && ip netns del "$(ns "$k")"   # deletes lab0 and its veth peer
    rm -rf "${RUN:?}/node$k" "$RUN/node$k.sock" "${DATA:?}/node$k"
  done
  [ -e "/run/netns/$HUB" ] && ip netns del "$HUB"                  # deletes swlab0 + swl-h*
  rm -rf "${RUN:?}" "${DATA:?}"
  log "down: lab removed"
}

cmd_kill() {
  local k=${1:?node number}; [ -d "$RUN/node$k" ] || die "no node$k"
  if [ "${2:-}" = "--link" ]; then
    ip -n "$HUB" link set "swl-h$k" down; echo link > "$RUN/node$k/killed"
    log "node$k: link down (daemons still running, partitioned)"
  else
    hard_kill_node "$k"; echo proc > "$RUN/node$k/killed"
    log "node$k: dockerd/containerd/shims/containers SIGKILLed"
  fi
}

cmd_revive() {
  local k=${1:?node number} t0=$SECONDS; [ -d "$RUN/node$k" ] || die "no node$k"
  ip -n "$HUB" link set "swl-h$k" up
  if ! alive "$(readpid "$RUN/node$k/dockerd.pid")"; then
    rm -f "$RUN/node$k.sock"
    start_dockerd "$k"; wait_sock "$k" 60
    readpid "$RUN/node$k/exec/containerd/containerd.pid" > "$RUN/node$k/containerd.pid"
  fi
  rm -f "$RUN/node$k/killed"
  log "node$k: revived (daemon answering after $((SECONDS-t0))s)"
}

cmd_status() {
  [ -f "$RUN/nodes" ] || { echo "swarmlab: down"; return 0; }
  local k mgr=""
  printf '%-6s %-14s %-8s %-10s %-6s %s\n' NODE ADDR DOCKERD CONTAINERD LINK SOCKET
  for k in $(nodes); do
    local dp cp st cs ln
    dp=$(readpid "$RUN/node$k/dockerd.pid"); cp=$(readpid "$RUN/node$k/containerd.pid")
    alive "$dp" && st="$dp" || st=dead; alive "$cp" && cs="$cp" || cs=dead
    ln=$(ip -n "$HUB" -br link show "swl-h$k" 2>/dev/null | awk '{print $2}')
    printf '%-6s %-14s %-8s %-10s %-6s %s\n' "node$k" "$(ip_of "$k")" "$st" "$cs" "${ln:-?}" "$(sock "$k")"
    [ -z "$mgr" ] && alive "$dp" && [ "$k" -le "$(cat "$RUN/managers")" ] && mgr=$k
  done
  [ -n "$mgr" ] && { echo; dk "$mgr" node ls; } || echo "(no live manager)"
}

case ${1:-} in
  up) shift; cmd_up "$@";;
  down) cmd_down;;
  status) cmd_status;;
  kill) shift; cmd_kill "$@";;
  revive) shift; cmd_revive "$@";;
  load) shift; save_images "$@"; load_images_all;;
  exec) k=${2:?node}; shift 2; exec ip netns exec "$(ns "$k")" "$@";;
  env) echo "export DOCKER_HOST=$(sock "${2:-1}")";;
  *) sed -n '2,/^set -euo/{/^set -euo/d;p}' "$0"; exit 2;;
esac
