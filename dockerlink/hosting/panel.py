"""A container as the panel reads it: the entries of `GET /v1/container` (docs/contract.md §3.1, §3.0)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..engine import ContainerDetails
from ..ownership import LABEL, LEGACY_PORTS_LABEL, ROOT_LABEL, is_owned

__all__ = ["describe", "port_root", "exit_fields"]


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


def exit_fields(c: ContainerDetails, oom_kills: int) -> dict[str, Any]:
    """Extra listing fields: restarts by the policy, whether the last exit was an OOM kill,
    that exit's code and time (null when it never exited), and `oom_kills`, the processes
    the OOM killer took since the container started (the engine marks only an exit as
    OOM-killed; a php-fpm killed under a living sshd shows here, from the cgroup counter
    the collector last read)."""
    last = None if c.finished_at is None else {"code": c.last_exit_code, "at": round(c.finished_at, 3)}
    return {"restart_count": c.restart_count, "oom_killed": c.oom_killed, "last_exit": last, "oom_kills": oom_kills}
