#!/usr/bin/env bash
# Run the benchmarks: gitdeploy against its peers on the same workload, in one run, ending with one table.
#   bench/run.sh   # sync vs docker-compose, where a no-op's time goes, scale, rollouts vs Docker Swarm,
#                  # then gitdeploy on a 3-node Swarm vs `docker stack deploy`, then 5 updates under load behind
#                  # the ingress vs docker-compose on a fixed host port, and the ingress's throughput
# (a single-node swarm on 127.0.0.1 is initialised for the rollouts and left again; the 3-node Swarm is the
# lab of scripts/swarmlab.sh, started and taken down by bench/swarm_vs_stack.py, which skips its lines with
# one line saying why where the lab cannot start)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
scripts/bootstrap.sh
scripts/ensure-engine.sh
scripts/build-images.sh test
scripts/build-images.sh sample
if ! command -v docker-compose >/dev/null 2>&1; then
  echo "bench: installing docker-compose (Debian package)" >&2
  apt_install docker-compose
fi
# Bytecode, as pip writes it for an installed package (PYTHONDONTWRITEBYTECODE=1, set on some machines,
# would otherwise make every run of an editable install compile part of gitdeploy again: ~50 ms).
.venv/bin/python -m compileall -q gitdeploy >/dev/null
BENCH_ROWS=$(mktemp)
export BENCH_ROWS
trap 'rm -f "$BENCH_ROWS"' EXIT
.venv/bin/python bench/sync_vs_compose.py
echo
.venv/bin/python bench/breakdown.py
echo
.venv/bin/python bench/scale.py
echo
.venv/bin/python bench/rollout_vs_swarm.py
echo
# A failure here (not a lab that cannot start: that is one line and exit 0) leaves its lines out, not the table.
.venv/bin/python bench/swarm_vs_stack.py || echo "bench: bench/swarm_vs_stack.py failed (exit $?): its lines are missing below" >&2
echo
.venv/bin/python bench/ingress_vs_compose.py || echo "bench: bench/ingress_vs_compose.py failed (exit $?): its lines are missing below" >&2
echo
echo "All lines, one run ($(date -u +%Y-%m-%d), $(nproc) cores, engine $(docker version --format '{{.Server.Version}}')):"
.venv/bin/python bench/table.py "$BENCH_ROWS"
