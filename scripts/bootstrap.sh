#!/usr/bin/env bash
# Shared set-up of the run and test commands: virtualenv, package, Docker engine, base image.
# Usage: scripts/bootstrap.sh [test]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -f .env ]; then set -a; . ./.env; set +a; fi
py="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv 2>/dev/null || {
    echo "bootstrap: installing python3-venv" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    "$py" -m venv .venv
  }
fi
extra=""
[ "${1:-}" = test ] && extra="[test]"
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extra"

bash scripts/ensure_dockerd.sh
bash scripts/build_base_image.sh
