#!/usr/bin/env bash
# Make sure a Docker engine answers at the configured socket.
# If none answers and this is Debian as root: install Debian's docker.io and start the engine
# so that it lives on its own, then wait for /_ping. Safe to run twice.
#
# The engine must outlive whoever started it: Ctrl-C in the terminal of scripts/run.sh or
# scripts/test.sh (SIGINT to the terminal's whole foreground process group) must never reach
# dockerd, which would shut down and take every hosted site with it. So: where systemd runs
# (PID 1), Debian's `docker` unit is started; else dockerd is started with `setsid` in a
# session of its own (no controlling terminal, not in the caller's process group), its output
# to $DOCKERD_LOG.
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

# Debian's unit listens on the default socket only.
systemd_unit() {
  [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] || return 1
  case "$sock" in /var/run/docker.sock | /run/docker.sock) ;; *) return 1 ;; esac
  systemctl cat docker.service >/dev/null 2>&1
}

start_dockerd() {
  if systemd_unit; then
    echo "ensure_dockerd: starting Debian's docker unit (systemctl start docker)" >&2
    systemctl start --no-block docker && return 0
    echo "ensure_dockerd: systemctl start docker failed; starting dockerd in its own session" >&2
  fi
  echo "ensure_dockerd: starting dockerd in its own session (log: $log)" >&2
  mkdir -p "$(dirname "$log")"
  # setsid -f: always fork, then a new session; so neither the caller's process group nor
  # its terminal (and the SIGINT of a Ctrl-C in it) ever reaches dockerd.
  setsid -f dockerd --host "unix://$sock" >>"$log" 2>&1 </dev/null
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
