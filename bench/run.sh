#!/usr/bin/env bash
# Run the benchmarks: gitdeploy against its peers on the same workload, in one run, ending with one table.
#   bench/run.sh   # sync vs docker-compose, where a no-op's time goes, scale, then rollouts vs Docker Swarm
# (a single-node swarm on 127.0.0.1 is initialised for the last and left again)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
scripts/bootstrap.sh
scripts/ensure-engine.sh
scripts/build-images.sh test
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
echo "All lines, one run ($(date -u +%Y-%m-%d), $(nproc) cores, engine $(docker version --format '{{.Server.Version}}')):"
.venv/bin/python bench/table.py "$BENCH_ROWS"
