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

# Tools the tests drive (systemd-analyze, prometheus/promtool, socat, nginx, sshpass, ssh, chromium),
# installed only when missing.
if [ "${1:-}" = test ]; then
  missing=""
  command -v systemd-analyze >/dev/null || missing="$missing systemd"
  command -v promtool >/dev/null || missing="$missing prometheus"
  command -v socat >/dev/null || missing="$missing socat"
  command -v nginx >/dev/null || missing="$missing nginx"
  command -v sshpass >/dev/null || missing="$missing sshpass"
  command -v ssh >/dev/null || missing="$missing openssh-client"
  command -v chromium >/dev/null || missing="$missing chromium"   # the operator page's browser test
  command -v ip >/dev/null || missing="$missing iproute2"          # the second host of the transfer tests
  command -v nsenter >/dev/null || missing="$missing util-linux"
  command -v restic >/dev/null || missing="$missing restic"       # the restic backup target
  command -v rclone >/dev/null || missing="$missing rclone"       # its remote repository in tests
  command -v openssl >/dev/null || missing="$missing openssl"     # tls=certbot-routes' key copies
  command -v curl >/dev/null || missing="$missing curl"           # their TLS test
  if [ -n "$missing" ]; then
    echo "bootstrap: installing$missing" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
  fi
fi

bash scripts/ensure_dockerd.sh
bash scripts/build_base_image.sh
