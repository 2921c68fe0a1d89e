"""Where backups live: `<backup_dir>/<site name>/<backup id>.tar.zst`, each beside a
`<backup id>.json` record (state, size, sha256, kind, the full id of the container it belongs
to), written atomically.

Every gunicorn worker reads the same directory, so a backup taken by one worker is listed by
all. Site names and backup ids are checked against strict patterns, and every path is
checked to stay under `backup_dir`, before the file system is touched: no traversal.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import Conflicting, InvalidInput, NoSuchBackup
from ..statefiles import StateFiles, acquire
from ..storage import write_atomically
from .archive import EXTENSION
from .policy import Retention, kept

__all__ = ["BACKUP_ID_PATTERN", "Record", "Catalog", "check_backup_id", "new_backup_id"]

#: `<UTC time>-<random>`: sorts by time, never a path.
BACKUP_ID_PATTERN = r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}"
_BACKUP_ID = re.compile(BACKUP_ID_PATTERN)
_SITE_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]{1,127}")
#: A running backup whose writer has not shown progress for this long is reported failed.
STALE_AFTER = 900.0


def check_backup_id(value: str) -> str:
    if not isinstance(value, str) or not _BACKUP_ID.fullmatch(value):
        raise InvalidInput("backup", "expected a backup id such as 20260101T000000Z-0123abcd")
    return value


def check_site_name(value: str, field: str = "name") -> str:
    if not isinstance(value, str) or not _SITE_NAME.fullmatch(value):
        raise InvalidInput(field, "expected a site name, [a-zA-Z0-9][a-zA-Z0-9_.-]+")
    return value


def new_backup_id(now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now if now is not None else time.time()))
    return f"{stamp}-{secrets.token_hex(4)}"


@dataclass
class Record:
    """One backup, as listed. `state`: running, done or failed; `kind`: manual, final (taken
    before a delete), scheduled, uploaded. `container`: the full id of the container it belongs to (it
    was taken from, or uploaded for); None for an upload made while no site had its name:
    a backup of no container, which only the panel restores, naming it (`Restorer.find`)."""

    backup: str
    name: str
    kind: str
    state: str
    started: float
    container: str | None = None
    finished: float | None = None
    size: int | None = None
    sha256: str | None = None
    read: int = 0  # plain tar bytes read from the engine so far (progress)
    error: str | None = None
    compression: str = "zstd"
    target: str = "local"  # or restic: a snapshot in the restic repository (targets.py)
    snapshot: str | None = None  # restic's snapshot id
    source: str | None = None  # restic: files (the volume's, on the engine's host) or stream (the engine's tar)
    added: int | None = None  # restic: bytes the repository grew by
    path: str | None = None  # restic: the path backed up (a host path: not listed)
    pid: int = field(default_factory=os.getpid)
    heartbeat: float = field(default_factory=time.time)

    def public(self, now: float | None = None) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("pid", "heartbeat", "path")}
        if self.state == "running" and _stale(self, now or time.time()):
            out.update(state="failed", error="interrupted: the service stopped while writing it")
        return out


def _stale(r: Record, now: float) -> bool:
    if now - r.heartbeat > STALE_AFTER:
        return True
    try:
        os.kill(r.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    return False


class Catalog:
    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    # -- paths -------------------------------------------------------------------------------

    def site_dir(self, name: str, create: bool = False) -> Path:
        path = self.root / check_site_name(name)
        if path.resolve().parent != self.root.resolve():
            raise InvalidInput("name", "not a site name")
        if create:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return path

    def archive_path(self, name: str, backup: str) -> Path:
        return self.site_dir(name) / f"{check_backup_id(backup)}{EXTENSION}"

    def partial_path(self, name: str, backup: str) -> Path:
        return self.site_dir(name) / f"{check_backup_id(backup)}{EXTENSION}.part"

    def _record_path(self, name: str, backup: str) -> Path:
        return self.site_dir(name) / f"{check_backup_id(backup)}.json"

    # -- records -----------------------------------------------------------------------------

    def save(self, r: Record) -> None:
        """Atomically (write, fsync, rename): a reader sees the old record or the new one."""
        r.heartbeat = time.time()
        path = self._record_path(r.name, r.backup)
        write_atomically(path, json.dumps(asdict(r)))

    def get(self, name: str, backup: str) -> Record:
        try:
            data = json.loads(self._record_path(name, backup).read_text())
        except (FileNotFoundError, ValueError):
            raise NoSuchBackup(f"no backup {backup} of {name}") from None
        return Record(**data)

    def done(self, name: str, backup: str) -> Record:
        """A finished backup whose file (or restic snapshot) is there."""
        r = self.get(name, backup)
        there = bool(r.snapshot) if r.target == "restic" else self.archive_path(name, backup).is_file()
        if r.state != "done" or not there:
            raise NoSuchBackup(f"backup {backup} of {name} is {r.public()['state']}, not available")
        return r

    def records(self, name: str) -> list[Record]:
        """Every backup listed under a site name, oldest first: of each container that had it."""
        d = self.site_dir(name)
        if not d.is_dir():
            return []
        out = []
        for p in sorted(d.glob("*.json")):
            if _BACKUP_ID.fullmatch(p.stem):
                try:
                    out.append(Record(**json.loads(p.read_text())))
                except (ValueError, TypeError, OSError):
                    continue
        return out

    def remove(self, name: str, backup: str) -> None:
        self.get(name, backup)
        for p in (self.archive_path(name, backup), self.partial_path(name, backup), self._record_path(name, backup)):
            p.unlink(missing_ok=True)

    def prune(self, name: str, policy: Retention, deleted_days: int, now: float | None = None) -> list[str]:
        """Keep the local backups of a site that `policy` keeps (those taken before a delete
        aside: they go `deleted_days` after they were taken), and failed ones are dropped once
        a newer backup exists. Restic backups go by the same policy through
        `ResticTarget.forget`. Returns the ids removed."""
        now = now or time.time()
        records = [r for r in self.records(name) if not (r.state == "running" and not _stale(r, now))]
        finals = [r for r in records if r.kind == "final" and r.target == "local"]
        others = [r for r in records if r.kind != "final"]
        done = [r for r in others if r.state == "done" and r.target == "local"]
        keep = kept(((r.backup, r.started) for r in done), policy)
        removed = [r.backup for r in done if r.backup not in keep]
        failed = [r for r in others if r.state != "done"]
        newest = records[-1].backup if records else None
        removed += [r.backup for r in failed if r.backup != newest]
        removed += [r.backup for r in finals if now - r.started > deleted_days * 86400]
        for backup in removed:
            self.remove(name, backup)
        return removed

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _SITE_NAME.fullmatch(p.name))

    # -- one operation per site at a time, across workers --------------------------------------

    def acquire(self, name: str, wait: bool = False) -> int:
        """Take the site's lock (held by a backup or a restore, in any worker); a descriptor
        that `os.close` releases, from any thread. Conflicting when held and not `wait`."""
        self.site_dir(name, create=True)
        try:
            return acquire(StateFiles(backup_dir=self.root).path("site_lock", name=name), wait=wait, mode=0o600)
        except BlockingIOError:
            raise Conflicting(f"a backup or restore of {name} is already running") from None

    @contextmanager
    def locked(self, name: str, wait: bool = False) -> Iterator[None]:
        fd = self.acquire(name, wait)
        try:
            yield
        finally:
            os.close(fd)
