"""The state files' names in one place, and the one lock: paths written out by hand; a lock
held shuts out another thread and another process, and is let go when its holder ends."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dockerlink.config import Config
from dockerlink.statefiles import FILES, StateFiles, acquire, locked
from tests.waiting import until


def test_every_path_is_made_from_the_settings(tmp_path):
    config = Config(
        stats_db=str(tmp_path / "state" / "stats.sqlite3"),
        create_lock=str(tmp_path / "create.lock"),
        backup_dir=str(tmp_path / "backups"),
    )
    files = StateFiles.of(config)
    state = f"{tmp_path}/state"
    assert files.path("stats") == f"{state}/stats.sqlite3"
    assert files.path("revoked") == f"{state}/stats.sqlite3.revoked"
    assert files.path("collector_lock") == f"{state}/stats.sqlite3.lock"
    assert files.path("heal_lock") == f"{state}/stats.sqlite3.heal.lock"
    assert files.path("corrupt", time="20260101T000000Z") == f"{state}/stats.sqlite3.corrupt-20260101T000000Z"
    assert files.path("jobs") == f"{state}/stats.sqlite3.jobs.json"
    assert files.path("quotas_lock") == f"{state}/stats.sqlite3.quotas.json.lock"
    assert files.path("events") == f"{state}/dockerlink-events.sqlite3"
    assert files.path("tls") == f"{state}/dockerlink-tls"
    assert files.path("certbot_lock") == f"{state}/dockerlink-tls/.certbot.lock"
    assert files.path("create_lock") == f"{tmp_path}/create.lock"
    assert files.path("site_lock", name="blog") == f"{tmp_path}/backups/blog/.lock"
    assert files.path("backup", name="blog", backup="b1") == f"{tmp_path}/backups/blog/b1.tar.zst"
    assert files.path("restores") == f"{tmp_path}/backups/.restores"
    assert files.path("git_execs") == f"{state}/stats.sqlite3.git-execs"


def test_beside_a_relative_stats_db_the_paths_are_absolute_and_every_listed_file_has_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = StateFiles.of(Config(stats_db="stats.sqlite3"))
    assert files.path("disk") == f"{tmp_path}/stats.sqlite3.disk.json"
    parts = {"name": "blog", "backup": "b1", "time": "t", "transfer": "x1", "repository": "r1", "random": "x"}
    as_set = [key for key in FILES if not files.path(key, **parts).startswith("/")]  # type: ignore[arg-type]
    assert as_set == ["stats", "events", "create_lock"]  # the settings' own paths, as given
    assert all(entry.why for entry in FILES.values())


def test_a_part_that_is_not_a_file_name_or_a_missing_root_is_refused(tmp_path):
    files = StateFiles(backup_dir=str(tmp_path))
    for bad in ("../etc", "a/b", "..", ""):
        with pytest.raises(ValueError, match="not a file name"):
            files.path("site_lock", name=bad)
    with pytest.raises(ValueError, match="a part is missing"):
        files.path("site_lock")
    with pytest.raises(ValueError, match="no stats_db given"):
        files.path("jobs")


def test_a_held_lock_shuts_out_another_thread_until_it_is_let_go(tmp_path):
    path = tmp_path / "x.lock"
    entered = threading.Event()

    def wait_for_it() -> None:
        with locked(path):
            entered.set()

    with locked(path):
        with pytest.raises(BlockingIOError):
            acquire(path, wait=False)
        waiter = threading.Thread(target=wait_for_it)
        waiter.start()
        assert not entered.wait(0.2)  # still held: the waiter waits
    until(entered.is_set, timeout=10, what="the waiter to take the lock once it was let go")
    waiter.join()


HOLDER = """import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


def test_a_held_lock_shuts_out_another_process_and_a_dead_holder_lets_go(tmp_path):
    path = tmp_path / "x.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(BlockingIOError):
            acquire(path, wait=False)
    finally:
        holder.kill()
        holder.wait()
    with locked(path, wait=False):  # the dead holder's lock went with it
        pass


def test_no_module_but_statefiles_takes_a_lock_of_its_own():
    root = Path(__file__).resolve().parents[1] / "dockerlink"
    locks = (".flock(", ".lockf(", "LOCK_EX", "LOCK_SH", "LOCK_NB", "F_SETLK", "F_OFD_SETLK")  # not F_SETPIPE_SZ
    users = sorted(str(p.relative_to(root)) for p in root.rglob("*.py") if any(w in p.read_text() for w in locks))
    assert users == ["statefiles.py"]
