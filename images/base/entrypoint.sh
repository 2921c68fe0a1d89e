#!/bin/sh
# Keep-alive process of the dockerlink base image.
# - SSH host keys are made on first start (never shared between containers).
# - The web terminal (shellinabox, a `login` prompt: never a shell without a password) runs
#   under a restart loop, so it comes back after a crash.
# - sshd then becomes the container's main process: the container lives and dies with sshd,
#   never with the terminal (the loop is sshd's child and ends with the container).
set -e
mkdir -p /run/sshd
ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1 || ssh-keygen -A >/dev/null
if [ -x /usr/bin/shellinaboxd ]; then
  (
    while :; do
      /usr/bin/shellinaboxd --disable-ssl --no-beep --port=4200 \
        --service=/:LOGIN --service=/wetty:LOGIN </dev/null || true
      sleep 1
    done
  ) &
fi
exec /usr/sbin/sshd -D -e
