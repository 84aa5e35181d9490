#!/usr/bin/env bash
# The main job: deploy the sample app in sample-repo/ onto a local engine.
# Installs what it needs, makes an engine reachable, builds the sample images
# locally, then runs `gitdeploy sync`. Safe to run again: a second run changes
# nothing and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/ensure-engine.sh
scripts/build-images.sh sample
# The sample's secret is encrypted to a THROWAWAY key committed beside it (public, protects nothing).
# Your own key never goes into Git: point GITDEPLOY_AGE_KEY_FILE at it.
export GITDEPLOY_AGE_KEY_FILE="${GITDEPLOY_AGE_KEY_FILE:-sample-repo/keys/DEMO-ONLY-age-key.txt}"
# --pull never: the sample images are local; nothing is fetched from a registry.
# The sample declares two environments (sample-repo/environments/): the demo deploys prod.
.venv/bin/gitdeploy sync --repo sample-repo --env prod --pull never
.venv/bin/gitdeploy status --repo sample-repo --env prod
echo
echo "Try: curl http://127.0.0.1:8080/cgi-bin/api    (web asks api, by name, on the project network)"
