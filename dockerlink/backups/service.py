"""`Backups`: take (in the background, or now before a delete), list, open, upload, delete."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from ..config import Config
from ..engine import AmbiguousReference, ContainerDetails, Engine, EngineError, NotFound
from ..errors import BackupFailed, InvalidInput, TooLarge
from ..events.hooks import backup_events
from ..ownership import is_owned, require_owned
from ..timings import step
from .archive import CHUNK, CorruptArchive, Oversized, Written, check_members, write_compressed
from .catalog import Catalog, Record, check_site_name, new_backup_id
from .hostdir import LocalVolumes, TooDeep, tar_of

__all__ = ["Backups", "Download", "Notify", "WWW", "final_backup"]

log = logging.getLogger("dockerlink.backups")

WWW = "/var/www"
HEARTBEAT = 2.0

#: Called with (event type, site name or container id, details) when a backup ends or a disk
#: quota is crossed (backups/disk.py); for backups, by default `events.hooks.backup_events`,
#: which hands it to the collector for the journal.
Notify = Callable[[str, str, dict], None]


@dataclass(frozen=True)
class Download:
    path: str
    size: int
    sha256: str


class Backups:
    def __init__(self, engine: Engine, config: Config, notify: Notify | None = None) -> None:
        self.engine = engine
        self.config = config
        self.catalog = Catalog(config.backup_dir)
        self.volumes = LocalVolumes(engine)
        self.notify = notify or backup_events(config)

    # -- which site ----------------------------------------------------------------------------

    def site(self, ref: str) -> ContainerDetails:
        return require_owned(self.engine.containers.inspect(ref))

    def _owner_now(self, name: str) -> str | None:
        """The full id of the dockerlink container named `name` now; None when none is."""
        try:
            c = self.engine.containers.inspect(check_site_name(name))
        except (NotFound, AmbiguousReference):  # no container has the name (it is no prefix of one)
            return None
        return c.id if c.name == name and is_owned(c) else None

    # -- taking --------------------------------------------------------------------------------

    def start(self, ref: str) -> str:
        """Start a backup in the background; its id. 409 while one of the site runs."""
        c = self.site(ref)
        fd = self.catalog.acquire(c.name)
        try:
            record = self._begin(c, "manual")
        except BaseException:
            os.close(fd)
            raise
        threading.Thread(
            target=self._run_and_release, args=(c, record, fd), name=f"backup-{c.name}", daemon=True
        ).start()
        return record.backup

    def take_now(self, c: ContainerDetails, kind: str = "final") -> Record:
        """A backup written before returning (the one before a delete); BackupFailed if not."""
        with self.catalog.locked(c.name, wait=True):
            with step("record"):
                record = self._begin(c, kind)
            record = self._run(c, record)
        if record.state != "done":
            raise BackupFailed(f"backup of {c.name} failed, nothing deleted: {record.error}")
        return record

    def _begin(self, c: ContainerDetails, kind: str) -> Record:
        self.catalog.site_dir(c.name, create=True)
        record = Record(
            backup=new_backup_id(), name=c.name, kind=kind, state="running", started=time.time(), container=c.id
        )
        self.catalog.save(record)
        return record

    def _run_and_release(self, c: ContainerDetails, record: Record, fd: int) -> None:
        try:
            self._run(c, record)
        finally:
            os.close(fd)

    def _run(self, c: ContainerDetails, record: Record) -> Record:
        part = self.catalog.partial_path(c.name, record.backup)
        last = [time.monotonic()]

        def progress(read: int) -> None:
            if time.monotonic() - last[0] >= HEARTBEAT:
                last[0] = time.monotonic()
                record.read = read
                self.catalog.save(record)

        try:
            with step("archive, compress, write"), open(part, "wb") as out:
                written = self._write_tar(c, out, progress)
            os.replace(part, self.catalog.archive_path(c.name, record.backup))
            _fsync_dir(part.parent)
            record.state, record.size, record.sha256, record.read = "done", written.size, written.sha256, written.plain
        except Exception as exc:  # noqa: BLE001 - in a background thread: recorded, never lost
            part.unlink(missing_ok=True)
            record.state, record.error = "failed", str(exc)[:500]
            if isinstance(exc, (EngineError, OSError)):
                log.warning("backup %s of %s failed: %s", record.backup, c.name, exc)
            else:
                log.exception("backup %s of %s failed", record.backup, c.name)
        record.finished = time.time()
        with step("record"):
            self.catalog.save(record)
        with step("journal hand-off"):
            self.notify("backup_done" if record.state == "done" else "backup_failed", c.name, record.public())
        if record.state == "done":
            with step("prune"):
                self.catalog.prune(c.name, self.config.backup_keep, self.config.backup_deleted_days)
        return record

    def _write_tar(self, c: ContainerDetails, out: BinaryIO, progress: Callable[[int], None]) -> Written:
        """The site's /var/www compressed into `out`: read from its volume's directory on
        this host when it can be (hostdir.py; several times faster), else (or for a tree
        too deep to walk that way) through the engine's archive endpoint."""
        directory = self.volumes.directory(c.volumes[WWW]) if c.volumes.get(WWW) else None
        if directory is not None:
            try:
                return write_compressed(tar_of(directory), out, progress)
            except TooDeep as exc:
                log.info("backup of %s through the engine: %s", c.name, exc)
                out.seek(0)
                out.truncate()
        with self.engine.containers.get_archive(c.id, WWW) as (_, stream):
            return write_compressed(stream.chunks(CHUNK), out, progress)

    # -- reading, uploading, deleting -------------------------------------------------------------

    def list(self, name: str, container: str | None = None) -> list[dict]:
        """The backups listed under a site name, newest first; with `container` (a full id),
        that container's only, never an earlier one's that had the name."""
        self.catalog.prune(name, self.config.backup_keep, self.config.backup_deleted_days)
        records = self.catalog.records(name)
        return [r.public() for r in reversed(records) if container is None or r.container == container]

    def download(self, name: str, backup: str) -> Download:
        r = self.catalog.done(name, backup)
        path = self.catalog.archive_path(name, backup)
        return Download(str(path), path.stat().st_size, r.sha256 or "")

    def upload(self, name: str, body: BinaryIO, length: int | None) -> Record:
        """Store an uploaded backup (moving a site between hosts): size capped at
        `backup_max` while it streams in, checked member by member as a restore would; 400
        if it is not a site backup (or holds a member a restore refuses), 413 over the cap
        or expanding past `restore_max_expanded` (it could never be restored). It belongs to
        the site of that name now (the panel uploads it for that site), or to no container
        when none has the name."""
        limit = self.config.backup_max
        if length is not None and length > limit:
            raise TooLarge(f"body: {length} bytes is over backup_max ({limit} bytes)")
        owner = self._owner_now(name)
        self.catalog.site_dir(name, create=True)
        record = Record(
            backup=new_backup_id(), name=name, kind="uploaded", state="running", started=time.time(), container=owner
        )
        part = self.catalog.partial_path(name, record.backup)
        try:
            with open(part, "wb") as out:
                tee = _Tee(body, out, limit)
                checked = check_members(tee, self.config.restore_max_expanded)
                tee.drain()
                out.flush()
                os.fsync(out.fileno())
            os.replace(part, self.catalog.archive_path(name, record.backup))
            _fsync_dir(part.parent)
        except CorruptArchive as exc:
            part.unlink(missing_ok=True)
            raise InvalidInput("body", f"not a site backup: {exc}") from None
        except Oversized as exc:
            part.unlink(missing_ok=True)
            raise TooLarge(f"body: {exc} (restore_max_expanded)") from None
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        record.state, record.size, record.sha256, record.finished = "done", tee.size, tee.sha256(), time.time()
        record.read = checked.expanded
        self.catalog.save(record)
        self.catalog.prune(name, self.config.backup_keep, self.config.backup_deleted_days)
        return record

    def remove(self, name: str, backup: str) -> None:
        self.catalog.remove(name, backup)


def final_backup(engine: Engine, config: Config) -> Callable[[ContainerDetails], Record] | None:
    """The hook a delete that removes a site's files calls first (`backup_on_delete`): a
    backup written before it returns, or BackupFailed (502) and the delete does nothing."""
    if not config.backup_on_delete:
        return None
    return Backups(engine, config).take_now


class _Tee:
    """Reads the request body, writing and hashing every byte read, refusing past `limit`."""

    def __init__(self, source: BinaryIO, out: BinaryIO, limit: int) -> None:
        import hashlib

        self._source, self._out, self._limit = source, out, limit
        self._sha = hashlib.sha256()
        self.size = 0

    def read(self, n: int = CHUNK) -> bytes:
        data = self._source.read(min(n if n and n > 0 else CHUNK, CHUNK))
        if data:
            self.size += len(data)
            if self.size > self._limit:
                raise TooLarge(f"body: over backup_max ({self._limit} bytes)")
            self._out.write(data)
            self._sha.update(data)
        return data

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    def sha256(self) -> str:
        return self._sha.hexdigest()


def _fsync_dir(path: os.PathLike) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
