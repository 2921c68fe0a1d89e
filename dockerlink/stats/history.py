"""Answering a history query: which container an `id` means, its parameters, and the
stand-in sample of a site that has none.

How an `id` resolves: a full 64-hex id with stored history answers from the store alone
(the container may be gone, the engine need not answer). Anything else, a name or an id
prefix included, is resolved by the engine to the container that has it *now*; a name or
prefix of a container that no longer exists is a 404, even if its history is still
stored: names are reused by new containers, so only the full id names a deleted one
without doubt.

The answer is never `{}` for a container dockerlink manages while the asked range holds
no sample (a site created or stopped before the collector's first round of it, or a
scale whose tier is empty): both panels crash on `{}` (docs/contract.md §3.0). It is then one
stand-in sample at the current second: zero use and net, and the container's limits as
a sampled running container shows them (memory limit in GiB, unlimited = the host's
memory; CPU limit in %, unlimited = the host's cores × 100). With `since` > 0, `{}`
stays the answer while the range holds samples (the client has them all); only a range
with none at all gets the stand-in, if its second is after `since`.
"""

from __future__ import annotations

import math
import re
import time
from typing import Protocol

from ..engine import ContainerDetails, EngineInfo, NotFound
from ..errors import InvalidInput, NoSuchContainer
from ..ownership import is_owned
from .arithmetic import cpu_limit_percent, memory_limit
from .rendering import fill_cpu_ceiling, join, render, with_counts
from .sampler import cfs_limit
from .samples import Sample
from .store import SCALES, StatsStore

__all__ = ["FULL_ID", "EMPTY", "History", "resolve", "parse_since", "parse_scale", "stand_in"]

#: The answer without any sample.
EMPTY = "{}"

FULL_ID = re.compile(r"[0-9a-f]{64}")


class Inspector(Protocol):
    def inspect(self, ref: str) -> ContainerDetails: ...


class HostInfo(Protocol):
    def info(self) -> EngineInfo: ...


class History:
    """`GET /v1/container/stats`'s answer: the stored history, or the stand-in (see above)."""

    def __init__(self, containers: Inspector, store: StatsStore, host: HostInfo) -> None:
        self._containers = containers
        self._store = store
        self._host = host
        self._host_memory: int | None = None  # asked once, when a stand-in first needs it

    def answer(self, ref: str, since: float, scale: str | None) -> tuple[str, str]:
        """`ref`'s full id, and the JSON text of its history after `since` in `scale` (docs/contract.md §3.2)."""
        container_id = resolve(self._containers, self._store, ref)
        return container_id, self._answer(container_id, since, scale)

    def _answer(self, container_id: str, since: float, scale: str | None) -> str:
        text = self._store.history_json(container_id, since=since, scale=scale)
        if text != EMPTY or (since > 0 and self._store.history_json(container_id, scale=scale) != EMPTY):
            return text
        try:
            # A second inspect when `ref` was a name: only a container without samples pays it.
            details = self._containers.inspect(container_id)
        except NotFound:
            return EMPTY  # deleted meanwhile
        now = math.floor(time.time())
        if not is_owned(details) or now <= since:
            return EMPTY  # another container is not sampled: nothing to stand in for
        if self._host_memory is None:
            self._host_memory = self._host.info().memory_total
        sample = stand_in(details, now, self._host_memory)
        return fill_cpu_ceiling(join([with_counts(render(sample), 0, 0)]), self._store.host_cpus() * 100.0)


def stand_in(details: ContainerDetails, ts: float, host_memory: int) -> Sample:
    """A sample at `ts` with zero use and net, and the container's limits as a running
    sample's (the same formulas as the sampler's: cfs_limit, cpu_limit_percent, memory_limit)."""
    quota, period = cfs_limit(details)
    limit = memory_limit(details.memory, host_memory)
    return Sample(ts, 0.0, cpu_limit_percent(quota, period), 0, limit, 0, 0, 0, 0)


def resolve(containers: Inspector, store: StatsStore, ref: str) -> str:
    """The full id whose history answers `ref`; NoSuchContainer (404) when there is none."""
    if FULL_ID.fullmatch(ref) and store.has_history(ref):
        return ref
    try:
        return containers.inspect(ref).id
    except NotFound:
        raise NoSuchContainer(f"no such container, and no stats history under that id: {ref}") from None


def parse_since(raw: str | None) -> float:
    """`since`: unix seconds (a decimal is accepted), 0 or absent for all history."""
    if raw is None or raw == "":
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput("since", f"expected unix seconds, got {raw[:40]!r}") from None
    if not math.isfinite(value) or value < 0:
        raise InvalidInput("since", f"expected unix seconds (0 or more), got {raw[:40]!r}")
    return value


def parse_scale(raw: str | None) -> str | None:
    """`scale`: instant | hour | 4hours | day | week, or absent for all tiers merged."""
    if raw is None or raw == "":
        return None
    if raw not in SCALES:
        raise InvalidInput("scale", f"expected one of {', '.join(SCALES)}, got {raw[:40]!r}")
    return raw
