"""Restore in place: the site keeps its container (and id); /var/www ends up holding exactly
the archive's tree, or — if anything stops half-way, the service included — exactly what it
held before. Never a mix.

How: the site is stopped; the archive is extracted by the engine (PUT archive) into a
staging directory on the same volume, `/var/www/.dockerlink-restore/www`, each member
checked and rewritten on the way (archive.py, members.py: the site user's files, nothing
written through a link, at most `restore_max_expanded` or the site's disk quota); only once
the whole archive is there and its sha256 checked is a `commit` marker written. From the
marker on, the swap rolls forward (move the old tree aside, move the new one in, drop the
old); without it, the staging directory is dropped. The swap and the clean-up are one
idempotent script run in a short-lived helper container that mounts the volume, so running
it again after a crash, at any point, finishes the job. A journal in `backup_dir/.restores`
names the restores in flight; `recover()` (at service start) runs the script for each and
starts the site again if it was running.

With a local engine (`hostdir.LocalVolumes`), the staging directory, the extraction and
the swap are done on the volume's directory on this host instead (hostrestore.py: the same
steps and on-disk states, nothing followed through a link), without the engine's archive
endpoint or a helper container: the script still finishes or rolls back after a crash.

A restic backup's members come straight from `restic dump` (targets.py `restored`: one
pass, no file written out first) into the same checks and extraction. restic is started
and its first member read while the site still runs (an unreachable repository or a
missing snapshot changes nothing); its exit status, in place of the sha256, is known once
the last member is taken, before the swap: a dump that fails or is cut leaves the site's
files as they were.
"""

from __future__ import annotations

import json
import logging
import tarfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from itertools import chain
from pathlib import Path
from typing import BinaryIO

from ..access import site_account
from ..config import Config
from ..engine import ContainerDetails, ContainerSpec, Engine, EngineError, NotFound
from ..errors import BackupFailed, Conflicting, Forbidden, TooLarge
from ..jobs import Job
from ..statefiles import StateFiles
from ..storage import write_atomically
from ..timings import step
from .archive import CorruptArchive, Oversized, restored_members, sent_tar
from .catalog import Catalog, Record
from .disk import GIB, Quotas
from .hostdir import LocalVolumes
from .hostrestore import SET_ASIDE, STAGING, HostRestore, aside_name
from .members import Owner
from .restic import ResticError
from .service import WWW, restic_failures
from .targets import restic_target

__all__ = ["Restorer", "SWAP_SCRIPT", "HELPER_LABEL", "recovery_job", "run_on_volume"]

log = logging.getLogger("dockerlink.backups")

#: A restore's members, checked and rewritten, each with a reader of a file's data.
Members = Iterable[tuple[tarfile.TarInfo, BinaryIO | None]]

HELPER_LABEL = "dockerlink.restore"
#: One script, three phases: `prepare` (finish any earlier restore, then a fresh staging
#: directory), `commit` (mark, then swap) and `recover` (swap if marked, else drop staging).
#: Each step can be re-run after a crash at any point.
SWAP_SCRIPT = r"""
set -eu
cd /var/www
S=.dockerlink-restore
if [ -d "$S" ] && [ "$1" = commit ] && [ -d "$S/www" ]; then sync; : > "$S/commit"; sync; fi
if [ -f "$S/commit" ]; then
  if [ ! -f "$S/moved" ]; then
    mkdir -p "$S/old"
    for f in * .[!.]* ..?*; do
      if [ -e "$f" ] || [ -L "$f" ]; then [ "$f" = "$S" ] || mv -f -- "$f" "$S/old/"; fi
    done
    : > "$S/moved"; sync
  fi
  for f in "$S"/www/* "$S"/www/.[!.]* "$S"/www/..?*; do
    if [ -e "$f" ] || [ -L "$f" ]; then mv -f -- "$f" ./; fi
  done
  chown "$(stat -c %u:%g "$S/www")" . ; chmod "$(stat -c %a "$S/www")" .
  sync
fi
rm -rf -- "$S"
if [ "$1" = prepare ]; then mkdir -m 700 "$S"; fi
"""


class Restorer:
    def __init__(self, engine: Engine, catalog: Catalog, config: Config) -> None:
        self.engine = engine
        self.catalog = catalog
        self.config = config
        self.journal = Path(StateFiles(backup_dir=catalog.root).path("restores"))
        self.volumes = LocalVolumes(engine)

    def restore(self, c: ContainerDetails, backup: str, source: str | None = None, *, scoped: bool = False) -> bool:
        """Restore `backup` into the site (`find` says which backups may be); True when the
        site was running (and is again)."""
        record = self.find(c, backup, source, scoped=scoped)
        volume = c.volumes.get(WWW)
        if not volume:
            raise Conflicting(f"{c.name} has no /var/www volume to restore into")
        owner, (limit, which) = self._owner(c), self._limit(c)
        if record.read > limit:  # known beforehand: refused before the site is stopped
            raise TooLarge(f"restore of {c.name} from {backup} refused: {Oversized(limit)} ({which})")
        what = f"restore of {c.name} from {backup}"
        with self.catalog.locked(c.name), self._members(record, owner, limit, what, which) as members:
            entry = {
                "container": c.id,
                "name": c.name,
                "volume": volume,
                "image": c.image,
                "running": c.running,
                "backup": backup,
                "phase": "stopping",
                "at": time.time(),
            }
            self._journal(entry)
            directory = self.volumes.directory(volume)
            host = HostRestore(directory) if directory is not None else None
            if c.running:
                with step("stop"):
                    self.engine.containers.stop(c.id, t=10)
            try:
                with step("prepare"):
                    if host is None or not host.prepare():
                        self._helper(entry, "prepare")
                entry["phase"] = "extracting"
                self._journal(entry)
                with step("extract"):  # every member taken: the sha256 or restic's exit 0 checked
                    if host is not None:
                        host.extract(members, writers=record.target != "restic")
                    else:
                        self._extract(c, members)
                entry["phase"] = "swapping"
                self._journal(entry)
                with step("swap"):
                    if host is not None:
                        host.commit()
                    else:
                        self._helper(entry, "commit")
            except Exception as exc:
                refused = _refused(exc, what, which)
                if refused is None:
                    raise
                self._abandon(entry)
                raise refused from None
            with step("start"):
                self._finish(entry, host)
        return c.running

    def find(self, c: ContainerDetails, backup: str, source: str | None = None, *, scoped: bool = False) -> Record:
        """The finished backup to restore into `c`. Its own: taken from (or uploaded for) `c`,
        by full id, never by name. Any other (an earlier site's of the same name, another
        site's, an upload for no site) only on the panel's word: `source`, the site name it
        is listed under. A scoped token never restores another's (403); the panel without
        `source` is told to name it (409)."""
        if source is not None and scoped:
            raise Forbidden("from: a scoped token restores only its own container's backups")
        record = self.catalog.done(source or c.name, backup)
        if source is None and record.container != c.id:
            if scoped:
                raise Forbidden(f"backup {backup} is not this container's")
            whose = f"container {record.container[:12]}" if record.container else "no container (an upload)"
            raise Conflicting(
                f"backup {backup} belongs to {whose}, not to {c.name}: restore it with from={record.name}"
            )
        return record

    def recover(self) -> list[str]:
        """Finish or roll back every restore a stopped service left in flight; the names."""
        done = []
        for path in sorted(self.journal.glob("*.json")) if self.journal.is_dir() else []:
            try:
                entry = json.loads(path.read_text())
                with self.catalog.locked(entry["name"], wait=True):
                    if entry.get("phase") == "dropping":
                        self._recover_drop(path, entry)
                        continue
                    self._remove_helpers(entry)
                    self._helper(entry, "recover")
                    self._finish(entry)
                done.append(entry["name"])
                log.warning("restore of %s (%s) was interrupted: recovered", entry["name"], entry["backup"])
            except NotFound:
                path.unlink(missing_ok=True)  # the site is gone
            except (EngineError, ValueError, KeyError, OSError) as exc:
                log.error("cannot recover the restore journalled in %s: %s", path.name, exc)
        return done

    def _recover_drop(self, path: Path, entry: dict) -> None:
        """A set-aside old tree a stopped service left: removed (it may not have been renamed
        yet: then the restore's own entry finishes the staging directory)."""
        directory = self.volumes.directory(entry["volume"])
        if directory is not None and entry.get("aside"):
            HostRestore(directory).remove(entry["aside"])
        path.unlink(missing_ok=True)

    # -- reading the archive -------------------------------------------------------------------

    def _owner(self, c: ContainerDetails) -> Owner:
        """The site user, who owns every restored file whatever the archive says."""
        account = site_account(self.engine, c.id)
        if account is None:
            raise Conflicting(f"the image of {c.name} has no user admin to own the restored files")
        return Owner(account.uid, account.gid)

    def _limit(self, c: ContainerDetails) -> tuple[int, str]:
        """Plain bytes a restore may extract into the site, and which setting says so."""
        quota = Quotas(self.config).all().get(c.id)
        if quota and quota * GIB < self.config.restore_max_expanded:
            return int(quota * GIB), f"the site's disk quota, {quota:g} GiB"
        return self.config.restore_max_expanded, "restore_max_expanded"

    @contextmanager
    def _members(self, record: Record, owner: Owner, limit: int, what: str, which: str) -> Iterator[Members]:
        """The backup's members as the restore writes them: a local one's file read and
        checked (its sha256 at the end); a restic one's straight from `restic dump`, whose
        first member is read here, while the site still runs (restic reached the repository
        and found the snapshot), and whose exit status is checked after the last."""
        if record.target != "restic":
            path = str(self.catalog.archive_path(record.name, record.backup))
            yield restored_members(path, record.sha256, owner, limit)
            return
        source = f"restore of {record.name} from {record.backup}"
        with restic_failures(source):
            restic = restic_target(self.engine, self.config, self.catalog)  # 409 where not set up
        with closing(restic.restored(record, owner, limit)) as members:  # closed early: restic killed
            try:
                with step("restic dump started"), restic_failures(source):
                    first = next(members)
            except (CorruptArchive, Oversized) as exc:
                raise _refused(exc, what, which) from None
            yield chain([first], members)

    def _extract(self, c: ContainerDetails, members: Members) -> None:
        """The members into the staging directory through the engine; what went wrong
        reading them wins over what the engine made of the stream cut short."""
        errors: list[Exception] = []
        try:
            self.engine.containers.put_archive(c.id, f"{WWW}/{STAGING}", sent_tar(members, errors))
        except EngineError:
            if not errors:
                raise
        if errors:
            raise errors[0]

    # -- steps ---------------------------------------------------------------------------------

    def _journal(self, entry: dict, key: str | None = None) -> None:
        self.journal.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.journal / f"{key or entry['container']}.json"
        write_atomically(path, json.dumps(entry))

    def _abandon(self, entry: dict) -> None:
        try:
            self._helper(entry, "recover")
            self._finish(entry)
        except EngineError as exc:  # the journal stays: recover() finishes at the next start
            log.error("restore of %s: cannot clean up now (%s); left for the next start", entry["name"], exc)

    def _finish(self, entry: dict, host: HostRestore | None = None) -> None:
        """Start the site again if it ran; set a host restore's staging directory (the old
        tree) aside, journalled on its own; then the restore's journal entry goes and the
        old tree is removed by a thread of this process, after the answer (`_remove`)."""
        if entry["running"]:
            self.engine.containers.start(entry["container"])
        if host is not None:
            with step("old tree set aside"):
                aside = aside_name()
                drop = {**entry, "running": False, "phase": "dropping", "aside": aside, "at": time.time()}
                key = f"drop-{entry['container']}-{aside[len(SET_ASIDE) :]}"
                self._journal(drop, key)  # before the rename: a crash after it never loses the tree
                try:
                    fd = host.set_aside(aside)
                except OSError as exc:
                    log.warning("restore of %s: old tree not set aside (%s); removed now", entry["name"], exc)
                    host.drop()
                    (self.journal / f"{key}.json").unlink()
                    host = None
        (self.journal / f"{entry['container']}.json").unlink(missing_ok=True)
        if host is not None:
            threading.Thread(
                target=self._remove, args=(host, aside, fd, key), name=f"restore-drop-{entry['name']}", daemon=True
            ).start()

    def _remove(self, host: HostRestore, aside: str, fd: int, key: str) -> None:
        """Delete a set-aside old tree, then its journal entry (a crash before: `recover`)."""
        try:
            host.remove(aside, fd)
        except OSError as exc:  # the entry stays: the next start removes it
            log.error("old tree %s in %s not removed (%s); left for the next start", aside, host.directory, exc)
            return
        (self.journal / f"{key}.json").unlink(missing_ok=True)

    def _helper(self, entry: dict, phase: str) -> None:
        """Run SWAP_SCRIPT's `phase` in a throw-away container mounting the site's volume."""
        labels = {HELPER_LABEL: entry["container"]}
        code = run_on_volume(self.engine, entry["image"], entry["volume"], SWAP_SCRIPT, (phase,), labels)
        if code != 0:
            raise BackupFailed(f"the restore step {phase} exited {code}")

    def _remove_helpers(self, entry: dict) -> None:
        for s in self.engine.containers.list(all=True, filters={"label": [f"{HELPER_LABEL}={entry['container']}"]}):
            self.engine.containers.remove(s.id, force=True)


def _refused(exc: Exception, what: str, which: str) -> Exception | None:
    """The answer to a restore that failed with `exc` and left the site unchanged (None: not
    a failure of the archive, the engine or restic; raised as it is)."""
    if isinstance(exc, Oversized):
        return TooLarge(f"{what} refused, the site is unchanged: {exc} ({which})")
    if isinstance(exc, ResticError):
        return BackupFailed(f"{what} failed, the site is unchanged: restic: {exc}")
    if isinstance(exc, (EngineError, CorruptArchive, BackupFailed)):
        return BackupFailed(f"{what} failed, the site is unchanged: {exc}")
    return None


def run_on_volume(
    engine: Engine, image: str, volume: str, script: str, args: tuple[str, ...], labels: dict[str, str]
) -> int:
    """Run `sh -c script` with `args` in a throw-away container of `image` mounting `volume`
    at /var/www (running or not, its site is never exec'd into); its exit code. It joins no
    network: it needs none, and so it can reach neither the sites nor the host."""
    spec = ContainerSpec(
        image=image,
        network="none",
        entrypoint=("/bin/sh", "-c", script, "dockerlink-helper"),
        cmd=args,
        labels=labels,
        volumes={volume: WWW},
    )
    helper, _ = engine.containers.create(spec)
    try:
        engine.containers.start(helper)
        return engine.containers.wait(helper)
    finally:
        try:
            engine.containers.remove(helper, force=True)
        except NotFound:
            pass


def recovery_job(config: Config, engine: Engine) -> Job:
    """Recover interrupted restores once, as a job of the background process (one per
    service, started with it; never in gunicorn's master, which forks workers)."""
    return Job(
        "restore-recovery",
        lambda wait: Restorer(engine, Catalog(config.backup_dir), config).recover(),
        engine=engine,
        once=True,
    )
