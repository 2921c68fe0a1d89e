"""The two passes over a site's tree on the sending host: the whole tree while it runs,
then, once it is stopped, only what changed since.

Both read the tar of /var/www member by member and write it out again as a plain tar,
which `backups.archive.write_compressed` turns into the same zstd archive a backup is (so
the receiving host checks it with the backups' member rules). The first pass records each
member's size and mtime (`Index`); the second leaves out the data of every regular file
whose size and mtime are the first pass's and whose mtime is older than the first pass's
start (less `SLACK`, the clock's and the filesystem's granularity), and keeps every
directory, link and changed file. What the first pass saw and the second did not is what
was deleted meanwhile (`removed`).

The tar is the engine's (`GET archive`), or, with a local engine, the one the backups read
from the volume's directory on this host (`walk_pass`: `backups.hostdir.tar_of`, no link
followed), where the second pass never reads an unchanged file's data: the final pass, the
site stopped, then costs a walk of the tree plus the changed bytes, not a read of all of it.

A file rewritten during the copy with its old size and an mtime set back by hand is the one
change the second pass misses (as `rsync` without `--checksum` would).
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterable, Iterator

from ..backups.archive import BLOCK, CHUNK, emit_member
from ..backups.hostdir import tar_of

__all__ = ["Index", "SLACK", "tar_pass", "walk_pass", "removed"]

#: Seconds before the first pass's start from which a file counts as changed whatever it says.
SLACK = 2.0

#: member name → (size, mtime)
Index = dict[str, tuple[int, float]]


class _Chunks:
    """An iterator of byte chunks read as a file (what `tarfile`'s stream mode reads)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = b""

    def read(self, n: int = CHUNK) -> bytes:
        while len(self._buf) < n:
            nxt = next(self._it, None)
            if nxt is None:
                break
            self._buf += nxt
        out, self._buf = self._buf[:n], self._buf[n:]
        return out


def _unchanged(m: tarfile.TarInfo, previous: Index | None, since: float) -> bool:
    if previous is None or not m.isreg():
        return False
    return previous.get(m.name) == (m.size, m.mtime) and m.mtime < since - SLACK


def tar_pass(
    chunks: Iterable[bytes], index: Index, previous: Index | None = None, since: float = 0.0
) -> Iterator[bytes]:
    """The engine's tar `chunks` again, member by member, each recorded in `index`; with
    `previous` (the first pass's index), without the regular files unchanged since `since`."""
    out = bytearray()
    with tarfile.open(fileobj=_Chunks(chunks), mode="r|", bufsize=64 << 10) as tar:  # type: ignore[call-overload]
        while (m := tar.next()) is not None:
            tar.members.clear()  # a stream has no random access: memory would grow
            index[m.name] = (m.size, m.mtime)
            if _unchanged(m, previous, since):
                continue  # its data is skipped by the next `tar.next()`
            yield from emit_member(out, m, tar.extractfile(m) if m.isreg() else None)
    yield bytes(out) + bytes(2 * BLOCK)


def walk_pass(directory: str, index: Index, previous: Index | None = None, since: float = 0.0) -> Iterator[bytes]:
    """`tar_pass` of the volume's directory on this host (`tar_of`): the same members and
    index, but with `previous` an unchanged regular file is left out before its data is read."""

    def wanted(name: str, st: os.stat_result) -> bool:
        seen = (st.st_size, int(st.st_mtime))  # as its tar header says (whole seconds)
        if previous is not None and previous.get(name) == seen and st.st_mtime < since - SLACK:
            index[name] = seen  # in the tree, unchanged: not deleted
            return False
        return True

    return tar_pass(tar_of(directory, wanted), index)


def removed(first: Index, second: Index) -> list[str]:
    """The members the first pass saw and the second did not (deleted during the copy)."""
    return sorted(set(first) - set(second))
