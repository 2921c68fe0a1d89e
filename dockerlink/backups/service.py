"""`Backups`: take (in the background, now before a delete, or on the schedule), list, open,
upload, delete, prune."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from ..config import Config
from ..engine import AmbiguousReference, ContainerDetails, Engine, EngineError, NotFound
from ..errors import BackupFailed, Conflicting, InvalidInput, TooLarge
from ..ownership import is_owned, require_owned
from ..timings import step
from .archive import CHUNK, CorruptArchive, Oversized, Written, check_members, write_compressed
from .catalog import Catalog, Record, check_site_name, new_backup_id
from .freshness import LastBackups
from .hostdir import LocalVolumes, TooDeep, tar_of
from .members import WWW
from .policy import Retention
from .restic import ResticBusy, ResticError
from .targets import ResticTarget, restic_target

__all__ = ["Backups", "Download", "Notify", "Received", "TARGETS", "WWW", "final_backup", "receive_archive"]

log = logging.getLogger("dockerlink.backups")

HEARTBEAT = 2.0

#: Called with (event type, site name or container id, details) when a backup ends or a disk
#: quota is crossed (backups/disk.py); for backups, in the service, `events.hooks.backup_events`
#: on the worker's journal, which hands it to the collector for the journal.
Notify = Callable[[str, str, dict], None]


TARGETS = ("local", "restic")


@dataclass(frozen=True)
class Download:
    """A backup's zstd tar: `file` already open (a restic backup's, written out for this
    download and unlinked), else opened from `path`."""

    path: str
    size: int
    sha256: str
    file: BinaryIO | None = None

    def open(self) -> BinaryIO:
        return self.file or open(self.path, "rb")


class Backups:
    def __init__(self, engine: Engine, config: Config, notify: Notify) -> None:
        self.engine = engine
        self.config = config
        self.catalog = Catalog(config.backup_dir)
        self.volumes = LocalVolumes(engine)
        self.notify = notify
        self.last = LastBackups.of(self.config)
        self._restic: ResticTarget | None = None

    @property
    def restic(self) -> ResticTarget:
        """The restic target (made on first use); Conflicting (409) where it is not set up."""
        if self._restic is None:
            self._restic = restic_target(self.engine, self.config, self.catalog)
        return self._restic

    def check_target(self, target: str | None) -> str:
        """`target` (`local` or `restic`), or the host's `backup_target`; 400 for another, 409
        for restic on a host without it."""
        target = target or self.config.backup_target
        if target not in TARGETS:
            raise InvalidInput("target", "expected local or restic")
        if target == "restic":
            self.restic  # noqa: B018 - refuses when not configured
        return target

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

    def start(self, ref: str, target: str | None = None) -> str:
        """Start a backup in the background (to `target`, default `backup_target`); its id.
        409 while one of the site runs."""
        c, record, fd = self._claim(ref, "manual", target)
        threading.Thread(
            target=self._run_and_release, args=(c, record, fd), name=f"backup-{c.name}", daemon=True
        ).start()
        return record.backup

    def take(self, ref: str, kind: str = "scheduled", target: str | None = None) -> Record:
        """`start`'s backup, written in this thread (the schedule's: its caller caps how many
        run at once); Conflicting while one of the site runs, a failed record if it failed."""
        c, record, fd = self._claim(ref, kind, target)
        self._run_and_release(c, record, fd)
        return record

    def _claim(self, ref: str, kind: str, target: str | None) -> tuple[ContainerDetails, Record, int]:
        """The site, its backup's first record, and the site's lock (held: a descriptor)."""
        target = self.check_target(target)
        c = self.site(ref)
        fd = self.catalog.acquire(c.name)
        try:
            return c, self._begin(c, kind, target), fd
        except BaseException:
            os.close(fd)
            raise

    def take_now(self, c: ContainerDetails, kind: str = "final") -> Record:
        """A backup written before returning (the one before a delete); BackupFailed if not."""
        with self.catalog.locked(c.name, wait=True):
            with step("record"):
                record = self._begin(c, kind, self.check_target(None))
            record = self._run(c, record)
        if record.state != "done":
            raise BackupFailed(f"backup of {c.name} failed, nothing deleted: {record.error}")
        return record

    def _begin(self, c: ContainerDetails, kind: str, target: str) -> Record:
        self.catalog.site_dir(c.name, create=True)
        record = Record(
            backup=new_backup_id(),
            name=c.name,
            kind=kind,
            state="running",
            started=time.time(),
            container=c.id,
            target=target,
            compression="zstd" if target == "local" else "restic",
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
            if record.target == "restic":
                with step("restic backup"):
                    self.restic.take(c, record, lambda: progress(record.read))
                record.state = "done"
            else:
                with step("archive, compress, write"), open(part, "wb") as out:
                    written = self._write_tar(c, out, progress)
                os.replace(part, self.catalog.archive_path(c.name, record.backup))
                _fsync_dir(part.parent)
                record.state, record.size, record.sha256 = "done", written.size, written.sha256
                record.read = written.plain
        except Exception as exc:  # noqa: BLE001 - in a background thread: recorded, never lost
            part.unlink(missing_ok=True)
            record.state, record.error = "failed", str(exc)[:500]
            if isinstance(exc, ResticError):
                record.error = f"restic: {exc}"[:500]
                log.warning("backup %s of %s to restic failed: %s", record.backup, c.name, exc)
            elif isinstance(exc, (EngineError, OSError)):
                log.warning("backup %s of %s failed: %s", record.backup, c.name, exc)
            else:
                log.exception("backup %s of %s failed", record.backup, c.name)
        record.finished = time.time()
        if record.state == "done":  # noted first: once the record says done, the listing shows it
            try:
                self.last.note(record, target=record.target)
            except OSError as exc:  # the time of the last backup is a report of it, never its failure
                log.warning("last backup of %s not noted: %s", c.name, exc)
        with step("record"):
            self.catalog.save(record)
        with step("journal hand-off"):
            self.notify("backup_done" if record.state == "done" else "backup_failed", c.name, record.public())
        if record.state == "done":
            with step("prune"):
                self.prune(c.name)
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
        self.prune(name)
        records = self.catalog.records(name)
        return [r.public() for r in reversed(records) if container is None or r.container == container]

    def download(self, name: str, backup: str) -> Download:
        r = self.catalog.done(name, backup)
        path = self.catalog.archive_path(name, backup)
        if r.target == "restic":
            with restic_failures(f"download of {backup}"):
                f, m = self.restic.open(r)
            return Download(str(path), m.size, m.sha256, f)
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
        received = receive_archive(body, part, limit, self.config.restore_max_expanded, "restore_max_expanded")
        os.replace(part, self.catalog.archive_path(name, record.backup))
        _fsync_dir(part.parent)
        record.state, record.size, record.sha256, record.finished = "done", received.size, received.sha256, time.time()
        record.read = received.expanded
        self.catalog.save(record)
        self.prune(name)
        return record

    def remove(self, name: str, backup: str) -> None:
        """Delete a backup: a restic one's snapshot first (`restic forget`), then its record."""
        r = self.catalog.get(name, backup)
        if r.target == "restic":
            with restic_failures(f"delete of {backup}"):
                self.restic.remove(r)
        self.catalog.remove(name, backup)
        self._renote(name)

    def prune(self, name: str) -> list[str]:
        """Apply the retention policy to the backups listed under `name` (docs/operations.md,
        Backups): the ids removed; the last good backup of each site noted again if any went."""
        removed = self.catalog.prune(name, Retention.of(self.config), self.config.backup_deleted_days)
        if removed:
            self._renote(name)
        return removed

    def _renote(self, name: str) -> None:
        """The last good backups of `name`'s sites as the catalog now has them."""
        try:
            self.last.refresh(name, self.catalog.records(name))
        except OSError as exc:  # a report of the backups, never a failure of their removal
            log.warning("last backups of %s not noted again: %s", name, exc)


@contextmanager
def restic_failures(what: str) -> Iterator[None]:
    """restic's failure as BackupFailed (502, its one line); its lock held too long as 409."""
    try:
        yield
    except ResticBusy as exc:
        raise Conflicting(f"{what}: {exc}") from None
    except ResticError as exc:
        raise BackupFailed(f"{what} failed: restic: {exc}") from None


def final_backup(engine: Engine, config: Config, notify: Notify) -> Callable[[ContainerDetails], Record] | None:
    """The hook a delete that removes a site's files calls first (`backup_on_delete`): a
    backup written before it returns, or BackupFailed (502) and the delete does nothing."""
    if not config.backup_on_delete:
        return None
    return Backups(engine, config, notify).take_now


@dataclass(frozen=True)
class Received:
    """An archive received whole and checked: compressed size, sha256, plain size."""

    size: int
    sha256: str
    expanded: int


def receive_archive(body: BinaryIO, part: os.PathLike, limit: int, expanded_limit: int, which: str) -> Received:
    """Write a site archive arriving in `body` to `part`, durable, checked member by member
    as a restore would read it (an upload, or a site moving in from another host): 400 if
    it is not one, 413 past `limit` bytes or expanding past `expanded_limit` (`which`
    setting says so). Nothing is left at `part` when it fails."""
    try:
        with open(part, "wb") as out:
            tee = _Tee(body, out, limit)
            checked = check_members(tee, expanded_limit)
            tee.drain()
            out.flush()
            os.fsync(out.fileno())
    except CorruptArchive as exc:
        os.unlink(part)
        raise InvalidInput("body", f"not a site backup: {exc}") from None
    except Oversized as exc:
        os.unlink(part)
        raise TooLarge(f"body: {exc} ({which})") from None
    except BaseException:
        if os.path.exists(part):
            os.unlink(part)
        raise
    return Received(tee.size, tee.sha256(), checked.expanded)


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
