"""A container's recent output for `GET /v1/container/logs`: stdout and stderr from the
engine (json-file keeps each line's time), merged in time order, cut to a byte budget.

What is kept when the output is over the budget is its newest part (the end is what a
site's owner looks for), with a last line saying how much was left out.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable

__all__ = ["MAX_TAIL", "MAX_BODY", "merge"]

MAX_TAIL = 10_000
MAX_BODY = 8 * 1024 * 1024
_STAMP = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) ")


def _sort_key(stamp: re.Match[bytes]) -> tuple[bytes, int]:
    # RFC 3339 with trailing zeros trimmed does not sort as text: ".1Z" vs ".12Z".
    return (stamp[1], int((stamp[2] or b"0").ljust(9, b"0")))


def merge(frames: Iterable[tuple[int, bytes]], *, timestamps: bool, budget: int = MAX_BODY) -> bytes:
    """The body: each frame is one line (with the engine's timestamp prefix), oldest first;
    lines are ordered by that time (stable), without it unless `timestamps`."""
    limit = budget - 200  # room for the last line
    kept: deque[tuple[tuple[bytes, int], int, bytes]] = deque()
    size = order = 0
    dropped_lines = dropped_bytes = 0
    key = (b"", 0)
    for _, payload in frames:
        for raw in payload.splitlines(keepends=True):  # a tty's raw chunk may hold several lines
            stamp = _STAMP.match(raw)
            if stamp is not None:
                key = _sort_key(stamp)  # a line without one keeps its predecessor's place
            line = raw if timestamps or stamp is None else raw[stamp.end() :]
            if not line.endswith(b"\n"):
                line += b"\n"
            kept.append((key, order, line))
            order += 1
            size += len(line)
        while size > limit and kept:
            _, _, old = kept.popleft()
            size -= len(old)
            dropped_lines += 1
            dropped_bytes += len(old)
    body = b"".join(line for _, _, line in sorted(kept))
    if dropped_lines:
        body += (
            f"[dockerlink: output cut to its last {budget} bytes; "
            f"{dropped_lines} earlier lines ({dropped_bytes} bytes) left out]\n"
        ).encode()
    return body
