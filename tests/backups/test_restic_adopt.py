"""A new host adopts the restic repository's backups: each snapshot's tags and path make
the catalog record the lost host had (site, backup id, container, kind, stream or files),
written once; snapshots that do not say whose they are stay out."""

from __future__ import annotations

import pytest

from dockerlink.backups import Catalog
from dockerlink.backups.targets import ResticTarget, adopted_record
from dockerlink.config import Config
from dockerlink.errors import InvalidInput
from tests.fakes import FakeEngine

CID = "c" * 64


def _snapshot(site: str, backup: str, path: str, *extra: str, short: str = "0a1b2c3d") -> dict:
    return {
        "time": "2026-12-03T02:15:07.588829665Z",
        "paths": [path],
        "hostname": "lost-host",
        "tags": ["dockerlink", f"dockerlink-site={site}", f"dockerlink-backup={backup}", *extra],
        "id": short + "e" * 56,
        "short_id": short,
    }


class FakeRestic:
    def __init__(self, snapshots: list[dict]) -> None:
        self.listed, self.asked = snapshots, []

    def snapshots(self, tags):  # noqa: ANN001
        self.asked.append(list(tags))
        return self.listed


def test_a_files_snapshot_becomes_the_record_the_lost_host_had():
    snap = _snapshot(
        "site1",
        "20261203T021500Z-0123abcd",
        "/var/lib/docker/volumes/dockerlink-site1-www/_data",
        f"dockerlink-container={CID}",
        "dockerlink-kind=final",
    )
    r = adopted_record(snap)
    assert (r.name, r.backup, r.container) == ("site1", "20261203T021500Z-0123abcd", CID)
    assert (r.kind, r.state) == ("final", "done")
    assert (r.target, r.snapshot, r.source, r.compression) == ("restic", "0a1b2c3d", "files", "restic")
    assert r.path == "/var/lib/docker/volumes/dockerlink-site1-www/_data"
    assert r.started == 1796264100.0  # 2026-12-03 02:15:00 UTC, the id's time
    assert r.finished == pytest.approx(1796264107.588829)  # the snapshot's


def test_a_stream_snapshot_is_read_back_as_a_stream_and_an_untagged_kind_is_adopted():
    r = adopted_record(_snapshot("site1", "20261203T021500Z-0123abcd", "/site1.tar", "dockerlink-container=nothex"))
    assert (r.source, r.path, r.kind, r.container) == ("stream", "/site1.tar", "adopted", None)


@pytest.mark.parametrize(
    "snap",
    [
        _snapshot("../etc", "20261203T021500Z-0123abcd", "/x"),
        _snapshot("site1", "20261203T021500Z-0123abcd/..", "/x"),
        _snapshot("site1", "20261203T021500Z-0123abcd", "/x", short=""),
        {**_snapshot("site1", "20261203T021500Z-0123abcd", "/x"), "paths": ["/a", "/b"]},
        {**_snapshot("site1", "20261203T021500Z-0123abcd", "/x"), "tags": ["dockerlink", "dockerlink-site=site1"]},
    ],
)
def test_a_snapshot_that_does_not_say_whose_backup_it_is_is_left_alone(snap):
    assert adopted_record(snap) is None


def _target(tmp_path, snapshots: list[dict]) -> tuple[ResticTarget, FakeRestic, Catalog]:
    catalog = Catalog(tmp_path / "backups")
    restic = FakeRestic(snapshots)
    return ResticTarget(FakeEngine(), Config(backup_dir=str(tmp_path / "backups")), catalog, restic), restic, catalog


def test_adopting_writes_each_missing_record_once(tmp_path):
    a = _snapshot("site1", "20261203T021500Z-0000000a", "/site1.tar", short="aaaaaaaa")
    b = _snapshot("site2", "20261203T021500Z-0000000b", "/site2.tar", short="bbbbbbbb")
    stray = {**_snapshot("site3", "20261203T021500Z-0000000c", "/x"), "tags": ["dockerlink"]}
    target, restic, catalog = _target(tmp_path, [a, b, stray])

    assert [(r.name, r.backup) for r in target.adopt()] == [
        ("site1", "20261203T021500Z-0000000a"),
        ("site2", "20261203T021500Z-0000000b"),
    ]
    assert restic.asked == [["dockerlink"]]
    assert catalog.done("site2", "20261203T021500Z-0000000b").snapshot == "bbbbbbbb"
    assert catalog.names() == ["site1", "site2"]
    assert target.adopt() == []  # already listed


def test_adopting_one_site_asks_for_its_snapshots_only(tmp_path):
    a = _snapshot("site1", "20261203T021500Z-0000000a", "/site1.tar")
    b = _snapshot("site2", "20261203T021500Z-0000000b", "/site2.tar")
    target, restic, catalog = _target(tmp_path, [a, b])  # a fake that ignores the tag: the name still filters
    assert [r.name for r in target.adopt("site1")] == ["site1"]
    assert restic.asked == [["dockerlink", "dockerlink-site=site1"]]
    assert catalog.names() == ["site1"]
    with pytest.raises(InvalidInput):
        target.adopt("../x")
