#!/usr/bin/env bash
# The test command: sets up everything (venv, dockerd, base image), then runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh test
exec .venv/bin/python -m pytest "$@"
