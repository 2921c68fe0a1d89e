"""The two passes over a tree: the first copies every member, the second only what
changed since the first began, and the deletions are what the first saw and not the second."""

from __future__ import annotations

import io
import tarfile

from dockerlink.backups.archive import check_members, write_compressed
from dockerlink.transfer.passes import removed, tar_pass
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
