#!/bin/sh
# Keep-alive process of the dockerlink base image: SSH host keys are made on first start
# (never shared between containers), then sshd runs in the foreground.
set -e
mkdir -p /run/sshd
ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1 || ssh-keygen -A >/dev/null
exec /usr/sbin/sshd -D -e
