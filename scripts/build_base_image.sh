#!/usr/bin/env bash
# Build the default base image without any registry: debootstrap a Debian bookworm root
# file system from Debian's archive and `docker import` it. Skips when the image exists.
# SSH host keys are removed; each container generates its own on first start.
set -euo pipefail

image="${base_image:-dockerlink/base:latest}"
sock="${docker_sock:-/var/run/docker.sock}"
if [[ "$sock" != *://* ]]; then export DOCKER_HOST="unix://$sock"; else export DOCKER_HOST="$sock"; fi
suite="${DEBIAN_SUITE:-bookworm}"
mirror="${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}"
mirror="${mirror:-http://deb.debian.org/debian}"

if docker image inspect "$image" >/dev/null 2>&1 && [ "${FORCE:-0}" != 1 ]; then
  exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
  echo "build_base_image: installing debootstrap" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

root=$(mktemp -d /var/tmp/dockerlink-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "build_base_image: debootstrap $suite into $root (from $mirror)" >&2
debootstrap --variant=minbase \
  --include=bash,coreutils,git,openssh-server,openssh-client,ca-certificates,procps \
  "$suite" "$root" "$mirror" >"$root.log" 2>&1 || { tail -n 30 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"

# No shared host keys: every container makes its own on first start.
rm -f "$root"/etc/ssh/ssh_host_*
mkdir -p "$root/run/sshd" "$root/var/www/html"
install -m 0755 "$(dirname "$0")/../images/base/entrypoint.sh" "$root/usr/local/bin/dockerlink-keepalive"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

echo "build_base_image: importing as $image" >&2
tar -C "$root" -c . | docker import \
  --change 'CMD ["/usr/local/bin/dockerlink-keepalive"]' \
  --change 'WORKDIR /var/www/html' \
  --change 'EXPOSE 22/tcp' \
  - "$image" >/dev/null
echo "build_base_image: built $image" >&2
