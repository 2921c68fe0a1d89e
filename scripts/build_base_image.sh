#!/usr/bin/env bash
# Build the default base image without any registry: debootstrap a Debian bookworm root
# file system from Debian's archive and `docker import` it. Skips when the image exists and
# was built by this version of the script (label dockerlink.base_image_version); an image
# built by another version is rebuilt, never silently kept. FORCE=1 rebuilds anyway.
# SSH host keys are removed; each container generates its own on first start.
# The image has the site owner's user `admin` (uid 1000, home /var/www, no password until
# dockerlink sets one) and the web terminal (shellinabox, port 4200, login prompt).
set -euo pipefail

image="${base_image:-dockerlink/base:latest}"
sock="${docker_sock:-/var/run/docker.sock}"
if [[ "$sock" != *://* ]]; then export DOCKER_HOST="unix://$sock"; else export DOCKER_HOST="$sock"; fi
suite="${DEBIAN_SUITE:-bookworm}"
mirror="${DEBIAN_MIRROR:-$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)}"
mirror="${mirror:-http://deb.debian.org/debian}"

# Bump when the image's contents change: images built by another version are rebuilt.
version=2
label=dockerlink.base_image_version
if built=$(docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$image" 2>/dev/null); then
  if [ "$built" = "$version" ] && [ "${FORCE:-0}" != 1 ]; then
    exit 0
  fi
  echo "build_base_image: $image has $label=${built:-none}, this script builds $version: rebuilding" >&2
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
  --include=bash,coreutils,git,openssh-server,openssh-client,ca-certificates,procps,shellinabox \
  "$suite" "$root" "$mirror" >"$root.log" 2>&1 || { tail -n 30 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"

# No shared host keys: every container makes its own on first start.
rm -f "$root"/etc/ssh/ssh_host_*
mkdir -p "$root/run/sshd" "$root/var/www/html"
# The site's owner: uid 1000, home /var/www, no password ("*": none set, not locked, so a key
# alone can log in) until dockerlink sets one.
chroot "$root" useradd --uid 1000 --user-group --home-dir /var/www --no-create-home --shell /bin/bash admin
chroot "$root" usermod --password '*' admin
chroot "$root" chown admin:admin /var/www /var/www/html
install -m 0755 "$(dirname "$0")/../images/base/entrypoint.sh" "$root/usr/local/bin/dockerlink-keepalive"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

echo "build_base_image: importing as $image" >&2
tar -C "$root" -c . | docker import \
  --change 'CMD ["/usr/local/bin/dockerlink-keepalive"]' \
  --change 'WORKDIR /var/www/html' \
  --change 'EXPOSE 22/tcp' \
  --change 'EXPOSE 4200/tcp' \
  --change "LABEL $label=$version" \
  - "$image" >/dev/null
echo "build_base_image: built $image" >&2
