"""The restic target: a site's /var/www into the restic repository, and back out: for a
restore, straight from `restic dump` into the same checks and extraction a local backup's
members go through (`restored`, one pass, nothing written out); for a download (which any
host can upload), as the same zstd tar a local backup is (`materialized`: a download's
length and sha256 are known before its first byte).

What is backed up (chosen by measurement, docs/benchmarks.md "restic"): on the engine's
host, the volume's files through its mountpoint (`source: files`): restic skips the files
whose size, mtime and inode have not changed and dedups per file, so the second backup of
an unchanged 1 GB site reads next to nothing. With a remote engine (or a mountpoint this
process cannot read), the engine's archive stream on restic's stdin (`source: stream`),
which dedups by content but must read the whole site each time.

Each snapshot is tagged `dockerlink`, `dockerlink-site=<name>`, `dockerlink-backup=<id>`,
`dockerlink-container=<full id>` and `dockerlink-kind=<kind>`, so the repository alone says
whose each one is: a new host that lost nothing but its catalog (the host died) adopts them
(`adopt`) and restores, downloads and deletes them as its own.
"""

from __future__ import annotations

import calendar
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import zstandard

from ..config import Config
from ..engine import ContainerDetails, Engine
from ..errors import Conflicting, InvalidInput, NoSuchBackup
from .archive import CHUNK, EXTENSION, LEVEL, CorruptArchive, Rename, restored_stream
from .catalog import Catalog, Record, check_backup_id, check_site_name
from .members import ROOT, WWW, Owner
from .restic import Output, Progress, Restic, Source

__all__ = [
    "ResticTarget",
    "Materialized",
    "TAG",
    "KINDS",
    "adopted_record",
    "as_www",
    "restic_target",
    "www_renamer",
]

TAG = "dockerlink"
#: The kinds a record keeps when adopted; a snapshot without one (taken before the tag
#: existed) is listed as `adopted`.
KINDS = ("manual", "final", "scheduled", "uploaded")
_CONTAINER_ID = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Materialized:
    """A restic backup written out as a local backup's file: where, how big, its sha256."""

    path: Path
    size: int
    sha256: str


class ResticTarget:
    def __init__(self, engine: Engine, config: Config, catalog: Catalog, restic: Restic | None = None) -> None:
        self.engine = engine
        self.catalog = catalog
        self.restic = restic or Restic(config)
        self.local = not engine.address.startswith("tcp://")  # the volumes are on this host

    # -- taking ------------------------------------------------------------------------------

    def take(self, c: ContainerDetails, record: Record, progress: Progress | None = None) -> None:
        """Back the site up into the repository; fills the record's snapshot, source, path,
        read (bytes read) and added (bytes the repository grew by). ResticError if not."""
        tags = [
            TAG,
            f"{TAG}-site={c.name}",
            f"{TAG}-backup={record.backup}",
            f"{TAG}-container={c.id}",
            f"{TAG}-kind={record.kind}",
        ]
        mountpoint = self._mountpoint(c)
        if mountpoint:
            record.source, record.path = "files", mountpoint
            summary = self.restic.backup([mountpoint], tags, progress=progress)
        else:
            record.source, record.path = "stream", f"/{c.name}.tar"
            summary = self.restic.backup([f"{c.name}.tar"], tags, stdin=self._archive(c), progress=progress)
        record.snapshot, record.read, record.added = summary.snapshot, summary.processed, summary.added

    def _mountpoint(self, c: ContainerDetails) -> str | None:
        volume = c.volumes.get(WWW)
        if not (self.local and volume):
            return None
        mountpoint = self.engine.volumes.inspect(volume).mountpoint
        return mountpoint if mountpoint and os.access(mountpoint, os.R_OK | os.X_OK) else None

    def _archive(self, c: ContainerDetails) -> Source:
        @contextmanager
        def opened() -> Iterator[Iterable[bytes]]:
            with self.engine.containers.get_archive(c.id, WWW) as (_, stream):
                yield stream.chunks(CHUNK)

        return opened

    # -- adopting (a new host) ---------------------------------------------------------------

    def adopt(self, name: str | None = None) -> list[Record]:
        """A catalog record for each of the repository's dockerlink snapshots (of site
        `name`, or every site) that this catalog does not list: another host's, or this
        host's from before its state was lost. Their backups then list, restore (into the
        site of that name, with `from`: a new host's site is another container), download
        and delete here. A snapshot whose tags do not name a site and a backup id is left
        alone; adopting twice adds nothing."""
        tags = [TAG] + ([f"{TAG}-site={check_site_name(name)}"] if name else [])
        adopted = []
        for snapshot in self.restic.snapshots(tags):
            record = adopted_record(snapshot)
            if record is None or (name and record.name != name):
                continue
            try:
                self.catalog.get(record.name, record.backup)
                continue
            except NoSuchBackup:
                pass
            self.catalog.site_dir(record.name, create=True)
            self.catalog.save(record)
            adopted.append(record)
        return adopted

    # -- reading back --------------------------------------------------------------------------

    @contextmanager
    def materialized(self, record: Record) -> Iterator[Materialized]:
        """The backup as a zstd tar of www/ (a local backup's format) in a temporary file
        beside the site's local backups, removed on leaving."""
        fd, name = tempfile.mkstemp(prefix=f".{record.backup}.", suffix=f"{EXTENSION}.restic", dir=self._dir(record))
        path = Path(name)
        try:
            with os.fdopen(fd, "wb") as f:
                out = _Hashing(f)
                with zstandard.ZstdCompressor(level=LEVEL).stream_writer(out, closefd=False) as z:
                    self._write_tar(record, z)
                f.flush()
            yield Materialized(path, out.size, out.sha.hexdigest())
        finally:
            path.unlink(missing_ok=True)

    def restored(self, record: Record, owner: Owner, limit: int) -> Iterator[tuple[tarfile.TarInfo, BinaryIO | None]]:
        """What a restore writes, straight from `restic dump` (archive.restored_stream: the
        local restore's checks and rewriting, at most `limit` plain bytes). The last member
        taken, restic's exit status is known before the generator ends: ResticError if it
        failed. restic authenticates every blob it reads, so a dump that exits 0 gave the
        whole tree as it was backed up."""
        args, rename = self._dump(record)
        with self.restic.reading(*args) as tar:
            for info, data in restored_stream(tar, owner, limit, rename):
                yield info, _Told(data, tar) if data is not None else None

    def open(self, record: Record) -> tuple[BinaryIO, Materialized]:
        """The materialized file, opened and already unlinked (for a download's stream)."""
        with self.materialized(record) as m:
            return open(m.path, "rb"), m

    def _dir(self, record: Record) -> Path:
        return self.catalog.site_dir(record.name, create=True)

    def _write_tar(self, record: Record, out: IO[bytes]) -> None:
        args, rename = self._dump(record)
        with self.restic.reading(*args) as tar:
            if rename is None:
                shutil.copyfileobj(tar, out, CHUNK)
            else:
                as_www(tar, rename, out)

    @staticmethod
    def _dump(record: Record) -> tuple[tuple[str, ...], Rename | None]:
        """The `restic dump` of the backup, and how its members are renamed into `www/…`: a
        stream backup's file is the engine's tar as it was; a host path's parent is dumped
        as a tar of absolute names (`www_renamer`)."""
        if record.source == "stream":
            return ("dump", "--", record.snapshot, record.path), None
        parent = os.path.dirname(record.path.rstrip("/")) or "/"
        return ("dump", "--archive", "tar", "--", record.snapshot, parent), www_renamer(record.path)

    # -- removing ------------------------------------------------------------------------------

    def remove(self, record: Record) -> None:
        if record.snapshot:
            self.restic.forget_snapshots([record.snapshot])

    def forget(
        self, keep_daily: int, keep_weekly: int, keep_monthly: int, prune: bool = True, name: str | None = None
    ) -> list[str]:
        """Apply a retention policy to this host's restic backups, each site on its own
        (restic `forget --keep-daily … --prune`, one group per site's backed-up path); with
        `name`, that site's only. Drops the catalog records of the snapshots removed; the
        ids of those backups. A policy keeping nothing is refused (ValueError)."""
        if min(keep_daily, keep_weekly, keep_monthly) < 0 or not (keep_daily or keep_weekly or keep_monthly):
            raise ValueError("a retention policy keeps at least one backup (daily, weekly or monthly)")
        tags = [TAG] + ([f"{TAG}-site={name}"] if name else [])
        removed = self.restic.forget_policy(tags, keep_daily, keep_weekly, keep_monthly, prune)
        gone = []
        for site in [name] if name else self.catalog.names():
            for r in self.catalog.records(site):
                if r.target == "restic" and r.snapshot and any(s.startswith(r.snapshot) for s in removed):
                    self.catalog.remove(site, r.backup)
                    gone.append(r.backup)
        return gone


def restic_target(engine: Engine, config: Config, catalog: Catalog) -> ResticTarget:
    """The restic target of this host; Conflicting (409) where it is not set up (a backup
    asked of it, or a restic backup's record left from when it was)."""
    if not (config.restic_repository and config.restic_password_file):
        raise Conflicting("target: restic is not set up on this host (restic_repository)")
    return ResticTarget(engine, config, catalog)


def adopted_record(snapshot: dict[str, Any]) -> Record | None:
    """The record a snapshot's tags and path describe (None if they describe none): a done
    restic backup, with the time its id carries and the snapshot's own."""
    tags = dict(t.split("=", 1) for t in snapshot.get("tags") or [] if isinstance(t, str) and "=" in t)
    paths, short = snapshot.get("paths") or [], snapshot.get("short_id")
    try:
        name = check_site_name(tags.get(f"{TAG}-site", ""))
        backup = check_backup_id(tags.get(f"{TAG}-backup", ""))
    except InvalidInput:
        return None
    if len(paths) != 1 or not isinstance(paths[0], str) or not isinstance(short, str) or not short:
        return None
    container = tags.get(f"{TAG}-container")
    kind = tags.get(f"{TAG}-kind")
    started = float(calendar.timegm(time.strptime(backup[:16], "%Y%m%dT%H%M%SZ")))
    return Record(
        backup=backup,
        name=name,
        kind=kind if kind in KINDS else "adopted",
        state="done",
        started=started,
        container=container if container and _CONTAINER_ID.fullmatch(container) else None,
        finished=_restic_time(snapshot.get("time")) or started,
        compression="restic",
        target="restic",
        snapshot=short,
        source="stream" if paths[0] == f"/{name}.tar" else "files",
        path=paths[0],
    )


def _restic_time(value: object) -> float | None:
    """restic's RFC 3339 time (nanoseconds, `Z`) as Unix seconds."""
    if not isinstance(value, str):
        return None
    match = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?Z", value)
    if not match:
        return None
    whole = calendar.timegm(tuple(int(g) for g in match.groups()[:6]) + (0, 0, 0))
    return whole + float(match[7] or 0)


def www_renamer(root: str) -> Rename:
    """Renames a member of restic's tar of `root`'s parent (named by its absolute path
    without its `/`) into the engine's shape: `root` becomes `www`, what is under it
    `www/…`; anything else is left out (False)."""
    prefix = root.strip("/")

    def rename(m: tarfile.TarInfo) -> bool:
        name = _renamed(m.name, prefix)
        if name is None:
            return False
        m.name = name
        if m.islnk():
            m.linkname = _renamed(m.linkname, prefix) or m.linkname
        # A PAX header's path (a long or non-ASCII name) would win over the new name.
        m.pax_headers = {k: v for k, v in m.pax_headers.items() if k not in ("path", "linkpath")}
        return True

    return rename


def as_www(tar: IO[bytes], rename: Rename, out: IO[bytes]) -> None:
    """Rewrite restic's tar of a host path into `out` as the engine's tar of www/
    (`www_renamer`'s members only)."""
    with (
        tarfile.open(fileobj=tar, mode="r|") as src,
        tarfile.open(  # type: ignore[call-overload]
            fileobj=out, mode="w|", format=tarfile.PAX_FORMAT
        ) as dst,
    ):
        for m in src:
            if rename(m):
                dst.addfile(m, src.extractfile(m) if m.isreg() else None)
            src.members.clear()  # kept for random access, which a stream has not: memory would grow


def _renamed(name: str, prefix: str) -> str | None:
    name = name.strip("/")
    if name == prefix:
        return ROOT
    if name.startswith(prefix + "/"):
        return f"{ROOT}/{name[len(prefix) + 1 :]}"
    return None


class _Told:
    """A member's data read from restic's dump: when the tar was cut short because restic
    failed, restic's failure (its reason) is raised, not the cut."""

    def __init__(self, data: BinaryIO, dump: Output) -> None:
        self._data, self._dump = data, dump

    def read(self, n: int = -1) -> bytes:
        try:
            return self._data.read(n)
        except CorruptArchive:
            failed = self._dump.failure()
            if failed is None:
                raise
            raise failed from None


class _Hashing:
    """A file written through sha256, counting bytes."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._f.write(data)
        self.sha.update(data)
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        self._f.flush()
