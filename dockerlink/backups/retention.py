"""Where the retention policy is applied: each target that keeps backups, one site at a time.

The retention job (schedule.py) walks `retention_targets(config)`: each target lists the
sites it holds backups of and applies the policy to one (`apply_retention(site, policy)`:
the ids it removed). The local catalog is `LocalTarget`; a restic repository is one more
target, appended in `retention_targets` when configured, whose `apply_retention` calls its
`forget` with the policy's four counts (`last` as `--keep-last`) and `prune`, restic run
with `TZ=UTC` (restic buckets days in local time; the policy's days are UTC).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ..config import Config
from ..engine import Engine
from .catalog import Catalog
from .freshness import LastBackups
from .policy import Retention
from .targets import ResticTarget

__all__ = ["RetentionTarget", "LocalTarget", "ResticRetention", "retention_targets"]


class RetentionTarget(Protocol):
    name: str

    def sites(self) -> Iterable[str]:
        """The site names this target holds backups of."""
        ...

    def apply_retention(self, site: str, policy: Retention) -> list[str]:
        """Remove the site's backups the policy does not keep; the ids removed."""
        ...


class LocalTarget:
    """`backup_dir`: the policy over each name's backups, those taken before a delete
    going after `backup_deleted_days` (as `Catalog.prune`); then the time of each site's
    last good backup as the catalog now has it."""

    name = "local"

    def __init__(self, config: Config, catalog: Catalog | None = None, last: LastBackups | None = None) -> None:
        self.catalog = catalog or Catalog(config.backup_dir)
        self.last = last or LastBackups.of(config)
        self.deleted_days = config.backup_deleted_days

    def sites(self) -> list[str]:
        return self.catalog.names()

    def apply_retention(self, site: str, policy: Retention) -> list[str]:
        removed = self.catalog.prune(site, policy, self.deleted_days)
        self.last.refresh(site, self.catalog.records(site))
        return removed


class ResticRetention:
    """The restic repository: the policy's daily, weekly and monthly counts through
    `restic forget --keep-… --prune`, one site's snapshots at a time. `backup_keep` (the
    newest N) counts local backups only (docs/differences.md), so without a calendar count
    restic's snapshots are all kept."""

    name = "restic"

    def __init__(self, target: ResticTarget, last: LastBackups) -> None:
        self.target = target
        self.last = last

    def sites(self) -> list[str]:
        catalog = self.target.catalog
        return [n for n in catalog.names() if any(r.target == "restic" for r in catalog.records(n))]

    def apply_retention(self, site: str, policy: Retention) -> list[str]:
        if not policy.by_calendar:
            return []
        removed = self.target.forget(policy.daily, policy.weekly, policy.monthly, name=site)
        if removed:
            self.last.refresh(site, self.target.catalog.records(site), target=self.name)
        return removed


def retention_targets(config: Config, engine: Engine | None = None) -> list[RetentionTarget]:
    """Every target the retention job applies the policy to: the local catalog, and the
    restic repository where one is set up (its `forget` never uses `engine`)."""
    local = LocalTarget(config)
    targets: list[RetentionTarget] = [local]
    if config.restic_repository and config.restic_password_file:
        targets.append(ResticRetention(ResticTarget(engine or config.engine(), config, local.catalog), local.last))
    return targets
