"""Answering a history query: which container an `id` means, and its parameters.

How an `id` resolves: a full 64-hex id with stored history answers from the store alone
(the container may be gone, the engine need not answer). Anything else, a name or an id
prefix included, is resolved by the engine to the container that has it *now*; a name or
prefix of a container that no longer exists is a 404, even if its history is still
stored: names are reused by new containers, so only the full id names a deleted one
without doubt.
"""

from __future__ import annotations

import math
import re
from typing import Protocol

from ..engine import ContainerDetails, NotFound
from ..errors import InvalidInput, NoSuchContainer
from .store import SCALES, StatsStore

__all__ = ["FULL_ID", "resolve", "parse_since", "parse_scale"]

FULL_ID = re.compile(r"[0-9a-f]{64}")


class Inspector(Protocol):
    def inspect(self, ref: str) -> ContainerDetails: ...


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
