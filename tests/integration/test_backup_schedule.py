"""The backup schedule on the real engine, time injected: the collector's job takes a real
site's backup at its moment (a zstd tar of its /var/www holding what was written there),
records it as "scheduled", hands `backup_done` to the journal and notes the site's last
good backup; no host port is published."""

from __future__ import annotations

import calendar
import io
import tarfile
import threading
import time

import pytest
import zstandard

from dockerlink.backups import Catalog
from dockerlink.backups.freshness import LastBackups
from dockerlink.backups.schedule import offset, schedule_job
from dockerlink.config import Config
from dockerlink.engine import ContainerSpec, NotFound
from dockerlink.events.hooks import backup_events
from dockerlink.events.journal import Journal
from dockerlink.ownership import LABEL
from tests.waiting import until

from .conftest import PREFIX, TEST_LABEL


def at(stamp: str) -> float:
    return float(calendar.timegm(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")))


@pytest.fixture
def site(engine, base_image):
    name, volume = f"{PREFIX}schedule", f"dockerlink-{PREFIX}schedule-www"
    cid, _ = engine.containers.create(
        ContainerSpec(
            image=base_image,
            cmd=("sleep", "infinity"),
            labels={LABEL: "test", TEST_LABEL: "1"},
            volumes={volume: "/var/www"},
        ),
        name=name,
    )
    engine.containers.start(cid)
    result = engine.execs.run(cid, ["sh", "-c", "mkdir -p /var/www/html && printf 'nightly\\n' > /var/www/html/a.txt"])
    assert result.exit_code == 0, result.stderr
    yield cid, name
    try:
        engine.containers.remove(cid, force=True, volumes=True)
    except NotFound:
        pass
    engine.volumes.remove(volume, force=True)


def test_the_job_takes_a_real_sites_backup_at_its_moment(engine, site, tmp_path):
    cid, name = site
    config = Config(
        stats_db=str(tmp_path / "stats.sqlite3"),
        backup_dir=str(tmp_path / "backups"),
        backup_schedule="03:00",
        backup_window=60,
    )
    now = [at("2026-12-04 12:00:00")]
    moment = at("2026-12-05 03:00:00") + offset(cid, 60)
    steps = iter([moment - 60, moment + 1])

    def wait(seconds: float) -> bool:
        until(lambda: not any(t.name == f"backup-{name}" for t in threading.enumerate()), "the backup ended", 120)
        step = next(steps, None)
        if step is None:
            return True
        now[0] = step
        return False

    mine = lambda: [s for s in engine.containers.list(all=True, filters={"label": [LABEL]}) if s.id == cid]  # noqa: E731
    job = schedule_job(config, engine, backup_events(Journal(config.events_path)), sites=mine, clock=lambda: now[0])
    job.run(wait)  # noon: first seen; a minute before its moment: nothing; a second after: its backup

    catalog = Catalog(config.backup_dir)
    records = catalog.records(name)
    assert [(r.kind, r.state, r.container) for r in records] == [("scheduled", "done", cid)], records
    with open(catalog.archive_path(name, records[0].backup), "rb") as f:
        plain = zstandard.ZstdDecompressor().stream_reader(f).read()
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        assert tar.extractfile("www/html/a.txt").read() == b"nightly\n"
    events = Journal(config.events_path).take_handoffs()
    assert [(e.type, e.id, e.detail["kind"]) for e in events] == [("backup_done", cid, "scheduled")]
    assert LastBackups.of(config).all()[cid]["backup"] == records[0].backup
