"""The retention policy, against kept sets written out by hand for a set of backup dates
(UTC; ISO weeks start on Monday: 2026-11-30 is a Monday, 2026-12-31 and 2027-01-01 are
both in week 53 of 2026), and the catalog pruning a site's files by it."""

from __future__ import annotations

import calendar
import time

import pytest

from dockerlink.backups import Catalog, Record
from dockerlink.backups.policy import Retention, kept


def at(stamp: str) -> float:
    return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%d %H:%M")))


DATES = [
    "2026-12-04 14:00",  # Friday, week 49
    "2026-12-04 02:00",
    "2026-12-03 02:00",
    "2026-12-01 02:00",
    "2026-11-30 02:00",  # Monday, week 49
    "2026-11-29 02:00",  # Sunday, week 48
    "2026-11-22 02:00",  # Sunday, week 47
    "2026-11-15 02:00",
    "2026-10-31 02:00",
    "2026-10-01 02:00",
    "2026-09-15 02:00",
]
BACKUPS = [(d, at(d)) for d in DATES]


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (Retention(last=1, daily=3), {"2026-12-04 14:00", "2026-12-03 02:00", "2026-12-01 02:00"}),
        (Retention(last=1, weekly=2), {"2026-12-04 14:00", "2026-11-29 02:00"}),
        (Retention(last=1, weekly=3), {"2026-12-04 14:00", "2026-11-29 02:00", "2026-11-22 02:00"}),
        (Retention(last=1, monthly=3), {"2026-12-04 14:00", "2026-11-30 02:00", "2026-10-31 02:00"}),
        (Retention(last=3), {"2026-12-04 14:00", "2026-12-04 02:00", "2026-12-03 02:00"}),
        (
            Retention(last=2, daily=2, weekly=2, monthly=2),
            {"2026-12-04 14:00", "2026-12-04 02:00", "2026-12-03 02:00", "2026-11-29 02:00", "2026-11-30 02:00"},
        ),
        # more days than there are days with backups: all of each day's newest
        (
            Retention(last=1, daily=100),
            set(DATES) - {"2026-12-04 02:00"},
        ),
    ],
)
def test_the_policy_keeps_the_newest_of_each_of_the_last_n_days_weeks_months(policy, expected):
    assert kept(BACKUPS, policy) == expected


def test_the_order_given_does_not_matter():
    assert kept(reversed(BACKUPS), Retention(last=1, daily=3)) == {
        "2026-12-04 14:00",
        "2026-12-03 02:00",
        "2026-12-01 02:00",
    }


def test_days_without_a_backup_do_not_count_as_restic_does():
    backups = [(d, at(d)) for d in ("2026-12-04 02:00", "2026-12-01 02:00", "2026-11-20 02:00", "2026-11-19 02:00")]
    assert kept(backups, Retention(last=1, daily=3)) == {"2026-12-04 02:00", "2026-12-01 02:00", "2026-11-20 02:00"}


def test_iso_weeks_cross_the_new_year_and_months_do_not():
    backups = [(d, at(d)) for d in ("2027-01-01 02:00", "2026-12-31 02:00", "2026-12-27 02:00")]
    assert kept(backups, Retention(last=1, weekly=2)) == {"2027-01-01 02:00", "2026-12-27 02:00"}
    assert kept(backups, Retention(last=1, monthly=2)) == {"2027-01-01 02:00", "2026-12-31 02:00"}


def test_the_newest_backup_is_kept_whatever_the_counts():
    assert kept(BACKUPS, Retention(last=0)) == {"2026-12-04 14:00"}
    assert kept([], Retention(last=1, daily=3)) == set()


def _record(backup_at: str, n: int, kind: str = "manual", state: str = "done") -> Record:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(at(backup_at)))
    return Record(
        backup=f"{stamp}-{n:08x}", name="site1", kind=kind, state=state, started=at(backup_at), container="c" * 64
    )


def test_the_catalog_prunes_a_sites_files_by_the_policy(tmp_path):
    catalog = Catalog(tmp_path)
    catalog.site_dir("site1", create=True)
    for n, d in enumerate(DATES):
        catalog.save(_record(d, n, kind="scheduled" if n % 2 else "manual"))
    final = _record("2026-11-01 02:00", 98, kind="final")  # taken before a delete: backup_deleted_days
    failed = _record("2026-12-04 15:00", 99, state="failed")  # the newest record: kept so its error is seen
    catalog.save(final)
    catalog.save(failed)
    now = at("2026-12-04 16:00")
    removed = catalog.prune("site1", Retention(last=1, daily=3, monthly=2), deleted_days=40, now=now)
    left = {r.backup for r in catalog.records("site1")}
    expected_days = {"2026-12-04 14:00", "2026-12-03 02:00", "2026-12-01 02:00", "2026-11-30 02:00"}
    expected = {_record(d, n).backup for n, d in enumerate(DATES) if d in expected_days}
    assert left == expected | {final.backup, failed.backup}
    assert len(removed) == len(DATES) - 4
    later = at("2026-12-12 16:00")  # the final one is 41 days old then
    catalog.prune("site1", Retention(last=1, daily=3, monthly=2), deleted_days=40, now=later)
    assert final.backup not in {r.backup for r in catalog.records("site1")}
