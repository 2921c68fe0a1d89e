"""A restore's staging, extraction and swap done in the volume's directory on this host
(`hostdir.LocalVolumes`), without the engine's archive endpoint or helper containers: the
same steps and on-disk states as restore.py's SWAP_SCRIPT (a fresh `.dockerlink-restore`,
the tree extracted into its `www`, the `commit` marker, the old tree moved aside, the
`moved` marker, the new tree moved in, the staging directory dropped), so that the script,
run by `Restorer.recover` after a crash at any point, finishes the job.

The volume's directory is the tenant's: nothing here follows a symbolic link. The staging
directory is made fresh (mkdir, never reused: one already there — an earlier restore's, or
a link the tenant planted — is left to the script), and every path below it is opened
component by component from its descriptor with O_NOFOLLOW; the members themselves passed
members.py's rules (no escaping name, nothing below an archive's link, no device; owner
the site user, setuid dropped) before they get here.

Once the new tree is in, the staging directory (the old tree in it) is renamed
`SET_ASIDE<hex>` and removed after the restore has answered (`set_aside`, `remove`): a
restore waits for creating the new tree, not for deleting the old one. Both names are
dockerlink's, root's 0700 directories: `reserved` says which top-level names a backup
leaves out.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import stat
import tarfile
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from typing import BinaryIO

from ..errors import BackupFailed
from ..timings import step
from .archive import WRITEBACK
from .background import Failed, Writes

__all__ = ["SET_ASIDE", "STAGING", "HostRestore", "aside_name", "reserved"]

STAGING = ".dockerlink-restore"
#: The staging directory once the swap is done, renamed, while the old tree in it is removed.
SET_ASIDE = STAGING + "-old-"
CHUNK = 1 << 20
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
#: Directory descriptors kept open while extracting (the tar's order is depth first).
OPEN_DIRS = 32
#: Directories whose time is set once their members are in (as the engine does).
MAX_DIR_TIMES = 100_000
#: Files at least this big have their writeback started as they are closed, so the synced
#: commit marker waits for little; smaller ones are left to that one syncfs (a call each
#: cost more than their writing: bench/backup.py).
WRITEBACK_FROM = 1 << 20
#: Files up to this size are read whole and written by `Writes` threads.
SMALL = 256 << 10


def aside_name() -> str:
    """A fresh name for a staging directory set aside."""
    return SET_ASIDE + uuid.uuid4().hex[:12]


def reserved(name: str) -> bool:
    """Whether a top-level name of the volume is a restore's staging or set-aside directory."""
    return name == STAGING or name.startswith(SET_ASIDE)


class _Tree:
    """Directories under one top descriptor, opened component by component (O_NOFOLLOW)."""

    def __init__(self, top: int) -> None:
        self.top = top
        self._open: OrderedDict[tuple[str, ...], int] = OrderedDict()

    def dir(self, parts: tuple[str, ...], owner: tuple[int, int]) -> int:
        """The descriptor of directory `parts`; a missing one is made (0755, `owner`'s)."""
        if not parts:
            return self.top
        fd = self._open.get(parts)
        if fd is not None:
            self._open.move_to_end(parts)
            return fd
        parent = self.dir(parts[:-1], owner)
        try:
            fd = os.open(parts[-1], _DIR, dir_fd=parent)
        except FileNotFoundError:
            os.mkdir(parts[-1], 0o755, dir_fd=parent)
            fd = os.open(parts[-1], _DIR, dir_fd=parent)
            os.fchown(fd, *owner)
        self.keep(parts, fd)
        return fd

    def keep(self, parts: tuple[str, ...], fd: int) -> None:
        self._open[parts] = fd
        while len(self._open) > OPEN_DIRS:
            os.close(self._open.popitem(last=False)[1])

    def close(self) -> None:
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()


def _clear(parent: int, name: str) -> None:
    """Remove `name` (a later member of the same name replaces it), never through a link."""
    st = os.stat(name, dir_fd=parent, follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=parent)
    else:
        os.unlink(name, dir_fd=parent)


def _create(parent: int, base: str) -> int:
    """A new file `base` (root's, 0600 until its owner and mode are set), never through a link."""
    try:
        return os.open(base, _NEW_FILE, 0o600, dir_fd=parent)
    except FileExistsError:
        _clear(parent, base)
        return os.open(base, _NEW_FILE, 0o600, dir_fd=parent)


def _small_file(parent: int, base: str, data: bytes, owner: tuple[int, int], mode: int, mtime: int) -> None:
    """Write a small file whole (on a `Writes` thread); closes `parent`, a dup of its directory's."""
    try:
        fd = _create(parent, base)
        try:
            if data:
                _write_all(fd, data)
            os.fchown(fd, *owner)
            os.fchmod(fd, mode)
            os.utime(fd, (mtime, mtime))
        finally:
            os.close(fd)
    finally:
        os.close(parent)


class HostRestore:
    def __init__(self, directory: str) -> None:
        self.directory = directory

    def _open_root(self) -> int:
        return os.open(self.directory, _DIR)

    def prepare(self) -> bool:
        """A fresh staging directory (root's, 0700); False when something has the name
        already (then the swap script's `prepare` must run first)."""
        root = self._open_root()
        try:
            os.mkdir(STAGING, 0o700, dir_fd=root)
            return True
        except FileExistsError:
            return False
        finally:
            os.close(root)

    def extract(self, members: Iterable[tuple[tarfile.TarInfo, BinaryIO | None]], writers: bool = True) -> None:
        """Write `members` (archive.restored_members) under the staging directory, as
        `<staging>/www/...`; small files by `Writes` threads when `writers`, else all in this
        thread. BackupFailed when the file system refuses one."""
        root = self._open_root()
        try:
            staging = os.open(STAGING, _DIR, dir_fd=root)
        finally:
            os.close(root)
        tree = _Tree(staging)
        writes = Writes() if writers else None
        dir_times: list[tuple[tuple[str, ...], int]] = []
        name = ""
        try:
            for info, data in members:
                name = info.name
                parts = tuple(name.split("/"))
                if writes is not None and (info.islnk() or writes.busy(parts)):
                    writes.drain()  # a name (or its target) still being written
                owner = (info.uid, info.gid)
                parent = tree.dir(parts[:-1], owner)
                if writes is not None and info.isreg() and info.size <= SMALL:
                    content = data.read() if info.size else b""  # type: ignore[union-attr]
                    args = (os.dup(parent), parts[-1], content, owner, info.mode & 0o777, int(info.mtime))
                    writes.add(parts, info.size, _small_file, *args)
                    continue
                self._member(tree, parent, parts, info, data, owner)
                if info.isdir() and len(dir_times) < MAX_DIR_TIMES:
                    dir_times.append((parts, int(info.mtime)))
            if writes is not None:
                writes.drain()
            for parts, mtime in reversed(dir_times):
                parent = tree.dir(parts[:-1], (0, 0))
                os.utime(parts[-1], (mtime, mtime), dir_fd=parent, follow_symlinks=False)
        except Failed as exc:
            raise BackupFailed(f"cannot write {exc.name[:200]!r} into the staging directory: {exc.strerror}") from None
        except OSError as exc:
            raise BackupFailed(f"cannot write {name[:200]!r} into the staging directory: {exc.strerror}") from None
        finally:
            if writes is not None:
                writes.close()
            tree.close()
            os.close(staging)

    def _member(
        self,
        tree: _Tree,
        parent: int,
        parts: tuple[str, ...],
        info: tarfile.TarInfo,
        data: BinaryIO | None,
        owner: tuple[int, int],
    ) -> None:
        base, mode, mtime = parts[-1], info.mode & 0o777, int(info.mtime)
        if info.isdir():
            try:
                os.mkdir(base, 0o700, dir_fd=parent)
            except FileExistsError:
                if not stat.S_ISDIR(os.stat(base, dir_fd=parent, follow_symlinks=False).st_mode):
                    _clear(parent, base)
                    os.mkdir(base, 0o700, dir_fd=parent)
            fd = os.open(base, _DIR, dir_fd=parent)
            os.fchown(fd, *owner)
            os.fchmod(fd, mode)
            tree.keep(parts, fd)
        elif info.isreg():
            fd = _create(parent, base)
            try:
                written = started = 0
                while chunk := data.read(CHUNK):  # type: ignore[union-attr]
                    _write_all(fd, chunk)
                    written += len(chunk)
                    if written - started >= WRITEBACK:  # as a backup does: the disk writes while we read
                        os.posix_fadvise(fd, started, written - started, os.POSIX_FADV_DONTNEED)
                        started = written
                os.fchown(fd, *owner)
                os.fchmod(fd, mode)
                os.utime(fd, (mtime, mtime))
                if info.size >= WRITEBACK_FROM:
                    os.posix_fadvise(fd, started, 0, os.POSIX_FADV_DONTNEED)  # the rest written out now
            finally:
                os.close(fd)
        elif info.issym():
            self._replacing(parent, base, lambda: os.symlink(info.linkname, base, dir_fd=parent))
            os.chown(base, *owner, dir_fd=parent, follow_symlinks=False)
            os.utime(base, (mtime, mtime), dir_fd=parent, follow_symlinks=False)
        elif info.islnk():
            target = tuple(info.linkname.split("/"))
            source = tree.dir(target[:-1], owner)
            self._replacing(
                parent,
                base,
                lambda: os.link(target[-1], base, src_dir_fd=source, dst_dir_fd=parent, follow_symlinks=False),
            )
        elif info.isfifo():
            self._replacing(parent, base, lambda: os.mkfifo(base, 0o600, dir_fd=parent))
            os.chown(base, *owner, dir_fd=parent, follow_symlinks=False)
            os.chmod(base, mode, dir_fd=parent)  # our own new FIFO, in root's 0700 staging directory
        else:  # members.py lets no other type through
            raise BackupFailed(f"member of an unsupported type: {info.name[:200]!r}")

    @staticmethod
    def _replacing(parent: int, base: str, make) -> None:  # noqa: ANN001 - a no-argument callable
        try:
            make()
        except FileExistsError:
            _clear(parent, base)
            make()

    def commit(self) -> None:
        """SWAP_SCRIPT's `commit`, on the host: mark, move the old tree aside, move the new
        one in (the directory's owner and mode too); each step synced as the script does.
        The staging directory (the old tree in it) is left for `drop`."""
        root = self._open_root()
        try:
            staging = os.open(STAGING, _DIR, dir_fd=root)
            try:
                new = os.open("www", _DIR, dir_fd=staging)
                try:
                    with step("new tree synced, then the commit marker"):
                        _sync(staging)  # every restored byte and name on disk before the marker can be
                        _mark(staging, "commit")
                    with step("old tree aside, synced"):
                        os.mkdir("old", 0o700, dir_fd=staging)
                        old = os.open("old", _DIR, dir_fd=staging)
                        try:
                            for name in os.listdir(root):
                                if name != STAGING:
                                    os.rename(name, name, src_dir_fd=root, dst_dir_fd=old)
                        finally:
                            os.close(old)
                        _mark(staging, "moved")
                    with step("new tree in, synced"):
                        for name in os.listdir(new):
                            os.rename(name, name, src_dir_fd=new, dst_dir_fd=root)
                        st = os.fstat(new)
                        os.fchown(root, st.st_uid, st.st_gid)
                        os.fchmod(root, stat.S_IMODE(st.st_mode))
                        _sync(root)
                finally:
                    os.close(new)
            finally:
                os.close(staging)
        finally:
            os.close(root)

    def drop(self) -> None:
        """Remove the staging directory (a crash half-way: the swap script's `recover`
        finishes it, the journal entry being removed only after this)."""
        root = self._open_root()
        try:
            shutil.rmtree(STAGING, dir_fd=root)
        finally:
            os.close(root)

    def set_aside(self, name: str) -> int:
        """Rename the committed staging directory (the old tree in it) to `name` (a fresh
        `aside_name`), synced; an open descriptor of it for `remove`, which follows the
        directory wherever a later restore's swap moves it."""
        root = self._open_root()
        try:
            os.rename(STAGING, name, src_dir_fd=root, dst_dir_fd=root)
            os.fsync(root)
            return os.open(name, _DIR, dir_fd=root)
        finally:
            os.close(root)

    def remove(self, name: str, fd: int | None = None) -> None:
        """Delete set-aside directory `name` (through `fd` when given: then closed), never
        through a link; one already gone is fine."""
        root = self._open_root()
        try:
            if fd is None:
                try:
                    fd = os.open(name, _DIR, dir_fd=root)
                except (FileNotFoundError, NotADirectoryError):
                    return
            try:
                for entry in os.listdir(fd):  # a later restore may be removing it too (its old tree)
                    try:
                        st = os.stat(entry, dir_fd=fd, follow_symlinks=False)
                        if stat.S_ISDIR(st.st_mode):
                            shutil.rmtree(entry, dir_fd=fd, onerror=_unless_gone)
                        else:
                            os.unlink(entry, dir_fd=fd)
                    except FileNotFoundError:
                        pass
                inode = os.fstat(fd).st_ino
            finally:
                os.close(fd)
            try:  # the empty directory, if the name is still it (a later swap may have moved it)
                if os.stat(name, dir_fd=root, follow_symlinks=False).st_ino == inode:
                    os.rmdir(name, dir_fd=root)
            except FileNotFoundError:
                pass
        finally:
            os.close(root)


def _unless_gone(function, path, exc_info) -> None:  # noqa: ANN001 - shutil.rmtree's onerror
    if not issubclass(exc_info[0], FileNotFoundError):
        raise exc_info[1]


def _mark(directory: int, name: str) -> None:
    os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=directory))
    _sync(directory)


_libc = ctypes.CDLL(None, use_errno=True)


def _sync(fd: int) -> None:
    """Everything written to the volume's file system so far on disk (syncfs: that file
    system only, where the swap script's `sync` flushes every one)."""
    if getattr(_libc, "syncfs", None) is None or _libc.syncfs(fd) != 0:
        os.sync()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
