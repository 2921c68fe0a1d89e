"""Reading a backup back (issue 29): what a restore sends the engine is every member
rewritten as the site user's, nothing below a symlink, at most a limit of plain bytes, in
bounded steps whatever the compression ratio, and only from an archive whose sha256 is the
recorded one. The same rules refuse an upload."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
import tracemalloc

import pytest
import zstandard

from dockerlink.backups.archive import (
    CorruptArchive,
    Oversized,
    check_members,
    read_plain,
    restored_members,
    restored_stream,
)
from dockerlink.backups.hostrestore import STAGING, HostRestore
from dockerlink.backups.members import Owner

SITE = Owner(1000, 1000)
GIB = 2**30
MIB = 2**20


def _info(name: str, kind: bytes = tarfile.REGTYPE, mode: int = 0o644, uid: int = 0, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.uid, info.gid, info.linkname, info.mtime = kind, mode, uid, uid, link, 1_700_000_000
    return info


def D(name: str, mode: int = 0o755, uid: int = 0) -> tuple[tarfile.TarInfo, None]:  # noqa: N802
    return _info(name, tarfile.DIRTYPE, mode, uid), None


def F(name: str, data: bytes = b"x", mode: int = 0o644, uid: int = 0) -> tuple[tarfile.TarInfo, bytes]:  # noqa: N802
    return _info(name, tarfile.REGTYPE, mode, uid), data


def S(name: str, target: str) -> tuple[tarfile.TarInfo, None]:  # noqa: N802
    return _info(name, tarfile.SYMTYPE, 0o777, link=target), None


def H(name: str, target: str) -> tuple[tarfile.TarInfo, None]:  # noqa: N802
    return _info(name, tarfile.LNKTYPE, link=target), None


def _plain(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _zst(plain: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(plain)


def _restore_stream(tmp_path, compressed: bytes, sha256: str | None = None, limit: int = GIB):
    path = tmp_path / "b.tar.zst"
    path.write_bytes(compressed)
    errors: list[Exception] = []
    out = b"".join(read_plain(str(path), sha256, errors, SITE, limit))
    return out, errors


def _members(plain: bytes) -> list[tuple]:
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:") as tar:
        return [
            (m.name, m.type, oct(m.mode), m.uid, m.gid, m.linkname, tar.extractfile(m).read() if m.isreg() else None)
            for m in tar
        ]


def test_every_member_is_written_as_the_site_user_without_setuid_setgid_sticky_or_xattrs(tmp_path):
    suid = _info("www/html/suid", mode=0o4755)
    suid.pax_headers = {"SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}
    archive = _plain(
        D("www", mode=0o4777),
        D("www/html", mode=0o2775, uid=33),
        (suid, b"#!/bin/sh\n"),
        D("www/html/tmp", mode=0o1777),
        F("www/html/secret", b"s3cret", mode=0o600, uid=1234),
        (_info("www/html/fifo", tarfile.FIFOTYPE, mode=0o640), None),
        S("www/html/abs", "/etc"),
        S("www/html/rel", "../html/secret"),
        H("www/html/hard", "www/html/secret"),
        F("www/./html//dot", b"d"),
    )
    out, errors = _restore_stream(tmp_path, _zst(archive))
    assert errors == []
    assert _members(out) == [
        ("www", tarfile.DIRTYPE, "0o777", 1000, 1000, "", None),
        ("www/html", tarfile.DIRTYPE, "0o775", 1000, 1000, "", None),
        ("www/html/suid", tarfile.REGTYPE, "0o755", 1000, 1000, "", b"#!/bin/sh\n"),
        ("www/html/tmp", tarfile.DIRTYPE, "0o777", 1000, 1000, "", None),
        ("www/html/secret", tarfile.REGTYPE, "0o600", 1000, 1000, "", b"s3cret"),
        ("www/html/fifo", tarfile.FIFOTYPE, "0o640", 1000, 1000, "", None),
        ("www/html/abs", tarfile.SYMTYPE, "0o777", 1000, 1000, "/etc", None),
        ("www/html/rel", tarfile.SYMTYPE, "0o777", 1000, 1000, "../html/secret", None),
        ("www/html/hard", tarfile.LNKTYPE, "0o644", 1000, 1000, "www/html/secret", None),
        ("www/html/dot", tarfile.REGTYPE, "0o644", 1000, 1000, "", b"d"),
    ]
    with tarfile.open(fileobj=io.BytesIO(out), mode="r:") as tar:
        assert not any(k.startswith("SCHILY.") for m in tar for k in m.pax_headers)
    assert check_members(io.BytesIO(_zst(archive)), GIB).members == 10


REFUSED = {
    "written through a symlink to /etc": [D("www"), S("www/lnk", "/etc"), F("www/lnk/x", b"pwned")],
    "root's keys through a symlink": [D("www"), S("www/r", "/root"), D("www/r/.ssh"), F("www/r/.ssh/authorized_keys")],
    "through a dotted path": [D("www"), S("www/lnk", "/etc"), F("www/./lnk//x")],
    "a symlink replaced by a directory": [D("www"), S("www/lnk", "/etc"), D("www/lnk"), F("www/lnk/x")],
    "through a hard link to a symlink": [D("www"), S("www/s", "/etc"), H("www/h", "www/s"), F("www/h/passwd")],
    "a hard link whose target passes a symlink": [
        D("www"),
        F("www/d/shadow"),
        S("www/d", "/etc"),
        H("www/h", "www/d/shadow"),
    ],
    "a hard link out of the tree": [D("www"), H("www/h", "etc/shadow")],
    "a hard link with ..": [D("www"), H("www/h", "www/../../etc/shadow")],
    "a relative symlink climbing out": [D("www"), S("www/html/up", "../../etc")],
    "www a symlink": [S("www", "/etc"), F("www/passwd")],
    "www not first": [F("www/html/x"), D("www")],
    "www later a file": [D("www"), F("www", b"x")],
    "a member outside www": [D("www"), F("etc/passwd")],
    "an absolute member": [D("www"), F("/www/x")],
    "a member with ..": [D("www"), F("www/../../x")],
    "a device node": [D("www"), (_info("www/dev", tarfile.CHRTYPE), None)],
}


@pytest.mark.parametrize("members", REFUSED.values(), ids=REFUSED.keys())
def test_an_archive_that_would_write_outside_the_tree_or_through_a_link_is_refused(tmp_path, members):
    compressed = _zst(_plain(*members))
    with pytest.raises(CorruptArchive):
        check_members(io.BytesIO(compressed), GIB)
    _, errors = _restore_stream(tmp_path, compressed)
    assert len(errors) == 1 and isinstance(errors[0], CorruptArchive), errors


def _damaged_header() -> bytes:
    plain = bytearray(_plain(D("www"), F("www/a", b"a" * 100), F("www/b", b"b" * 100), F("www/c", b"c")))
    third_header = 512 * 5  # www, www/a + data, www/b + data
    assert plain[third_header : third_header + 5] == b"www/c"
    plain[third_header + 148 : third_header + 156] = b"0000000\0"  # its checksum
    return bytes(plain)


GOOD = _plain(D("www"), F("www/index.html", b"hello"))
DAMAGED = {
    "a damaged header after good members": _zst(_damaged_header()),
    "cut at a member's end (no end-of-archive block)": _zst(GOOD[: 512 * 3]),
    "data after the end": _zst(GOOD + b"\x01" * 512),
    "zstd cut half-way": _zst(GOOD)[: len(_zst(GOOD)) // 2],
    "junk after the zstd frame": _zst(GOOD) + b"junk",
    "not zstd": b"plain text",
    "empty": _zst(b""),
}


@pytest.mark.parametrize("compressed", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_or_truncated_archive_is_refused(tmp_path, compressed):
    with pytest.raises(CorruptArchive):
        check_members(io.BytesIO(compressed), GIB)
    _, errors = _restore_stream(tmp_path, compressed)
    assert len(errors) == 1 and isinstance(errors[0], CorruptArchive), errors


def _bomb(path, size: int) -> None:
    """A site archive holding one file of `size` zeros, compressed in a stream (a few KB)."""
    compressor = zstandard.ZstdCompressor(level=3).compressobj(size=-1)
    with open(path, "wb") as f:
        zeros = tarfile.TarInfo("www/zeros")
        zeros.size = size
        f.write(compressor.compress(_info("www", tarfile.DIRTYPE).tobuf() + zeros.tobuf()))
        for _ in range(size // MIB):
            f.write(compressor.compress(bytes(MIB)))
        f.write(compressor.compress(bytes(1024)))
        f.write(compressor.flush())


def test_a_zero_bomb_is_read_in_bounded_steps_and_refused_past_the_limit(tmp_path):
    path = tmp_path / "bomb.tar.zst"
    _bomb(path, 256 * MIB)
    assert os.path.getsize(path) < 64 * 1024
    plain_size = 512 * 2 + 256 * MIB + 1024

    errors: list[Exception] = []
    tracemalloc.start()
    try:
        total = biggest = 0
        for piece in read_plain(str(path), None, errors, SITE, GIB):
            total += len(piece)
            biggest = max(biggest, len(piece))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert errors == []
    assert total == plain_size
    assert biggest <= 2 * MIB
    assert peak < 32 * MIB, f"{peak / MIB:.0f} MiB held while reading a 256 MiB expansion"
    assert check_members(open(path, "rb"), GIB).expanded == plain_size

    errors = []
    sent = sum(len(p) for p in read_plain(str(path), None, errors, SITE, 100 * MIB))
    assert len(errors) == 1 and isinstance(errors[0], Oversized) and errors[0].limit == 100 * MIB
    assert sent <= 100 * MIB
    with pytest.raises(Oversized):
        check_members(open(path, "rb"), 100 * MIB)


def test_a_restore_reads_only_an_archive_whose_sha256_is_the_recorded_one(tmp_path):
    media = os.urandom(200_000)  # incompressible: stored raw, so a flipped byte decodes silently
    compressed = _zst(_plain(D("www"), F("www/media.bin", media)))
    recorded = hashlib.sha256(compressed).hexdigest()
    assert _restore_stream(tmp_path, compressed, recorded)[1] == []

    at = compressed.index(media[100_000:100_016])
    tampered = compressed[:at] + bytes([compressed[at] ^ 0xFF]) + compressed[at + 1 :]
    _, errors = _restore_stream(tmp_path, tampered, recorded)
    assert len(errors) == 1 and "sha256" in str(errors[0])

    _, errors = _restore_stream(tmp_path, compressed, hashlib.sha256(b"another archive").hexdigest())
    assert len(errors) == 1 and "sha256" in str(errors[0])


#: Sizes around the reads' steps: a tar block, the zstd file's 64 KiB, a pipe's 1 MiB.
SIZES = [0, 1, 511, 512, 513, 64 * 1024 - 1, 64 * 1024 + 1, MIB - 1, MIB, MIB + 1, 3 * MIB + 7]


class _Dribble:
    """A pipe that gives fewer bytes than asked, in uneven pieces (restic writing as it goes)."""

    PIECES = (1, 700, 70_000, 5, MIB + 3, 300_000)

    def __init__(self, data: bytes) -> None:
        self._data, self._at, self._i = data, 0, 0

    def read(self, n: int = -1) -> bytes:
        n = min(n, self.PIECES[self._i % len(self.PIECES)])
        self._i += 1
        data = self._data[self._at : self._at + n]
        self._at += len(data)
        return data


def _site() -> tuple[bytes, dict[str, bytes]]:
    files = {f"www/f{size}": os.urandom(size) for size in SIZES}
    files["www/" + "long-" * 40 + "name"] = b"a pax header's path"
    return _plain(D("www"), *(F(name, data) for name, data in files.items()), H("www/hard", "www/f1")), files


@pytest.mark.parametrize("how", ["zstd file", "plain pipe"])
@pytest.mark.parametrize("writers", [True, False], ids=["writer threads", "one thread"])
def test_a_restored_files_bytes_are_the_originals_whatever_the_read_steps(tmp_path, how, writers):
    plain, files = _site()
    path = tmp_path / "b.tar.zst"
    path.write_bytes(_zst(plain))
    volume = tmp_path / "volume"
    volume.mkdir()
    host = HostRestore(str(volume))
    assert host.prepare()
    if how == "zstd file":
        members = restored_members(str(path), None, Owner(os.getuid(), os.getgid()), GIB)
    else:
        members = restored_stream(_Dribble(plain), Owner(os.getuid(), os.getgid()), GIB)  # type: ignore[arg-type]
    host.extract(members, writers=writers)
    staged = volume / STAGING
    for name, data in files.items():
        assert (staged / name).read_bytes() == data, name
    assert (staged / "www/hard").read_bytes() == files["www/f1"]
    assert check_members(io.BytesIO(_zst(plain)), GIB).members == len(files) + 2


def test_a_members_data_is_read_before_the_next_member_or_not_at_all(tmp_path):
    """Read straight from the stream: a reader kept past the next member would give that
    member's bytes, so it refuses; one left unread is skipped."""
    plain, files = _site()
    members = restored_stream(io.BytesIO(plain), SITE, GIB)
    assert [next(members)[0].name for _ in range(2)] == ["www", "www/f0"]
    _, first = next(members)  # www/f1, left unread
    _, second = next(members)
    with pytest.raises(ValueError):
        first.read(1)
    assert second.read() == files["www/f511"]
    assert [info.name for info, _ in members][-1] == "www/hard"


def test_a_pipe_cut_inside_a_big_member_is_a_corrupt_archive(tmp_path):
    plain, _ = _site()
    cut = plain[: plain.index(b"www/f1048577") + 512 + MIB // 2]
    members = restored_stream(_Dribble(cut), SITE, GIB)  # type: ignore[arg-type]
    with pytest.raises(CorruptArchive, match="unexpected end of data"):
        for _, data in members:
            while data is not None and data.read(MIB):
                pass


@pytest.mark.parametrize("fmt", ["gnu", "pax"])
def test_a_sparse_member_is_restored_with_its_holes(tmp_path, fmt):
    """GNU tar's sparse members (an upload may hold them): the holes come back as zeros."""
    src = tmp_path / "src" / "www"
    src.mkdir(parents=True)
    with open(src / "sparse.bin", "wb") as f:
        f.truncate(3 * MIB)
        f.seek(MIB + 5)
        f.write(b"data in the middle")
    expected = (src / "sparse.bin").read_bytes()
    plain = subprocess.run(
        ["tar", "--sparse", f"--format={fmt}", "-C", str(tmp_path / "src"), "-cf", "-", "www"],
        capture_output=True,
        check=True,
    ).stdout
    members = {info.name: data.read() if data else None for info, data in restored_stream(io.BytesIO(plain), SITE, GIB)}
    assert members == {"www": None, "www/sparse.bin": expected}
