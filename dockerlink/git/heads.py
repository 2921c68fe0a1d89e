"""`git log -1` without an exec while the repository has not changed.

An exec costs the engine a runc process and ~60 ms of CPU; under load the git head requests
were the tail of every other request (`bench/load.py`). Panels poll the head of
repositories that rarely change, so each worker keeps the last answer per working
directory, with the state of the repository it was made from, read on this host through
the mount that holds the working directory (local engines only: the volume's path is the
engine's). The answer is reused only while that state is the same, so it is exact, never
"recent": another worker's pull, a commit in the site's terminal, a checkout or a new
`.mailmap` changes the state, and the next request runs git again.

The state: `HEAD`, the loose ref it names (or `packed-refs`), `config`, `.mailmap`,
`refs/notes/commits`, and the container's start time. What `git log -1` prints depends
on nothing else in a repository whose config has no includes and no log, format, notes,
mailmap, replace or graft settings and which has no grafts and no replace refs; any other
repository always runs git. The commit in the answer must be the commit the state names,
which also proves the path read here is the container's. Every component is opened
without following symlinks, every file with a size cap and non-blocking (a FIFO named
HEAD does not hang a worker): the repository belongs to the site's user. `git log -1`
runs with no user-level config (the service's `GIT_CONFIG_GLOBAL=/dev/null`: git runs as
the site's user, whose `~/.gitconfig` is not watched); the system's, `/etc/gitconfig`, is
root's, which the site's user cannot change; it is not watched either.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["HostView", "HeadCache", "host_view", "repo_state"]

_SMALL = 64 * 1024  # HEAD, a loose ref, config
_PACKED = 4 * 1024 * 1024  # packed-refs, read only to find HEAD's commit when its ref is packed
_KEPT = 64 * 1024  # a longer answer (a huge commit message) is not kept: 512 entries stay small
_REF = re.compile(r"refs/[A-Za-z0-9._/+-]+")
_HASH = re.compile(rb"[0-9a-f]{40}(?:[0-9a-f]{24})?")
#: Config text that can change what `git log -1` prints, or make it read files not watched.
_UNSAFE_CONFIG = ("include", "mailmap", "notes", "replace", "graft", "[log", "[format", "[pretty", "[i18n", "[color")
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


@dataclass(frozen=True)
class HostView:
    """Where a container's working directory is on this host: the mount's source and the
    path components below it."""

    container: str
    started_at: int | None
    source: str
    parts: tuple[str, ...]


def host_view(container: str, started_at: int | None, mounts: Mapping[str, str], workdir: str) -> HostView | None:
    """The view through the innermost mount holding `workdir`, or None if none does."""
    best = None
    for dest, source in mounts.items():
        dest = dest.rstrip("/") or "/"
        if workdir == dest or workdir.startswith(dest.rstrip("/") + "/"):
            if best is None or len(dest) > len(best[0]):
                best = (dest, source)
    if best is None or not best[1]:
        return None
    parts = tuple(p for p in workdir[len(best[0]) :].split("/") if p)
    if any(p in (".", "..") for p in parts):
        return None
    return HostView(container, started_at, best[1], parts)


@dataclass(frozen=True)
class RepoState:
    key: bytes  # equal keys: the same `git log -1` answer
    commit: bytes | None  # the commit HEAD names, if found
    cacheable: bool


def repo_state(view: HostView) -> RepoState | None:
    """The repository's state read through `view`, or None when it cannot be read safely
    (no `.git` directory there, a symlink on the way, no permission, not this host)."""
    fds: list[int] = []
    try:
        fd = os.open(view.source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # the engine's own path
        fds.append(fd)
        for part in view.parts:
            fd = os.open(part, _DIR, dir_fd=fd)
            fds.append(fd)
        work = fd
        git = os.open(".git", _DIR, dir_fd=work)
        fds.append(git)
        head = _read(git, ("HEAD",), _SMALL)
        if head is None:
            return None
        config = _read(git, ("config",), _SMALL)
        ref = head[5:].strip().decode("ascii", "replace") if head.startswith(b"ref: ") else None
        if ref is not None and (not _REF.fullmatch(ref) or ".." in ref or "//" in ref):
            return None
        loose = _read(git, tuple(ref.split("/")), _SMALL) if ref else None
        packed = _signature(git, ("packed-refs",))
        if ref is None:
            commit = head.strip()
        elif loose is not None:
            commit = loose.strip()
        else:
            commit = _packed_commit(git, ref)
        unsafe = (
            config is None
            or any(word in config.decode("utf-8", "replace").lower() for word in _UNSAFE_CONFIG)
            or _signature(git, ("info", "grafts")) is not None
            or _signature(git, ("refs", "replace")) is not None
            or _signature(git, ("commondir",)) is not None
        )
        key = _digest(
            view.container,
            view.started_at,
            head,
            loose,
            packed,
            config,
            _read(git, ("refs", "notes", "commits"), _SMALL),
            _signature(work, (".mailmap",)),
        )
        valid = commit is not None and _HASH.fullmatch(commit) is not None
        return RepoState(key, commit if valid else None, cacheable=valid and not unsafe)
    except OSError:
        return None
    finally:
        for fd in reversed(fds):
            os.close(fd)


def _digest(*parts: object) -> bytes:
    return hashlib.sha256(repr(parts).encode()).digest()


def _walk(dir_fd: int, parts: tuple[str, ...]) -> tuple[int, list[int]]:
    """The directory holding `parts[-1]`, opened component by component, never through a symlink."""
    opened: list[int] = []
    fd = dir_fd
    try:
        for part in parts[:-1]:
            fd = os.open(part, _DIR, dir_fd=fd)
            opened.append(fd)
    except OSError:
        for d in opened:
            os.close(d)
        raise
    return fd, opened


def _read(dir_fd: int, parts: tuple[str, ...], cap: int) -> bytes | None:
    """A regular file's bytes (None if absent); OSError if not a regular file or past `cap`."""
    try:
        parent, opened = _walk(dir_fd, parts)
    except FileNotFoundError:
        return None
    try:
        fd = os.open(parts[-1], _FILE, dir_fd=parent)
    except FileNotFoundError:
        return None
    finally:
        for d in opened:
            os.close(d)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > cap:
            raise OSError(f"{'/'.join(parts)}: not a small regular file")
        return os.read(fd, cap + 1)
    finally:
        os.close(fd)


def _signature(dir_fd: int, parts: tuple[str, ...]) -> tuple[int, int, int, int, int] | None:
    """Inode, size, mode, mtime and ctime of an entry (not followed), None if absent."""
    try:
        parent, opened = _walk(dir_fd, parts)
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        info = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None
    finally:
        for d in opened:
            os.close(d)
    return (info.st_ino, info.st_size, info.st_mode, info.st_mtime_ns, info.st_ctime_ns)


def _packed_commit(git: int, ref: str) -> bytes | None:
    packed = _read(git, ("packed-refs",), _PACKED)
    if packed is None:
        return None
    wanted = ref.encode()
    for line in packed.splitlines():
        commit, _, name = line.partition(b" ")
        if name == wanted:
            return commit
    return None


class HeadCache:
    """Per worker: the last `git log -1` answer per working directory, with its state."""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, tuple[str, ...]], tuple[bytes, str]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def head(self, view: HostView | None, run: Callable[[], str]) -> str:
        """The cached answer while the repository's state is unchanged, else `run()`'s."""
        if view is None:
            return run()
        where = (view.container, view.parts)
        before = repo_state(view)
        if before is not None and before.cacheable:
            with self._lock:
                entry = self._entries.get(where)
                if entry is not None and entry[0] == before.key:
                    self._entries.move_to_end(where)
                    self.hits += 1
                    return entry[1]
        self.misses += 1
        output = run()
        after = repo_state(view)
        if (
            before is not None
            and after is not None
            and after.cacheable
            and after.key == before.key
            and after.commit is not None
            and output.startswith("commit " + after.commit.decode("ascii"))
            and len(output) <= _KEPT
        ):
            with self._lock:
                self._entries[where] = (after.key, output)
                self._entries.move_to_end(where)
                while len(self._entries) > self._size:
                    self._entries.popitem(last=False)
        return output
