"""A create or resize request, validated before the engine sees any of it (docs/contract.md §3.1).

Each rule has one owner: names here, commands in `commands`, ports in `ports`, limits in
`limits`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..access import Credentials, check_site_name, parse_credentials
from ..config import Config
from ..engine import InvalidReference, check_image_ref
from ..errors import InvalidInput, from_engine
from .commands import MAX_COMMAND_LENGTH, MAX_COMMANDS, check_commands
from .limits import cpu_quota, memory_bytes
from .ports import ContainerPort, check_root, parse_ports

__all__ = [
    "NAME_PATTERN",
    "MAX_COMMANDS",
    "MAX_COMMAND_LENGTH",
    "CreateRequest",
    "Resize",
    "disk_quota",
    "parse_create",
    "parse_resize",
]

#: A new container's name; also valid as an ECMA-262 pattern, for the OpenAPI document.
NAME_PATTERN = r"[a-zA-Z0-9][a-zA-Z0-9_.-]{1,127}"
_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class CreateRequest:
    name: str
    host_port_root: int
    memory: int
    cpu_quota: int
    ports: tuple[ContainerPort, ...]
    image: str
    commands: tuple[str, ...]
    credentials: Credentials = Credentials()  # the site owner's login (docs/contract.md §6.1)
    disk: float | None = None  # quota in GiB; None: none


@dataclass(frozen=True)
class Resize:
    memory: int | None
    cpu_quota: int | None
    disk: float | None = None  # the new quota in GiB (None: none), when `sets_disk`
    sets_disk: bool = False

    @property
    def sets_limits(self) -> bool:
        return self.memory is not None or self.cpu_quota is not None


def parse_create(body: dict[str, Any], config: Config) -> CreateRequest:
    """Validate a create body (docs/contract.md §3.1) before the engine sees any of it."""
    for field in ("name", "host_port_root", "memory", "cpulimit"):
        if field not in body:
            raise InvalidInput(field, "is required")
    name = body["name"]
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput("name", "expected [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most 128 characters")
    check_site_name(name, config)
    image = body.get("image")
    if image is None:
        image = config.base_image
    if not isinstance(image, str) or not image:
        raise InvalidInput("image", "expected a non-empty image reference")
    try:
        check_image_ref(image)
    except InvalidReference as exc:
        raise from_engine(exc, field="image") from None
    return CreateRequest(
        name=name,
        host_port_root=check_root(body["host_port_root"], config.port_area_size),
        memory=memory_bytes(body["memory"]),
        cpu_quota=cpu_quota(body["cpulimit"]),
        ports=parse_ports(body.get("ports"), config.port_area_size),
        image=image,
        commands=check_commands(body.get("commands")),
        disk=disk_quota(body.get("disk")),
        credentials=parse_credentials(body, generate=True),
    )


def parse_resize(body: dict[str, Any]) -> Resize:
    """Validate a resize body; 0 (no limit) stays 0 here, `Hosting.resize` says what it means."""
    if body.get("memory") is None and body.get("cpulimit") is None and "disk" not in body:
        raise InvalidInput("body", "give cpulimit, memory or both (or disk)")
    return Resize(
        memory=None if body.get("memory") is None else memory_bytes(body["memory"]),
        cpu_quota=None if body.get("cpulimit") is None else cpu_quota(body["cpulimit"]),
        disk=disk_quota(body.get("disk")),
        sets_disk="disk" in body,
    )


def disk_quota(value: object) -> float | None:
    """`disk` in a create or PATCH body: GiB > 0, or 0 / null for no quota."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1_000_000:
        raise InvalidInput("disk", "expected a quota in GiB (0 for none)")
    return float(value)
