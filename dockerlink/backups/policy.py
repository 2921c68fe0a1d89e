"""The retention policy: which of a site's backups are kept, as restic's `forget` decides.

`last` (`backup_keep`) keeps the newest N backups, as restic's `--keep-last`; `daily`,
`weekly`, `monthly` keep the newest backup of each of the last N UTC days, ISO weeks and
months that have a backup, as restic's `--keep-daily` / `--keep-weekly` / `--keep-monthly`.
The kept set is the union of the four, and always holds the newest backup, so a policy
never leaves a site without its latest good backup. The same counts go to a restic
target's `forget`, so the local catalog and a repository keep alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["Retention", "kept"]


@dataclass(frozen=True)
class Retention:
    last: int = 7
    daily: int = 0
    weekly: int = 0
    monthly: int = 0

    @classmethod
    def of(cls, config: Config) -> Retention:
        return cls(config.backup_keep, config.backup_keep_daily, config.backup_keep_weekly, config.backup_keep_monthly)

    @property
    def by_calendar(self) -> bool:
        """Whether days, weeks or months count (else only the newest `last`)."""
        return bool(self.daily or self.weekly or self.monthly)


def _day(t: float) -> tuple[int, ...]:
    g = time.gmtime(t)
    return (g.tm_year, g.tm_yday)


def _week(t: float) -> tuple[int, ...]:
    year, week, _ = time.strftime("%G %V %u", time.gmtime(t)).split()
    return (int(year), int(week))


def _month(t: float) -> tuple[int, ...]:
    g = time.gmtime(t)
    return (g.tm_year, g.tm_mon)


def kept(backups: Iterable[tuple[str, float]], policy: Retention) -> set[str]:
    """The ids to keep of `backups` ((id, Unix time taken) pairs, any order)."""
    newest_first = sorted(backups, key=lambda b: (b[1], b[0]), reverse=True)
    keep = {b for b, _ in newest_first[: max(policy.last, 1)]}
    buckets: tuple[tuple[int, Callable[[float], tuple[int, ...]]], ...] = (
        (policy.daily, _day),
        (policy.weekly, _week),
        (policy.monthly, _month),
    )
    for count, bucket in buckets:
        previous = None
        for backup, taken in newest_first:
            if count <= 0:
                break
            if bucket(taken) != previous:  # the newest of a bucket comes first
                previous = bucket(taken)
                keep.add(backup)
                count -= 1
    return keep
