#!/usr/bin/env bash
# The run command: sets up everything (venv, dockerd, base image), then serves.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/dockerlink serve "$@"
