"""dockerlink.hosting — what a hosting container is, and what the panel does with them.

    parsing.py     a create or resize request, validated before the engine sees it
    commands.py    the site's commands: checked at create; the start script they cannot break
    privileges.py  what root in a site may do: the capabilities kept, no-new-privileges
    ports.py       the port area: which host port each container port is published on
    limits.py      memory and CPU: GiB and cores to the engine's bytes and CFS quota
    panel.py       a container as the panel reads it (`describe`)
    operations.py  `Hosting`: create, list, resize, start/stop, delete, on the engine
    listing.py     the full listing's cache of container details, kept true by events
    capacity.py    how much room the host has left (`GET /v1/capacity`)

Which containers dockerlink may change at all is `dockerlink.ownership`'s rule (git and
stats use it too).
"""

from .limits import cpu_quota, memory_bytes
from .operations import WORKDIR, WWW, History, Hosting, QuotaBook, start_script, volume_name
from .panel import describe, port_root
from .parsing import (
    MAX_COMMAND_LENGTH,
    MAX_COMMANDS,
    NAME_PATTERN,
    CreateRequest,
    Resize,
    disk_quota,
    parse_create,
    parse_resize,
)

__all__ = [
    "Hosting",
    "History",
    "QuotaBook",
    "CreateRequest",
    "Resize",
    "parse_create",
    "parse_resize",
    "disk_quota",
    "describe",
    "port_root",
    "start_script",
    "volume_name",
    "cpu_quota",
    "memory_bytes",
    "NAME_PATTERN",
    "MAX_COMMANDS",
    "MAX_COMMAND_LENGTH",
    "WWW",
    "WORKDIR",
]
