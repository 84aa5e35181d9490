#!/usr/bin/env bash
# Run the benchmarks: gitdeploy against its peers on the same workload, in one run.
#   bench/run.sh   # sync vs docker-compose, where a no-op's time goes, then rollouts vs Docker Swarm
# (a single-node swarm on 127.0.0.1 is initialised for the second and left again)
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
.venv/bin/python bench/sync_vs_compose.py
echo
.venv/bin/python bench/breakdown.py
echo
.venv/bin/python bench/rollout_vs_swarm.py
