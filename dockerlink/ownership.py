"""Which containers dockerlink may change: only those it created (label `dockerlink`).

Any other container on the host (a database, the panel itself) is listed read-only."""

from __future__ import annotations

from .engine import ContainerDetails, ContainerSummary
from .errors import Forbidden

__all__ = ["LABEL", "ROOT_LABEL", "LEGACY_PORTS_LABEL", "is_owned", "require_owned"]

#: Value: the dockerlink version that created the container.
LABEL = "dockerlink"
#: Value: the container's host port root.
ROOT_LABEL = "dockerlink.host_port_root"
#: The original HebergOS-dockerlink's label holding the port root.
LEGACY_PORTS_LABEL = "ports"


def is_owned(container: ContainerDetails | ContainerSummary) -> bool:
    return LABEL in container.labels


def require_owned(container: ContainerDetails) -> ContainerDetails:
    if not is_owned(container):
        raise Forbidden(f"container {container.name or container.id[:12]} was not created by dockerlink: read-only")
    return container
