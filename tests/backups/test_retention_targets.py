"""The retention job's targets: the local catalog always, the restic repository where one is
set up, its `forget` given the policy's calendar counts one site at a time; without a
calendar count restic's snapshots are all kept (`backup_keep` counts local backups only)."""

from __future__ import annotations

from dockerlink.backups import Catalog, Record
from dockerlink.backups.freshness import LastBackups
from dockerlink.backups.policy import Retention
from dockerlink.backups.retention import LocalTarget, ResticRetention, retention_targets
from dockerlink.config import Config

OLD, NEW, LOCAL = "20261201T000000Z-0000000a", "20261203T000000Z-0000000b", "20261202T000000Z-0000000c"


class Target:
    """A restic target that keeps what it was asked."""

    def __init__(self, catalog: Catalog, removes: list[str]) -> None:
        self.catalog = catalog
        self.asked: list[tuple] = []
        self._removes = removes

    def forget(self, keep_daily, keep_weekly, keep_monthly, prune=True, name=None):  # noqa: ANN001, ANN201
        self.asked.append((keep_daily, keep_weekly, keep_monthly, prune, name))
        for backup in self._removes:
            self.catalog.remove(name, backup)
        return list(self._removes)


def _record(backup: str, target: str, started: float) -> Record:
    return Record(
        backup=backup, name="site1", kind="scheduled", state="done", started=started, container="c" * 64, target=target
    )


def test_restic_is_a_target_only_where_it_is_set_up(tmp_path):
    plain = Config(stats_db=str(tmp_path / "s.sqlite3"), backup_dir=str(tmp_path / "b"))
    assert [t.name for t in retention_targets(plain)] == ["local"]
    (tmp_path / "pw").write_text("secret\n")
    with_restic = Config(
        stats_db=str(tmp_path / "s.sqlite3"),
        backup_dir=str(tmp_path / "b"),
        restic_repository=str(tmp_path / "repo"),
        restic_password_file=str(tmp_path / "pw"),
    )
    targets = retention_targets(with_restic)
    assert [t.name for t in targets] == ["local", "restic"]
    assert isinstance(targets[0], LocalTarget) and isinstance(targets[1], ResticRetention)


def test_restic_forgets_by_the_calendar_counts_site_by_site_and_the_last_backup_follows(tmp_path):
    catalog = Catalog(tmp_path / "b")
    catalog.site_dir("site1", create=True)
    catalog.save(_record(OLD, "restic", 1_000.0))
    catalog.save(_record(NEW, "restic", 2_000.0))
    catalog.save(_record(LOCAL, "local", 1_500.0))
    last = LastBackups(tmp_path / "last.json")
    last.note(catalog.get("site1", NEW), target="restic")
    target = Target(catalog, removes=[NEW])
    restic = ResticRetention(target, last)  # type: ignore[arg-type]
    assert restic.sites() == ["site1"]

    assert restic.apply_retention("site1", Retention(last=7)) == []  # no calendar count: all kept
    assert target.asked == []

    assert restic.apply_retention("site1", Retention(last=7, daily=3, weekly=2, monthly=1)) == [NEW]
    assert target.asked == [(3, 2, 1, True, "site1")]
    assert last.all()["c" * 64]["backup"] == LOCAL  # the newest good one left
