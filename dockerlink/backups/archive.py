"""Streaming a site's tar through zstd to a file and back, and checking an archive's
members, one bounded step at a time: memory stays flat whatever the size or the
compression ratio (a few hundred KB of zstd can hold gigabytes of zeros).

zstd (level 3) over gzip: on a site of code and media, measured here (bench/backup.py), it
compresses about 5x faster than zlib at level 1 or 6 for a slightly smaller file, and
decompresses twice as fast; the Python binding `zstandard` is the one the zstd authors point
to, and a host can read the file with the stock `zstd` tool (`zstd -dc x.tar.zst | tar t`).

Reading back, the plain tar is read in steps of at most a chunk (zstd's stream reader),
counted against a limit on the expanded size, walked member by member through `Rules`
(members.py) and, for a restore, written out again with each member `rewritten`. tarfile
parses the headers only; a member's data is handed on in the pieces the stream was read
in, never copied through tarfile's buffers (a restic restore's CPU: bench/backup.py). The tar's
end is checked too: at least one zero block, nothing but zeros after it (tarfile alone would
take a damaged header half-way, or a cut at a member's end, for the end of the archive).
"""

from __future__ import annotations

import hashlib
import os
import tarfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

import zstandard

from .members import ROOT, CorruptArchive, Owner, Rules, rewritten

__all__ = [
    "EXTENSION",
    "LEVEL",
    "CorruptArchive",
    "Oversized",
    "Checked",
    "Written",
    "write_compressed",
    "read_plain",
    "restored_members",
    "restored_stream",
    "sent_tar",
    "check_members",
    "emit_member",
    "ROOT",
]

EXTENSION = ".tar.zst"
LEVEL = 1
#: zstd's own compression threads (beside the one reading the tar): one, on a host of 2 cores or more.
THREADS = 1 if (os.cpu_count() or 1) > 1 else 0
#: Bytes written between two writebacks started (`_write_back`).
WRITEBACK = 16 << 20
CHUNK = 1 << 20
BLOCK = tarfile.BLOCKSIZE
#: tarfile's read size on the plain stream; what it holds ahead of a member is below this.
TAR_BUFFER = 64 << 10
#: The same for a plain tar read from a pipe (`restored_stream`): bigger reads, far fewer
#: system calls and copies (restic's dump of 1 GB: 8.7 s → 6.8 s of reading, bench/backup.py).
STREAM_BUFFER = 1 << 20
#: The most tarfile reads at once from the plain stream (`_Plain.read`).
MAX_READ = CHUNK


class Oversized(ValueError):
    """The archive expands past the limit it is read with."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the archive expands past {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class Checked:
    """An archive read to its end: its members and its plain (tar) size."""

    members: int
    expanded: int


class Written:
    """What `write_compressed` wrote: compressed size and sha256, plain tar bytes read."""

    def __init__(self) -> None:
        self.size = 0
        self.plain = 0
        self._sha = hashlib.sha256()

    def add(self, data: bytes, out: BinaryIO) -> None:
        if data:
            out.write(data)
            self._sha.update(data)
            self.size += len(data)

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()


def write_compressed(
    tar_chunks: Iterable[bytes], out: BinaryIO, progress: Callable[[int], None] | None = None
) -> Written:
    """Compress a plain tar stream into `out`, hashing what is written; durable on return.

    zstd compresses on its own thread (THREADS) while this one reads the tar and hashes
    and writes what comes out; the file's pages are handed to the disk as they are written
    (WRITEBACK), so the closing fsync waits for the last few only."""
    written = Written()
    compressor = zstandard.ZstdCompressor(level=LEVEL, threads=THREADS).compressobj(size=-1)
    flushed = 0
    for chunk in tar_chunks:
        written.plain += len(chunk)
        written.add(compressor.compress(chunk), out)
        if written.size - flushed >= WRITEBACK:
            flushed = _write_back(out, flushed)
        if progress:
            progress(written.plain)
    written.add(compressor.flush(), out)
    out.flush()
    os.fsync(out.fileno())
    return written


def _write_back(out: BinaryIO, start: int) -> int:
    """Start writing out (not waiting for) what was written from `start` on; the new start.
    POSIX_FADV_DONTNEED starts the writeback of dirty pages, and drops them once clean: a
    backup does not push the sites' files out of the page cache either."""
    out.flush()
    end = out.tell()
    os.posix_fadvise(out.fileno(), start, end - start, os.POSIX_FADV_DONTNEED)
    return end


class _Plain:
    """The plain bytes of a tar (a zstd stream's, decompressed, or a plain one's, as a pipe
    gives it), read `bufsize` at a time (so memory holds a step, whatever the ratio),
    counted against `limit`. Read forward only: tarfile walks it as a file (`read`, and
    `seek`, which skips forward), and a member's data is taken straight from it (`read1`:
    no copy through tarfile's buffers). The last bytes handed out are kept (a little more
    than a step) for `check_end`."""

    def __init__(self, reader: BinaryIO, limit: int, bufsize: int = TAR_BUFFER) -> None:
        self._reader = reader
        self.limit = limit
        self.bufsize = bufsize
        self.size = 0  # bytes taken from the reader
        self._buf = b""  # read ahead of `tell`, from `_at` on
        self._at = 0
        self._recent: deque[bytes] = deque()
        self._recent_size = 0

    def tell(self) -> int:
        return self.size - len(self._buf) + self._at

    def seekable(self) -> bool:
        return True  # forward only: what tarfile's walk and a sparse member's reader need

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        skip = offset - self.tell() if whence == os.SEEK_SET else offset
        if whence not in (os.SEEK_SET, os.SEEK_CUR) or skip < 0:
            raise CorruptArchive("the archive's members are out of order")  # a stream is not read back
        while skip > 0 and (data := self.read1(min(skip, CHUNK))):
            skip -= len(data)
        return self.tell()

    def read(self, n: int = -1) -> bytes:
        """`n` bytes (fewer at the end), as tarfile reads them: a header (a pax one with its
        records), or a step of a sparse member's data."""
        if n is None or n < 0 or n > MAX_READ:
            raise CorruptArchive(f"a member header bigger than {MAX_READ} bytes")
        data = self.read1(n)
        if 0 < len(data) < n:
            parts, got = [data], len(data)
            while got < n and (more := self.read1(n - got)):
                parts.append(more)
                got += len(more)
            data = b"".join(parts)
        return data

    def read1(self, n: int) -> bytes:
        """At most `n` bytes, at least one before the end: what was read ahead first, then
        a read of `n` straight from the reader when that is a step or more."""
        if self._at == len(self._buf):
            if n >= self.bufsize:
                return self._taken(self._fetch(n))
            self._buf, self._at = self._fetch(self.bufsize), 0
        start, end = self._at, min(self._at + n, len(self._buf))
        self._at = end
        return self._taken(self._buf if start == 0 and end == len(self._buf) else self._buf[start:end])

    def _fetch(self, n: int) -> bytes:
        data = self._reader.read(n)
        self.size += len(data)
        if self.size > self.limit:
            raise Oversized(self.limit)
        return data

    def _taken(self, data: bytes) -> bytes:
        if data:
            self._recent.append(data)
            self._recent_size += len(data)
            while self._recent_size - len(self._recent[0]) >= 2 * self.bufsize:
                self._recent_size -= len(self._recent.popleft())
        return data

    def check_end(self, offset: int) -> None:
        """The tar's members ended at `offset`: a zero block must follow, then only zeros."""
        recent = b"".join(self._recent)
        start = self.tell() - len(recent)
        if offset < start:
            raise CorruptArchive("the archive's end cannot be read")
        rest, total = recent[offset - start :], 0
        while rest:
            if rest.count(0) != len(rest):
                raise CorruptArchive("data after the archive's end (a damaged member header?)")
            total += len(rest)
            rest = self.read1(CHUNK)
        if total < BLOCK:
            raise CorruptArchive("the archive is truncated (no end-of-archive block)")


def _unzstd(compressed: BinaryIO) -> BinaryIO:
    return zstandard.ZstdDecompressor().stream_reader(compressed, read_across_frames=True)  # type: ignore[return-value]


#: Renames a member in place before it is checked (restic's tar of a host path into
#: `www/…`); False: the member is left out.
Rename = Callable[[tarfile.TarInfo], bool]


def _walk(
    plain: _Plain, what: str, rename: Rename | None = None
) -> Iterator[tuple[tarfile.TarInfo, str, BinaryIO | None]]:
    """Each member with its checked name and, for a regular file, a reader of its data (to
    read before asking for the next), in order; then the tar's end is checked. tarfile
    reads the headers from `plain` as from a file (`r:`): nothing is read ahead of them."""
    rules = Rules()
    with tarfile.open(fileobj=plain, mode="r:") as tar:  # type: ignore[call-overload]
        while (member := tar.next()) is not None:
            tar.members.clear()  # kept for random access, which a stream has not: memory would grow
            if rename is not None and not rename(member):
                continue
            name = rules.check(member)
            if not member.isreg():
                yield member, name, None
            elif member.sparse is not None:  # its holes filled in by tarfile
                yield member, name, _Data(tar.extractfile(member), what)  # type: ignore[arg-type]
            else:
                yield member, name, _Member(plain, member, what)
        if rules.count == 0:
            raise CorruptArchive("the archive is empty")
        plain.check_end(tar.offset)


ZSTD_TAR, TAR = "a zstd-compressed tar", "a tar"


@contextmanager
def _corrupt_if_unreadable(what: str = ZSTD_TAR) -> Iterator[None]:
    try:
        yield
    except (zstandard.ZstdError, tarfile.TarError, EOFError) as exc:
        raise CorruptArchive(f"not {what}: {exc}") from None


class _Data:
    """A member's data as the restore reads it: an archive cut short in it is CorruptArchive
    there too (the reader is read outside the walk)."""

    def __init__(self, f: BinaryIO, what: str) -> None:
        self._f, self._what = f, what

    def read(self, n: int = -1) -> bytes:
        with _corrupt_if_unreadable(self._what):
            return self._f.read(n)


class _Member:
    """A regular member's data read straight from the plain stream: `read(n)` gives at most
    `n` bytes (the pieces the stream was read in, not copied again), b"" at the member's
    end; `read()` the rest whole. An archive cut short in it is CorruptArchive."""

    def __init__(self, plain: _Plain, member: tarfile.TarInfo, what: str) -> None:
        self._plain, self._what = plain, what
        self._at, self._end = member.offset_data, member.offset_data + member.size

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            parts = []
            while data := self.read(self._end - self._at):
                parts.append(data)
            return parts[0] if len(parts) == 1 else b"".join(parts)
        n = min(n, self._end - self._at)
        if n <= 0:
            return b""
        if self._plain.tell() != self._at:
            raise ValueError("a member's data is read before the next member is asked for")
        with _corrupt_if_unreadable(self._what):
            data = self._plain.read1(n)
        if not data:
            raise CorruptArchive(f"not {self._what}: unexpected end of data")
        self._at += len(data)
        return data


def check_members(compressed: BinaryIO, limit: int) -> Checked:
    """Read a compressed archive to its end, refusing what a restore would (members.py);
    CorruptArchive, or Oversized past `limit` plain bytes."""
    plain = _Plain(_unzstd(compressed), limit)
    count = 0
    with _corrupt_if_unreadable():
        for _ in _walk(plain, ZSTD_TAR):
            count += 1
    return Checked(count, plain.size)


class _Hashed:
    """A file read through sha256."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.sha = hashlib.sha256()

    def read(self, n: int = CHUNK) -> bytes:
        data = self._f.read(n)
        self.sha.update(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def emit_member(out: bytearray, header: tarfile.TarInfo, data: BinaryIO | None) -> Iterator[bytes]:
    """Append `header` and (for a regular file) its `data` to the plain tar being built in
    `out`; each time `out` holds a chunk, it is handed out and emptied (memory holds about a
    chunk, whatever the member's size)."""
    out += header.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
    if data is not None:
        while chunk := data.read(CHUNK):
            out += chunk
            if len(out) >= CHUNK:
                yield bytes(out)
                out.clear()
        out += bytes(-header.size % BLOCK)
    if len(out) >= CHUNK:
        yield bytes(out)
        out.clear()


def restored_members(
    path: str, expected_sha256: str | None, owner: Owner, limit: int
) -> Iterator[tuple[tarfile.TarInfo, BinaryIO | None]]:
    """What a restore writes: each member of the backup file checked (members.py) and
    `rewritten` for `owner`, with a reader of a regular file's data (to read before asking
    for the next), at most `limit` plain bytes; at the end, the file's sha256 is checked.
    Raises CorruptArchive (a file that cannot be read too) or Oversized."""
    try:
        with open(path, "rb") as f:
            hashed = _Hashed(f)
            with _corrupt_if_unreadable():
                yield from _rewritten(_walk(_Plain(_unzstd(hashed), limit), ZSTD_TAR), owner)  # type: ignore[arg-type]
            hashed.drain()
    except OSError as exc:
        raise CorruptArchive(str(exc)) from None
    if expected_sha256 and hashed.sha.hexdigest() != expected_sha256:
        raise CorruptArchive("the archive's sha256 is not the one recorded when it was written")


def restored_stream(
    tar: BinaryIO, owner: Owner, limit: int, rename: Rename | None = None
) -> Iterator[tuple[tarfile.TarInfo, BinaryIO | None]]:
    """`restored_members` of a plain tar read as it comes (a pipe: restic's dump), each
    member first `rename`d (or left out) when given; the same checks, no sha256 (whoever
    writes the stream vouches for it: restic's exit status)."""
    with _corrupt_if_unreadable(TAR):
        yield from _rewritten(_walk(_Plain(tar, limit, STREAM_BUFFER), TAR, rename), owner)


def _rewritten(
    walked: Iterator[tuple[tarfile.TarInfo, str, BinaryIO | None]], owner: Owner
) -> Iterator[tuple[tarfile.TarInfo, BinaryIO | None]]:
    for member, name, data in walked:
        yield rewritten(member, name, owner), data


def read_plain(
    path: str, expected_sha256: str | None, errors: list[Exception], owner: Owner, limit: int
) -> Iterator[bytes]:
    """The tar a restore sends the engine's PUT archive: `sent_tar` of the backup file's
    `restored_members`."""
    return sent_tar(restored_members(path, expected_sha256, owner, limit), errors)


def sent_tar(members: Iterable[tuple[tarfile.TarInfo, BinaryIO | None]], errors: list[Exception]) -> Iterator[bytes]:
    """The tar of `members` (checked and rewritten ones) in pieces of about a chunk, for the
    engine's PUT archive.

    A failure reading them (damaged file, a refused member, Oversized, sha256 not the
    recorded one, the restic dump that fed them failing) is appended to `errors` instead of
    raised, and the stream just ends: the caller sends this as a request body, where an
    exception would surface as a connection error, and must check `errors` before trusting
    what the engine extracted."""
    out = bytearray()
    try:
        for info, data in members:
            yield from emit_member(out, info, data)
        yield bytes(out) + bytes(2 * BLOCK)
    except Exception as exc:  # noqa: BLE001 - handed to the caller, who raises it
        errors.append(exc)
