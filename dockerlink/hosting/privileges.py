"""What root inside a site may do: the capabilities it keeps, and no-new-privileges.

Measured with the base image (tests/integration/test_privileges.py): sshd by password, by
key and with a tty, and the web terminal's `login` need CHOWN, FOWNER, SETUID, SETGID,
SYS_CHROOT (sshd's privilege separation) and AUDIT_WRITE (sshd with a tty). Kept besides:
DAC_OVERRIDE (the site's commands run as root and write into `admin`'s /var/www),
KILL (root stopping `admin`'s processes, and dockerlink ending login sessions), and
NET_BIND_SERVICE (ports 22 and 80 on an engine that does not lower
ip_unprivileged_port_start). Dropped from Docker's default set: NET_RAW (raw sockets: no
spoofing on the shared bridge), MKNOD, FSETID, SETFCAP and SETPCAP. With
no-new-privileges no setuid binary or file capability raises a process: `su`, `passwd`
as admin and ping's setuid bit do nothing.
"""

from __future__ import annotations

from typing import Any

__all__ = ["KEPT_CAPABILITIES", "site_privileges"]

KEPT_CAPABILITIES = (
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "SETUID",
    "SETGID",
    "SYS_CHROOT",
    "AUDIT_WRITE",
    "KILL",
    "NET_BIND_SERVICE",
)


def site_privileges() -> dict[str, Any]:
    """ContainerSpec fields of a new site: every capability dropped but KEPT_CAPABILITIES
    (an allow-list: a capability a later engine adds to its defaults is not granted), and
    no-new-privileges. Docker's default seccomp profile stays. An existing container keeps
    what it was created with: the engine cannot change either on a container."""
    return {"cap_drop": ("ALL",), "cap_add": KEPT_CAPABILITIES, "security_opt": ("no-new-privileges:true",)}
