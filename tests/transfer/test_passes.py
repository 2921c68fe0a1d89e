"""The two passes over a tree: the first copies every member, the second only what
changed since the first began, and the deletions are what the first saw and not the second."""

from __future__ import annotations

import io
import os
import tarfile

from dockerlink.backups.archive import check_members, write_compressed
from dockerlink.transfer.passes import removed, tar_pass, walk_pass
from tests.tarballs import tar_of

T0 = 1_800_000_000.0


def _tar(members: list[tuple[str, bytes | None, float]]) -> bytes:
    return tar_of(*members, format=tarfile.PAX_FORMAT)


def _chunks(data: bytes, size: int = 7000) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _read(plain: bytes) -> dict[str, bytes | None]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        for m in tar:
            out[m.name] = tar.extractfile(m).read() if m.isreg() else None
    return out


TREE = [
    ("www", None, T0 - 100),
    ("www/old.txt", b"old" * 5000, T0 - 100),
    ("www/sub", None, T0 - 100),
    ("www/sub/gone.txt", b"gone", T0 - 100),
    ("www/sub/edited.txt", b"v1", T0 - 100),
]


def test_the_first_pass_is_the_whole_tree_byte_for_byte():
    index: dict = {}
    plain = b"".join(tar_pass(_chunks(_tar(TREE)), index))
    assert _read(plain) == {name: data for name, data, _ in TREE}
    assert index["www/old.txt"] == (15000, T0 - 100)


def test_the_second_pass_holds_dirs_and_changed_files_only_and_names_the_deleted():
    first: dict = {}
    b"".join(tar_pass(_chunks(_tar(TREE)), first))
    later = [
        ("www", None, T0 + 5),
        ("www/old.txt", b"old" * 5000, T0 - 100),  # unchanged: left out
        ("www/sub", None, T0 + 5),
        ("www/sub/edited.txt", b"v2-longer", T0 - 100),  # same mtime, other size: sent
        ("www/sub/new.txt", b"new", T0 + 3),  # new: sent
        ("www/recent.txt", b"r", T0 - 1),  # touched just before the first pass began: sent
    ]
    first["www/recent.txt"] = (1, T0 - 1)
    second: dict = {}
    plain = b"".join(tar_pass(_chunks(_tar(later)), second, previous=first, since=T0))
    assert _read(plain) == {
        "www": None,
        "www/sub": None,
        "www/sub/edited.txt": b"v2-longer",
        "www/sub/new.txt": b"new",
        "www/recent.txt": b"r",
    }
    assert removed(first, second) == ["www/sub/gone.txt"]


def test_the_second_pass_is_a_tar_the_backups_member_rules_accept(tmp_path):
    first: dict = {}
    b"".join(tar_pass(_chunks(_tar(TREE)), first))
    with open(tmp_path / "p2.tar.zst", "w+b") as out:
        write_compressed(tar_pass(_chunks(_tar(TREE)), {}, previous=first, since=T0), out)
        out.seek(0)
        assert check_members(out, 1 << 30).members == 2  # www and www/sub: every file unchanged


def _write_tree(root, files: dict[str, tuple[bytes, float]]) -> None:  # noqa: ANN001
    for name, (data, mtime) in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, (mtime, mtime))


def test_a_walk_of_the_volumes_directory_skips_unchanged_files_without_reading_them(tmp_path, monkeypatch):
    _write_tree(
        tmp_path,
        {
            "old.txt": (b"old" * 5000, T0 - 100),
            "sub/gone.txt": (b"gone", T0 - 100),
            "sub/edited.txt": (b"v1", T0 - 100),
            "recent.txt": (b"r", T0 - 1),
        },
    )
    first: dict = {}
    assert set(_read(b"".join(walk_pass(str(tmp_path), first)))) == {
        "www",
        "www/old.txt",
        "www/sub",
        "www/sub/gone.txt",
        "www/sub/edited.txt",
        "www/recent.txt",
    }
    assert first["www/old.txt"] == (15000, int(T0 - 100))

    (tmp_path / "sub" / "gone.txt").unlink()
    _write_tree(tmp_path, {"sub/edited.txt": (b"v2-longer", T0 - 100), "sub/new.txt": (b"new", T0 + 3)})
    reads: list[int] = []
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    second: dict = {}
    plain = b"".join(walk_pass(str(tmp_path), second, previous=first, since=T0))
    assert _read(plain) == {
        "www": None,
        "www/sub": None,
        "www/sub/edited.txt": b"v2-longer",
        "www/sub/new.txt": b"new",
        "www/recent.txt": b"r",  # touched just before the first pass began: sent
    }
    assert sum(reads) < 15000  # old.txt's 15000 bytes were never read
    assert removed(first, second) == ["www/sub/gone.txt"]
