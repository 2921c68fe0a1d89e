"""A container as the panel reads it: the entries of `GET /v1/container` (docs/contract.md §3.1, §3.0)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine import ContainerDetails
from ..ownership import LABEL, LEGACY_PORTS_LABEL, ROOT_LABEL, is_owned

__all__ = ["describe", "port_root"]


def port_root(labels: Mapping[str, str]) -> int | None:
    """The host port root of a dockerlink container (ours, or the original's `ports` label)."""
    for key in (ROOT_LABEL, LEGACY_PORTS_LABEL):
        raw = labels.get(key)
        if raw is not None and raw.strip().isdigit():
            return int(raw)
    return None


def describe(c: ContainerDetails) -> dict[str, Any]:
    """A container as the panel sees it (docs/contract.md §3.1, GET /v1/container)."""
    owned = is_owned(c)
    entry: dict[str, Any] = {
        "id": c.id,
        "name": "/" + c.name,  # Docker's form, as the original: the PHP panel cuts the first character
        "host_port_root": port_root(c.labels) if owned else None,
        "dockerlink": c.labels[LABEL] if owned else "not_dockerlink",
        "ports": {p: {} for p in c.exposed_ports},
        "state": c.state,
    }
    if c.running:
        entry["started_at"] = c.started_at
    else:
        entry["exit_code"] = c.exit_code
    return entry
