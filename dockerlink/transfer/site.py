"""What moves with a site besides its files: read from the container on the sending host,
validated field by field on the receiving one before its engine sees any of it.

The receiving host trusts nothing of it more than it trusts a create body: the name, port
root, ports, limits, image and commands go through the create's own checks
(`hosting.parse_create`'s rules), the password hash must be a crypt(3) SHA-512 hash (or a
locked one), each key an OpenSSH public key line. The password itself never travels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..access import TERMINAL_PORT, Credentials, check_site_name
from ..access.credentials import MAX_KEYS, check_key_line
from ..access.login import Login, MissingUser
from ..config import Config
from ..engine import ContainerDetails, InvalidReference, check_image_ref
from ..errors import Conflicting, InvalidInput
from ..hosting import NAME_PATTERN, CreateRequest, disk_quota, port_root
from ..hosting.commands import check_commands, commands_of
from ..hosting.limits import CPU_PERIOD, UNLIMITED
from ..hosting.ports import check_root, parse_ports

__all__ = ["SiteSpec", "parse_spec", "read_spec"]

_NAME = re.compile(NAME_PATTERN)
#: crypt(3) SHA-512 (`$6$[rounds=N$]salt$hash`), or a locked / empty-password marker.
_HASH = re.compile(r"\$6\$(?:rounds=[0-9]{1,9}\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{86}|[!*]{1,2}")


@dataclass(frozen=True)
class SiteSpec:
    """A site as the receiving host re-creates it (its files travel apart)."""

    name: str
    host_port_root: int
    memory: int  # bytes; 0: no limit
    cpu_quota: int  # CFS quota over CPU_PERIOD; 0: no limit
    ports: tuple[str, ...]  # "8080/tcp", the always-forwarded ones included
    image: str
    commands: tuple[str, ...]
    disk: float | None
    password_hash: str | None
    ssh_keys: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "host_port_root": self.host_port_root,
            "memory": self.memory,
            "cpu_quota": self.cpu_quota,
            "ports": list(self.ports),
            "image": self.image,
            "commands": list(self.commands),
            "disk": self.disk,
            "password_hash": self.password_hash,
            "ssh_keys": list(self.ssh_keys),
        }

    def create_request(self, config: Config, root: int) -> CreateRequest:
        """The create that makes the site on this host, at port root `root`; no login
        (its hash and keys are written after, as they were)."""
        return CreateRequest(
            name=self.name,
            host_port_root=root,
            memory=self.memory,
            cpu_quota=self.cpu_quota,
            ports=parse_ports(list(self.ports), config.port_area_size),
            image=self.image,
            commands=self.commands,
            credentials=Credentials(),
            disk=self.disk,
        )


def read_spec(c: ContainerDetails, login: Login, quotas: dict[str, float]) -> SiteSpec:
    """A dockerlink site's spec, read from its container (running or not)."""
    root = port_root(c.labels)
    commands = commands_of(c.entrypoint[2]) if len(c.entrypoint) >= 3 else None
    if root is None or commands is None:
        raise Conflicting(f"{c.name} was not made by this dockerlink's create: it cannot be moved")
    try:
        password_hash, keys = login.password_hash(c.id), tuple(login.key_lines(c.id))
    except MissingUser:
        password_hash, keys = None, ()
    ports = sorted({f"{b.port}/{b.protocol}" for b in c.port_bindings if b.port != TERMINAL_PORT})
    return SiteSpec(
        name=c.name,
        host_port_root=root,
        memory=c.memory,
        cpu_quota=c.cpu_quota if c.cpu_quota > 0 and c.cpu_period == CPU_PERIOD else UNLIMITED,
        ports=tuple(ports),
        image=c.image,
        commands=commands,
        disk=quotas.get(c.id),
        password_hash=password_hash,
        ssh_keys=keys,
    )


def _int(body: dict[str, Any], field: str) -> int:
    value = body.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidInput(field, "expected an integer, 0 or more")
    return value


def parse_spec(body: dict[str, Any], config: Config, site: str) -> SiteSpec:
    """A spec sent by the sending host, each field checked as a create checks it; the name
    must be the one the transfer token was minted for (`site`)."""
    name = body.get("name")
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name != site:
        raise InvalidInput("name", "must be the site name the transfer token was minted for")
    check_site_name(name, config)
    image = body.get("image")
    try:
        check_image_ref(image if isinstance(image, str) else "")
    except InvalidReference:
        raise InvalidInput("image", "expected an image reference") from None
    ports = body.get("ports")
    parsed_ports = parse_ports(ports, config.port_area_size)
    password_hash = body.get("password_hash")
    if password_hash is not None and (not isinstance(password_hash, str) or not _HASH.fullmatch(password_hash)):
        raise InvalidInput("password_hash", "expected a crypt(3) SHA-512 hash ($6$…)")
    keys = body.get("ssh_keys") or []
    if not isinstance(keys, list) or len(keys) > MAX_KEYS:
        raise InvalidInput("ssh_keys", f"expected a list of at most {MAX_KEYS} OpenSSH public key lines")
    return SiteSpec(
        name=name,
        host_port_root=check_root(body.get("host_port_root"), config.port_area_size),
        memory=_int(body, "memory"),
        cpu_quota=_int(body, "cpu_quota"),
        ports=tuple(str(p) for p in parsed_ports),
        image=image,  # type: ignore[arg-type]
        commands=check_commands(body.get("commands")),
        disk=disk_quota(body.get("disk")),
        password_hash=password_hash,
        ssh_keys=tuple(check_key_line(k) for k in keys),
    )
