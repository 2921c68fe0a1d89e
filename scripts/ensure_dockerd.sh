#!/usr/bin/env bash
# Make sure a Docker engine answers at the configured socket.
# If none answers and this is Debian as root: install Debian's docker.io and start dockerd
# in the background (log in $DOCKERD_LOG), then wait for /_ping. Safe to run twice.
set -euo pipefail

sock="${docker_sock:-${DOCKER_SOCK:-/var/run/docker.sock}}"
sock="${sock#unix://}"
log="${DOCKERD_LOG:-/var/log/dockerlink-dockerd.log}"

case "$sock" in
  tcp://*) echo "ensure_dockerd: $sock is a remote engine; not managing it" >&2; exit 0 ;;
esac

ping() { curl -fsS --max-time 3 --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; }

if ping; then exit 0; fi

if [ "$(id -u)" != 0 ] || [ ! -f /etc/debian_version ]; then
  echo "ensure_dockerd: no Docker engine answers at $sock (and this is not Debian as root: start one yourself)" >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1 || ! command -v curl >/dev/null 2>&1; then
  echo "ensure_dockerd: installing Debian's docker.io" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends docker.io curl iptables ca-certificates >/dev/null
fi

start_dockerd() {
  echo "ensure_dockerd: starting dockerd (log: $log)" >&2
  mkdir -p "$(dirname "$log")"
  nohup dockerd --host "unix://$sock" >>"$log" 2>&1 </dev/null &
}

# A dockerd that is still shutting down answers nothing: wait for it to go, then start anew.
for _ in $(seq 1 180); do
  if ping; then exit 0; fi
  pgrep -x dockerd >/dev/null 2>&1 || start_dockerd
  sleep 0.5
done
echo "ensure_dockerd: dockerd did not answer at $sock within 90 s; see $log" >&2
tail -n 20 "$log" >&2 || true
exit 1
