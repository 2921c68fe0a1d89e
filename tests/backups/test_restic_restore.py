"""A restic backup restored straight from `restic dump` (issue 27): one pass, no file
written out first, the local restore's checks and extraction, and the site's files
replaced only once restic has exited 0. A fake `restic` plays the dump: the whole tar, the
tar cut half-way with restic's failure, the whole tar and then a failure, no tar at all
(the repository unreachable), a hostile member. Both ways in: the volume's directory on
this host, and the engine's archive endpoint (a remote engine)."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import textwrap
import time

import pytest

from dockerlink.backups import Catalog, Record, Restorer, hostrestore
from dockerlink.backups.restore import SWAP_SCRIPT
from dockerlink.config import Config
from dockerlink.errors import BackupFailed
from tests.fakes import FakeEngine

LABELS = {"dockerlink": "0.1.0", "dockerlink.host_port_root": "10000"}
BACKUP = "20260102T000000Z-0000000b"
ROOT = "var/lib/docker/volumes/dockerlink-site1-www/_data"
#: The site user of the fake engine's base image (tests/fakes.py BASE_PASSWD).
ADMIN = (1000, 1000)
#: Bigger than a read of the dump (1 MiB), so that a cut half-way falls inside it.
BIG = os.urandom(3 * 2**20 + 5)

FAKE = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys
    with open("{log}", "a") as f:
        f.write(json.dumps(sys.argv) + "\\n")
    mode = open("{mode}").read()
    data = open("{tar}", "rb").read()
    if mode == "down":
        sys.stderr.write("Fatal: unable to open config file: connection refused\\n")
        sys.exit(1)
    out = sys.stdout.buffer
    out.write(data[: len(data) // 2] if mode == "cut" else data)
    out.flush()
    if mode in ("cut", "late"):
        sys.stderr.write("Fatal: load blob 5b7b: ciphertext verification failed\\n")
        sys.exit(1)
    """
)


def _dump_tar(hostile: bool = False) -> bytes:
    """What `restic dump --archive tar` of the volume's parent gives: absolute names
    without their `/`, the parents too."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        parts = ROOT.split("/")
        for i in range(1, len(parts) + 1):
            d = tarfile.TarInfo("/".join(parts[:i]))
            d.type, d.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(d)
        files = {"html/index.html": b"restored", "html/big.bin": BIG}
        if hostile:
            files["html/../../escape"] = b"x"
        d = tarfile.TarInfo(f"{ROOT}/html")
        d.type, d.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(d)
        for name, data in files.items():
            f = tarfile.TarInfo(f"{ROOT}/{name}")
            f.size, f.mode, f.uid = len(data), 0o4755, 0  # setuid, root's: never kept
            tar.addfile(f, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A running site on the fake engine, its restic backup recorded, the fake restic first
    on PATH, and the volume's directory holding the site's current files."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "restic"
    mode, log, tar = tmp_path / "mode", tmp_path / "calls.jsonl", tmp_path / "dump.tar"
    exe.write_text(FAKE.format(python=sys.executable, log=log, mode=mode, tar=tar))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}:{os.environ['PATH']}")
    (tmp_path / "pw").write_text("pw")
    config = Config(
        stats_db=str(tmp_path / "s.sqlite3"),
        backup_dir=str(tmp_path / "b"),
        restic_repository=str(tmp_path / "repo"),
        restic_password_file=str(tmp_path / "pw"),
    )
    engine = FakeEngine()
    c = engine.containers.add("site1", labels=LABELS, volumes={"/var/www": "dockerlink-site1-www"})
    engine.volumes.create("dockerlink-site1-www")
    catalog = Catalog(config.backup_dir)
    catalog.site_dir("site1", create=True)
    catalog.save(
        Record(
            backup=BACKUP,
            name="site1",
            kind="manual",
            state="done",
            started=time.time(),
            container=c.id,
            target="restic",
            compression="restic",
            snapshot="abcd1234",
            source="files",
            path="/" + ROOT,
            read=len(BIG) + 10_000,
        )
    )
    volume = tmp_path / "volume"
    (volume / "html").mkdir(parents=True)
    (volume / "html" / "index.html").write_text("old")
    restorer = Restorer(engine, catalog, config)
    restorer.volumes.directory = lambda name: str(volume) if name == "dockerlink-site1-www" else None
    # The helper container's script, run on the volume's directory here (the fake runs no container).
    script = SWAP_SCRIPT.replace("cd /var/www", f"cd {volume}")
    restorer._helper = lambda entry, phase: subprocess.run(["sh", "-c", script, "helper", phase], check=True)
    stops = []
    real_stop = engine.containers.stop
    engine.containers.stop = lambda ref, t=None: stops.append(ref) or real_stop(ref, t)

    def play(how: str, hostile: bool = False) -> None:
        mode.write_text(how)
        tar.write_bytes(_dump_tar(hostile))

    def calls() -> list[list[str]]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return engine, restorer, c, volume, play, calls, stops, tmp_path


def _unchanged(engine, c, volume, tmp_path) -> None:  # noqa: ANN001
    assert (volume / "html" / "index.html").read_text() == "old"
    assert sorted(os.listdir(volume)) == ["html"]  # no staging directory left
    assert engine.containers.inspect(c.id).running
    assert not list((tmp_path / "b").glob(".restores/*.json"))  # no restore left in flight


def test_a_restic_backup_is_restored_from_the_dump_in_one_pass(site, monkeypatch):
    engine, restorer, c, volume, play, calls, stops, tmp_path = site

    def no_writer_threads() -> None:  # restic's dump has the other core (docs/differences.md)
        raise AssertionError("a restic restore writes in the reading thread")

    monkeypatch.setattr(hostrestore, "Writes", no_writer_threads)
    play("ok")
    assert restorer.restore(c, BACKUP) is True
    assert (volume / "html" / "index.html").read_text() == "restored"
    assert (volume / "html" / "big.bin").read_bytes() == BIG
    st = (volume / "html" / "big.bin").stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (*ADMIN, 0o755)  # the site user's, setuid dropped
    [argv] = calls()
    assert argv[argv.index("dump") :] == [
        "dump",
        "--archive",
        "tar",
        "--",
        "abcd1234",
        "/var/lib/docker/volumes/dockerlink-site1-www",
    ]
    # Nothing written out beside the site's backups: the dump went straight in.
    assert [p.name for p in (tmp_path / "b" / "site1").iterdir() if "restic" in p.name] == []
    assert engine.containers.inspect(c.id).running and stops == [c.id]


@pytest.mark.parametrize("how", ["cut", "late"])
def test_a_dump_that_fails_leaves_the_sites_files_as_they_were(site, how):
    """Cut half-way, or whole and then a failure: restic's exit status decides, before the
    swap; the answer is restic's one line."""
    engine, restorer, c, volume, play, calls, stops, tmp_path = site
    play(how)
    with pytest.raises(BackupFailed) as failed:
        restorer.restore(c, BACKUP)
    assert str(failed.value) == (
        f"restore of site1 from {BACKUP} failed, the site is unchanged: "
        "restic: load blob 5b7b: ciphertext verification failed"
    )
    assert stops == [c.id]  # the dump had begun: the site was stopped, and is started again
    _unchanged(engine, c, volume, tmp_path)


def test_an_unreachable_repository_fails_the_restore_before_the_site_is_stopped(site):
    engine, restorer, c, volume, play, calls, stops, tmp_path = site
    play("down")
    with pytest.raises(BackupFailed) as failed:
        restorer.restore(c, BACKUP)
    assert (
        str(failed.value)
        == f"restore of site1 from {BACKUP} failed: restic: unable to open config file: connection refused"
    )
    assert stops == []
    _unchanged(engine, c, volume, tmp_path)


def test_a_dump_holding_a_member_outside_www_is_refused_and_changes_nothing(site):
    engine, restorer, c, volume, play, calls, stops, tmp_path = site
    play("ok", hostile=True)
    with pytest.raises(BackupFailed) as failed:
        restorer.restore(c, BACKUP)
    assert str(failed.value) == (
        f"restore of site1 from {BACKUP} failed, the site is unchanged: member outside www/: 'www/html/../../escape'"
    )
    assert not (volume.parent / "escape").exists()
    _unchanged(engine, c, volume, tmp_path)


@pytest.mark.parametrize(("how", "phases"), [("ok", ["prepare", "commit"]), ("late", ["prepare", "recover"])])
def test_through_the_engine_the_swap_runs_only_after_restic_exited_0(site, how, phases):
    """A remote engine (no host path): the members go to the engine's PUT archive; the
    helper's `commit` runs only once the dump has exited 0."""
    engine, restorer, c, volume, play, calls, stops, tmp_path = site
    restorer.volumes.directory = lambda name: None
    sent, ran = [], []
    engine.containers.put_archive = lambda ref, path, body: sent.append((path, b"".join(body)))
    restorer._helper = lambda entry, phase: ran.append(phase)
    play(how)
    if how == "ok":
        restorer.restore(c, BACKUP)
    else:
        with pytest.raises(BackupFailed):
            restorer.restore(c, BACKUP)
    assert ran == phases
    [(path, body)] = sent
    assert path == "/var/www/.dockerlink-restore"
    assert engine.containers.inspect(c.id).running
    if how != "ok":
        assert not body.endswith(bytes(1024))  # the engine never had the tar's end
        return
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        names = tar.getnames()
        assert tar.getmember("www/html/big.bin").uid == ADMIN[0]
    assert names == ["www", "www/html", "www/html/index.html", "www/html/big.bin"]


def test_a_dump_expanding_past_the_limit_is_refused_midway_and_changes_nothing(site):
    """A snapshot whose size the record does not know (an adopted one's may not): the
    limit is counted on the dump as it comes (here its first read already passes it, before
    the site is stopped), restic stopped, the site as it was."""
    from dockerlink.errors import TooLarge

    engine, restorer, c, volume, play, calls, stops, tmp_path = site
    record = restorer.catalog.get("site1", BACKUP)
    record.read = 0
    restorer.catalog.save(record)
    restorer._limit = lambda c: (300_000, "restore_max_expanded")
    play("ok")
    with pytest.raises(TooLarge) as refused:
        restorer.restore(c, BACKUP)
    assert str(refused.value) == (
        f"restore of site1 from {BACKUP} refused, the site is unchanged: "
        "the archive expands past 300000 bytes (restore_max_expanded)"
    )
    assert stops == []
    _unchanged(engine, c, volume, tmp_path)
