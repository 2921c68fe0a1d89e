"""A site volume's directory on this host, read as the tar a backup stores, without the
engine: with a local engine, walking `/var/lib/docker/volumes/<v>/_data` is several times
faster than the engine's archive stream (bench/backup.py), which stays the way for a
remote engine, a user-namespaced one, or a tree too deep to walk this way.

The tree belongs to the tenant, who may plant a symbolic link anywhere in it (`www/x ->
/etc`), and the site runs while it is read: no link is ever followed on the host. Every
directory and file is opened relative to its parent's descriptor with O_NOFOLLOW (a
component swapped for a link between listing and opening fails to open and is left out),
and each member's header is made from the opened file's own fstat. A symbolic link is
stored as a link; sockets are left out (as the engine does), and so are a restore's
staging and set-aside directories at the top (hostrestore.reserved).
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Callable, Iterator

from ..engine import Engine, NotFound, socket_path
from .hostrestore import reserved
from .members import ROOT

__all__ = ["LocalVolumes", "TooDeep", "tar_of"]

CHUNK = 1 << 20
#: Directories deeper than this are archived by the engine instead (each level holds a
#: descriptor while its subtree is read).
MAX_DEPTH = 128
#: Hard-linked files remembered (to store the second name as a link, as the engine does).
MAX_LINKS = 100_000
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC  # a FIFO swapped in never blocks


class TooDeep(Exception):
    """The tree is deeper than MAX_DEPTH: read it through the engine."""


class LocalVolumes:
    """Where the engine's local volumes are on this host, when they can be read and written
    here as the engine would: this process is root (the engine reads and writes as root), a
    local engine (a unix socket), no user namespace remapping (asked once), a local volume
    whose directory this process opens."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._usable: bool | None = None

    def directory(self, volume: str) -> str | None:
        """The volume's directory, or None: then the engine's archive endpoint is the way."""
        if self._usable is None:
            self._usable = (
                os.geteuid() == 0
                and socket_path(self.engine.address) is not None
                and not self.engine.system.info().userns
            )
        if not self._usable:
            return None
        try:
            info = self.engine.volumes.inspect(volume)
        except NotFound:
            return None
        path = info.mountpoint
        if info.driver != "local" or not os.path.isabs(path):
            return None
        try:
            os.close(os.open(path, _DIR))
        except OSError:
            return None
        return path


def _header(name: str, st: os.stat_result, type_: bytes, size: int = 0, link: str = "") -> bytes:
    mode, uid, gid, mtime = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)
    if type_ == tarfile.DIRTYPE:
        name += "/"  # as tarfile writes a directory's name
    if (
        type_ not in (tarfile.CHRTYPE, tarfile.BLKTYPE)
        and len(name) <= 100
        and len(link) <= 100
        and name.isascii()
        and link.isascii()
        and max(uid, gid) < _MAX_ID
        and 0 <= mtime < _MAX_TIME
        and size < _MAX_TIME
    ):
        return _ustar(name, mode, uid, gid, size, mtime, type_, link)
    return _tarfile_header(name, st, type_, size, link)


#: What a plain ustar header holds (octal fields of 8 and 12 bytes); past it, tarfile's pax.
_MAX_ID = 8**7
_MAX_TIME = 8**11


def _ustar(name: str, mode: int, uid: int, gid: int, size: int, mtime: int, type_: bytes, link: str) -> bytes:
    """The header tarfile writes for these fields (PAX_FORMAT, no pax record needed), built
    directly: 4 µs of CPU a member here where tarfile takes 18 (each member of a backup has one)."""
    block = b"".join(
        (
            name.encode().ljust(100, b"\0"),
            b"%07o\0%07o\0%07o\0%011o\0%011o\0" % (mode, uid, gid, size, mtime),
            b"        ",  # the checksum's place, counted as spaces
            type_,
            link.encode().ljust(100, b"\0"),
            tarfile.POSIX_MAGIC,
        )
    ).ljust(tarfile.BLOCKSIZE, b"\0")
    return block[:148] + b"%06o\0 " % sum(block) + block[156:]


def _tarfile_header(name: str, st: os.stat_result, type_: bytes, size: int, link: str) -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = type_, size, link
    info.mode, info.uid, info.gid, info.mtime = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, int(st.st_mtime)
    if type_ in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


#: Asked of each regular file (its member name, its fstat) before its data is read: False
#: leaves it out of the tar.
Wanted = Callable[[str, os.stat_result], bool]


class _Walk:
    def __init__(self, wanted: Wanted | None = None) -> None:
        self.out = bytearray()
        self.links: dict[tuple[int, int], str] = {}
        self.wanted = wanted

    def flush(self) -> bytes:
        data = bytes(self.out)
        self.out.clear()
        return data

    def directory(self, fd: int, name: str, depth: int) -> Iterator[bytes]:
        if depth > MAX_DEPTH:
            raise TooDeep(f"{name[:200]!r} is deeper than {MAX_DEPTH} directories")
        self.out += _header(name, os.fstat(fd), tarfile.DIRTYPE)
        with os.scandir(fd) as entries:
            for entry in entries:
                if depth == 0 and reserved(entry.name):  # a restore's, not the site's
                    continue
                yield from self.entry(fd, entry.name, f"{name}/{entry.name}", depth)
                if len(self.out) >= CHUNK:
                    yield self.flush()

    def entry(self, parent: int, base: str, name: str, depth: int) -> Iterator[bytes]:
        try:
            st = os.stat(base, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:  # removed since listed
            return
        mode = st.st_mode
        if stat.S_ISLNK(mode):
            try:
                self.out += _header(name, st, tarfile.SYMTYPE, link=os.readlink(base, dir_fd=parent))
            except (FileNotFoundError, OSError):
                pass
        elif stat.S_ISDIR(mode) or stat.S_ISREG(mode):
            try:
                fd = os.open(base, _DIR if stat.S_ISDIR(mode) else _FILE, dir_fd=parent)
            except OSError:  # swapped for a link (ELOOP, ENOTDIR) or removed since listed: left out
                return
            try:
                st = os.fstat(fd)
                if stat.S_ISDIR(st.st_mode):
                    yield from self.directory(fd, name, depth + 1)
                elif stat.S_ISREG(st.st_mode):
                    yield from self.file(fd, name, st)
            finally:
                os.close(fd)
        elif stat.S_ISFIFO(mode):
            self.out += _header(name, st, tarfile.FIFOTYPE)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            self.out += _header(name, st, tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE)

    def file(self, fd: int, name: str, st: os.stat_result) -> Iterator[bytes]:
        if self.wanted is not None and st.st_nlink == 1 and not self.wanted(name, st):
            return  # (a hard-linked file is always in: a later name may be stored as a link to it)
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1:
            first = self.links.get(key)
            if first is not None:
                self.out += _header(name, st, tarfile.LNKTYPE, link=first)
                return
            if len(self.links) < MAX_LINKS:
                self.links[key] = name
        size = st.st_size
        self.out += _header(name, st, tarfile.REGTYPE, size=size)
        left = size
        if size >= CHUNK:
            yield self.flush()
        while left > 0:
            data = os.read(fd, min(CHUNK, left))
            if not data:  # shrunk while read: the header's size is kept, the rest is zeros
                data = bytes(min(CHUNK, left))
            left -= len(data)
            if size >= CHUNK:
                yield data
            else:
                self.out += data
        self.out += bytes(-size % tarfile.BLOCKSIZE)


def tar_of(directory: str, wanted: Wanted | None = None) -> Iterator[bytes]:
    """The plain tar of `directory` as the engine archives a volume mounted at /var/www:
    `www` first, then `www/...`, in pieces of about a chunk (at most a chunk per file read);
    no end-of-archive blocks missing. TooDeep before anything past MAX_DEPTH is read. With
    `wanted`, the regular files it refuses are left out, their data never read (a
    transfer's final pass: only what changed)."""
    root = os.open(directory, _DIR)
    walk = _Walk(wanted)
    try:
        yield from walk.directory(root, ROOT, 0)
    finally:
        os.close(root)
    walk.out += bytes(2 * tarfile.BLOCKSIZE)
    yield walk.flush()
