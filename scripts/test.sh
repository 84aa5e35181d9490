#!/usr/bin/env bash
# The test command: installs what it needs, makes an engine reachable, builds
# the test images, runs every test. Extra arguments go to pytest.
#   scripts/test.sh                # everything
#   scripts/test.sh tests/unit     # the fast tests only (no engine needed)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
. scripts/lib.sh
# The secrets tests encrypt with the real `age` tool (Debian package).
command -v age >/dev/null 2>&1 || { echo "test: installing age (Debian package)" >&2; apt_install age; }
# The remote-engine tests reach the engine through a real sshd on loopback.
[ -x /usr/sbin/sshd ] || { echo "test: installing openssh-server (Debian package)" >&2; apt_install openssh-server; }
# The Swarm tests run a 3-node lab in network namespaces (scripts/swarmlab.sh): `ip` and `nsenter`.
command -v ip >/dev/null 2>&1 || { echo "test: installing iproute2 (Debian package)" >&2; apt_install iproute2; }
scripts/ensure-engine.sh
scripts/build-images.sh test
exec .venv/bin/python -m pytest "$@"
