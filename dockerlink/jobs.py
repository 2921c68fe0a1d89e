"""The shape of a job of the background process, and the one back-off its retries use.

Below every capability: each builds its jobs (stats rounds, the event follower, the OOM
counter, webhooks, the disk meter, restore recovery, the firewall keeper) in its own
package, with the engine and journal it is given; `dockerlink.collector` runs and
supervises them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["Job", "Wait", "backoff"]

#: `wait(seconds) -> stop?`: how a job sleeps; True once the process is stopping.
Wait = Callable[[float], bool]


def backoff(failures: int, first: float = 1.0, cap: float = 60.0) -> float:
    """Seconds to wait after `failures` failures in a row: `first`, doubling, at most `cap`
    (0 before any failure)."""
    if failures <= 0:
        return 0.0
    return min(cap, first * 2.0 ** (failures - 1))


@dataclass
class Job:
    """One thing the background process keeps running.

    `run(wait)` works until `wait` reports a stop; returning earlier, or raising, is a death
    (reported on /v1/health, restarted with back-off), except for a `once` job, which is
    done when it returns. `engine` is the engine the job was given (None: it needs none);
    `close` releases what the job holds, after it ended. `left_at_exit`: a job that, once
    the process is stopping, can only be blocked reading the engine (the event stream, open
    for a whole window) with nothing of its own to finish: the stop does not wait for it.
    """

    name: str
    run: Callable[[Wait], Any]
    engine: Engine | None = None
    once: bool = False
    close: Callable[[], Any] | None = None
    left_at_exit: bool = False
