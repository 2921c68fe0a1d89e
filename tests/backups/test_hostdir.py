"""A backup read from, and a restore written to, a volume's directory on the host (issue 27):
the tenant's tree is never followed through a link on the host — a link planted as
`www/x -> <a host directory>` is stored as a link and restored as one, a directory swapped
for a link while it is read is left out, a staging name the tenant took is not used — and
a backup restored this way gives back the same tree (types, modes, owner, times, links)."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import time

import pytest
import zstandard

from dockerlink.backups import hostdir
from dockerlink.backups.archive import restored_members
from dockerlink.backups.hostdir import _Walk, tar_of
from dockerlink.backups.hostrestore import HostRestore
from dockerlink.backups.members import Owner


def _members(plain: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        return {m.name: m for m in tar.getmembers()}


@pytest.fixture
def host_secret(tmp_path):
    """A directory outside the volume, as the host's /etc would be, with one file."""
    d = tmp_path / "host-etc"
    d.mkdir()
    (d / "shadow").write_text("root:secret\n")
    return d


@pytest.fixture
def volume(tmp_path, host_secret):
    v = tmp_path / "volume"
    (v / "html" / "sub").mkdir(parents=True)
    (v / "html" / "index.html").write_text("hello\n")
    (v / "html" / "sub" / "big.bin").write_bytes(os.urandom(3 << 20))
    os.link(v / "html" / "index.html", v / "html" / "hard")
    (v / "html" / "x").symlink_to(host_secret)  # the tenant's link to a host directory
    (v / "html" / "etc").symlink_to("/etc")
    os.mkfifo(v / "html" / "pipe")
    os.chmod(v / "html" / "index.html", 0o640)
    os.utime(v / "html" / "index.html", (1_600_000_000, 1_600_000_000))
    return v


def test_a_backup_stores_the_tenants_links_as_links_and_never_reads_through_them(volume, host_secret):
    plain = b"".join(tar_of(str(volume)))
    members = _members(plain)
    assert members["www"].isdir()
    assert members["www/html/x"].issym() and members["www/html/x"].linkname == str(host_secret)
    assert members["www/html/etc"].issym() and members["www/html/etc"].linkname == "/etc"
    assert not [n for n in members if n.startswith(("www/html/x/", "www/html/etc/"))]
    assert b"root:secret" not in plain
    assert members["www/html/pipe"].isfifo()
    hard = [members["www/html/index.html"], members["www/html/hard"]]
    assert sorted(m.type for m in hard) == [tarfile.REGTYPE, tarfile.LNKTYPE]
    regular = next(m for m in hard if m.isreg())
    assert (regular.size, regular.mode, regular.mtime) == (6, 0o640, 1_600_000_000)
    assert members["www/html/sub/big.bin"].size == 3 << 20
    assert plain.endswith(bytes(1024)) and len(plain) % 512 == 0


def test_a_directory_swapped_for_a_link_after_it_was_listed_is_left_out(tmp_path, host_secret, monkeypatch):
    """The tenant runs while a backup reads: `d` was a directory when listed, is a link to
    a host directory when opened. O_NOFOLLOW refuses it; nothing of the host is read."""
    parent = tmp_path / "p"
    parent.mkdir()
    (parent / "d").symlink_to(host_secret)
    real_stat = os.stat
    listed_as_dir = os.stat(host_secret)

    def stat_before_the_swap(path, *, dir_fd=None, follow_symlinks=True):  # noqa: ANN001, ANN202
        return listed_as_dir if path == "d" else real_stat(path, dir_fd=dir_fd, follow_symlinks=follow_symlinks)

    monkeypatch.setattr(hostdir.os, "stat", stat_before_the_swap)
    fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
    walk = _Walk()
    try:
        out = b"".join(walk.entry(fd, "d", "www/d", 1)) + walk.flush()
    finally:
        os.close(fd)
    assert out == b""


def test_a_tree_deeper_than_the_limit_is_left_to_the_engine(tmp_path, monkeypatch):
    monkeypatch.setattr(hostdir, "MAX_DEPTH", 3)
    (tmp_path / "v" / "a" / "b" / "c" / "d").mkdir(parents=True)
    with pytest.raises(hostdir.TooDeep):
        b"".join(tar_of(str(tmp_path / "v")))


@pytest.mark.parametrize(
    ("name", "kind", "size", "link", "uid", "mtime"),
    [
        ("www/html/index.php", tarfile.REGTYPE, 12345, "", 1000, 1_700_000_000),
        ("www/html", tarfile.DIRTYPE, 0, "", 0, 0),
        ("www/" + "d" * 95, tarfile.DIRTYPE, 0, "", 1000, 1),  # 100 with its slash
        ("www/" + "d" * 96, tarfile.DIRTYPE, 0, "", 1000, 1),  # 101: a pax record
        ("www/" + "f" * 96, tarfile.REGTYPE, 1, "", 1000, 1),
        ("www/" + "f" * 97, tarfile.REGTYPE, 1, "", 1000, 1),
        ("www/l", tarfile.SYMTYPE, 0, "/etc/" + "x" * 95, 1000, 5),
        ("www/l", tarfile.SYMTYPE, 0, "/etc/" + "x" * 96, 1000, 5),
        ("www/h", tarfile.LNKTYPE, 0, "www/html/index.php", 1000, 5),
        ("www/p", tarfile.FIFOTYPE, 0, "", 1000, 5),
        ("www/café", tarfile.REGTYPE, 3, "", 1000, 5),
        ("www/big", tarfile.REGTYPE, 9 << 30, "", 1000, 5),  # past 8 GiB: a pax record
        ("www/uid", tarfile.REGTYPE, 3, "", 3_000_000, 5),
        ("www/old", tarfile.REGTYPE, 3, "", 1000, -5),
    ],
)
def test_a_members_header_is_the_one_tarfile_writes(name, kind, size, link, uid, mtime):
    st = os.stat_result((stat.S_IFREG | 0o4755, 1, 1, 1, uid, uid + 1, size, mtime, mtime, mtime))
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size, link
    info.mode, info.uid, info.gid, info.mtime = 0o4755, uid, uid + 1, mtime
    assert hostdir._header(name, st, kind, size, link) == info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _archive(tmp_path, plain: bytes) -> str:
    path = tmp_path / "b.tar.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(plain))
    return str(path)


def _tree(root) -> dict[str, tuple]:  # noqa: ANN001
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            kind = stat.S_IFMT(st.st_mode)
            content = os.readlink(p) if stat.S_ISLNK(st.st_mode) else None
            if stat.S_ISREG(st.st_mode):
                content = open(p, "rb").read()  # noqa: SIM115
            out[os.path.relpath(p, root)] = (kind, stat.S_IMODE(st.st_mode), content)
    return out


def test_a_restore_on_the_host_brings_back_the_tree_and_keeps_off_the_tenants_links(tmp_path, volume, host_secret):
    plain = b"".join(tar_of(str(volume)))
    before = _tree(volume)
    # The tenant changes the site, and plants links where a careless restore would go.
    (volume / "html" / "index.html").write_text("changed")
    (volume / "html" / "sub").rename(volume / "gone")
    (volume / "html" / "sub").symlink_to(host_secret)  # the archive has www/html/sub/big.bin
    me = Owner(os.getuid(), os.getgid())
    host = HostRestore(str(volume))
    assert host.prepare()
    host.extract(restored_members(_archive(tmp_path, plain), None, me, 1 << 30))
    host.commit()
    host.drop()
    assert _tree(volume) == before
    assert os.listdir(host_secret) == ["shadow"] and (host_secret / "shadow").read_text() == "root:secret\n"
    assert os.stat(volume / "html" / "index.html").st_mtime == 1_600_000_000


def test_a_staging_name_the_tenant_took_with_a_link_is_never_written_through(tmp_path, volume, host_secret):
    (volume / ".dockerlink-restore").symlink_to(host_secret)
    host = HostRestore(str(volume))
    assert host.prepare() is False  # left to the swap script's `prepare`, which removes the link
    assert os.listdir(host_secret) == ["shadow"]
    with pytest.raises(OSError):  # and extracting never goes through it
        host.extract(iter(()))
    assert os.listdir(host_secret) == ["shadow"]


def test_the_old_tree_is_set_aside_out_of_any_backup_then_removed_without_following_links(
    tmp_path, volume, host_secret
):
    """Issue 27: the old tree is deleted after the restore answers. Until then it waits
    under a reserved name that no backup holds; removing it follows none of its links."""
    plain = b"".join(tar_of(str(volume)))
    before = _tree(volume)
    (volume / "html" / "index.html").write_text("changed")
    (volume / "only-in-the-old-tree").write_text("old")
    host = HostRestore(str(volume))
    assert host.prepare()
    host.extract(restored_members(_archive(tmp_path, plain), None, Owner(os.getuid(), os.getgid()), 1 << 30))
    host.commit()
    fd = host.set_aside(".dockerlink-restore-old-0123456789ab")
    aside = volume / ".dockerlink-restore-old-0123456789ab"
    assert (aside / "old" / "only-in-the-old-tree").read_text() == "old"
    assert os.readlink(aside / "old" / "html" / "x") == str(host_secret)
    names = set(_members(b"".join(tar_of(str(volume)))))
    assert names == {"www", *(f"www/{n}" for n in before)}  # the set-aside tree in no backup
    host.remove(aside.name, fd)
    assert _tree(volume) == before
    assert os.listdir(host_secret) == ["shadow"] and (host_secret / "shadow").read_text() == "root:secret\n"


def _plain(*members: tuple[str, bytes | str | None]) -> bytes:
    """A tar of (name, content): bytes a file, None a directory, "->x" a hard link to x."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if content is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(content, str):
                info.type, info.linkname = tarfile.LNKTYPE, content[2:]
                tar.addfile(info)
            else:
                info.size, info.mode = len(content), 0o644
                tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def test_small_files_written_by_threads_keep_the_archives_order(tmp_path, monkeypatch):
    """Issue 27: small files are written by threads while the next members are read; a
    later member of the same name (or below it, or a hard link to it) still comes after."""
    from dockerlink.backups import hostrestore

    written = hostrestore._small_file

    def slow_writer(*args):  # noqa: ANN002, ANN202 - a loaded disk: the reader runs ahead
        time.sleep(0.05)
        written(*args)

    monkeypatch.setattr(hostrestore, "_small_file", slow_writer)
    plain = _plain(
        ("www", None),
        ("www/f", b"one"),
        ("www/f", b"two"),
        ("www/h", "->www/f"),
        ("www/d", b"a file first"),
        ("www/d", None),
        ("www/d/inner", b"in"),
        *((f"www/many/{i}", str(i).encode()) for i in range(20)),
    )
    v = tmp_path / "v"
    v.mkdir()
    host = HostRestore(str(v))
    assert host.prepare()
    host.extract(restored_members(_archive(tmp_path, plain), None, Owner(os.getuid(), os.getgid()), 1 << 30))
    host.commit()
    host.drop()
    assert (v / "f").read_bytes() == b"two" and os.path.samefile(v / "f", v / "h")
    assert (v / "d").is_dir() and (v / "d" / "inner").read_bytes() == b"in"
    assert {p.name: p.read_bytes() for p in (v / "many").iterdir()} == {str(i): str(i).encode() for i in range(20)}


def test_the_new_tree_is_on_disk_before_the_commit_marker_can_be(tmp_path, volume, monkeypatch):
    """The marker makes a crash roll forward (the old tree then goes): it must never reach
    the disk before every restored byte has, so a sync comes before it is made."""
    from dockerlink.backups import hostrestore

    plain = b"".join(tar_of(str(volume)))
    host = HostRestore(str(volume))
    assert host.prepare()
    host.extract(restored_members(_archive(tmp_path, plain), None, Owner(os.getuid(), os.getgid()), 1 << 30))
    marker = volume / ".dockerlink-restore" / "commit"
    synced_with_marker: list[bool] = []
    monkeypatch.setattr(hostrestore, "_sync", lambda fd: synced_with_marker.append(marker.exists()))
    host.commit()
    assert synced_with_marker[:2] == [False, True]


class _Dead:
    """A thread of a worker killed before it ran."""

    def __init__(self, **kw) -> None:  # noqa: ANN003
        pass

    def start(self) -> None:
        pass


def test_an_old_tree_left_by_a_worker_killed_after_the_answer_is_removed_at_the_next_start(
    tmp_path, volume, monkeypatch
):
    from dockerlink.backups import Catalog, Restorer
    from dockerlink.backups import restore as restore_module
    from dockerlink.config import Config
    from tests.fakes import FakeEngine

    plain = b"".join(tar_of(str(volume)))
    before = _tree(volume)
    (volume / "only-in-the-old-tree").write_text("old")
    cid = "1" * 64
    restorer = Restorer(FakeEngine(), Catalog(tmp_path / "backups"), Config(stats_db=str(tmp_path / "s.sqlite3")))
    monkeypatch.setattr(restorer.volumes, "directory", lambda v: str(volume) if v == "vol" else None)
    host = HostRestore(str(volume))
    assert host.prepare()
    host.extract(restored_members(_archive(tmp_path, plain), None, Owner(os.getuid(), os.getgid()), 1 << 30))
    host.commit()
    entry = {"container": cid, "name": "site1", "volume": "vol", "image": "i", "running": False, "backup": "b"}
    restorer._journal(entry)
    monkeypatch.setattr(restore_module.threading, "Thread", _Dead)
    restorer._finish(entry, host)  # the answer goes; the worker dies before removing the old tree
    [aside] = [n for n in os.listdir(volume) if n.startswith(".dockerlink-restore-old-")]
    assert (volume / aside / "old" / "only-in-the-old-tree").exists()
    assert [p.name for p in restorer.journal.iterdir()] == [f"drop-{cid}-{aside[-12:]}.json"]
    fresh = Restorer(FakeEngine(), Catalog(tmp_path / "backups"), Config(stats_db=str(tmp_path / "s.sqlite3")))
    monkeypatch.setattr(fresh.volumes, "directory", lambda v: str(volume) if v == "vol" else None)
    fresh.recover()
    assert _tree(volume) == before
    assert list(fresh.journal.iterdir()) == []


class _Engine:
    """What LocalVolumes asks: the address, the engine's info, a volume's inspect."""

    def __init__(self, address: str, mountpoint: str, userns: bool = False, driver: str = "local") -> None:
        from types import SimpleNamespace

        from dockerlink.engine import EngineInfo, VolumeInfo

        self.address = address
        self.info_calls = 0

        def info() -> EngineInfo:
            self.info_calls += 1
            return EngineInfo(2, 1 << 30, "2", "systemd", userns=userns)

        self.system = SimpleNamespace(info=info)
        self.volumes = SimpleNamespace(inspect=lambda name: VolumeInfo(name, driver, mountpoint, {}))


@pytest.mark.skipif(os.geteuid() != 0, reason="the host path is used by a root service only")
def test_the_host_directory_only_for_a_local_engine_without_user_namespaces(tmp_path):
    local = _Engine("unix:///var/run/docker.sock", str(tmp_path))
    volumes = hostdir.LocalVolumes(local)  # type: ignore[arg-type]
    assert volumes.directory("v") == str(tmp_path)
    assert volumes.directory("v") == str(tmp_path) and local.info_calls == 1  # asked once
    assert hostdir.LocalVolumes(_Engine("tcp://10.0.0.2:2376", str(tmp_path))).directory("v") is None  # type: ignore[arg-type]
    assert hostdir.LocalVolumes(_Engine("/var/run/docker.sock", str(tmp_path), userns=True)).directory("v") is None  # type: ignore[arg-type]
    assert hostdir.LocalVolumes(_Engine("/var/run/docker.sock", str(tmp_path), driver="nfs")).directory("v") is None  # type: ignore[arg-type]
    assert hostdir.LocalVolumes(_Engine("/var/run/docker.sock", str(tmp_path / "absent"))).directory("v") is None  # type: ignore[arg-type]
