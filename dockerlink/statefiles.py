"""Every file dockerlink keeps on disk, named once with the reason it exists, and the one way
to lock one.

`FILES` is the list (docs/architecture.md's "Which process writes which file" table names
the same files in the same order; a test compares them). Each name is written as the docs
write it, and the path is made from that name: `<stats_db>` is the stats file's absolute
path, `<state_dir>` its directory, `events_db`, `create_lock` and `backup_dir` the settings,
`<name>` a site and `<time>` a UTC stamp; so the list and the paths cannot drift apart.

Locks are `flock`s on a file of their own (`acquire`, `locked`): held by one open file
description, so they exclude other threads of the same process as well as other
processes, and a process that dies lets go of them with its descriptors.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .config import Config

__all__ = ["FILES", "StateFile", "StateFiles", "acquire", "locked"]


@dataclass(frozen=True)
class StateFile:
    name: str  # as docs/architecture.md writes it
    why: str


Key = Literal[
    "stats",
    "revoked",
    "collector_lock",
    "heal_lock",
    "corrupt",
    "forget",
    "jobs",
    "disk",
    "quotas",
    "quotas_lock",
    "events",
    "tls",
    "certbot_lock",
    "create_lock",
    "backup",
    "site_lock",
    "last_backup",
    "schedule",
    "retention",
    "restic_cache",
    "restic_lock",
    "restic_spool",
    "restores",
    "transfer_out",
    "transfer_in",
    "git_execs",
]

FILES: dict[str, StateFile] = {
    "stats": StateFile("stats_db", "samples and tiers: the stats history"),
    "revoked": StateFile(
        "<stats_db>.revoked", "scoped-token revocations, apart from the stats file: healing that one keeps them"
    ),
    "collector_lock": StateFile("<stats_db>.lock", "one collector per state directory: a second one waits"),
    "heal_lock": StateFile("<stats_db>.heal.lock", "one process at a time moves a corrupt stats file aside"),
    "corrupt": StateFile("<stats_db>.corrupt-<time>", "a corrupt stats file moved aside, kept for the operator"),
    "forget": StateFile(
        "<stats_db>.forget", "an earlier version's queue of histories to drop (now a hand-off): drained once"
    ),
    "jobs": StateFile("<stats_db>.jobs.json", "each collector job's state, for /v1/health"),
    "disk": StateFile("<stats_db>.disk.json", "each site's last disk measure"),
    "quotas": StateFile(
        "<stats_db>.quotas.json", "an earlier version's disk quotas (now hand-offs): carried over once"
    ),
    "quotas_lock": StateFile("<stats_db>.quotas.json.lock", "one worker at a time carries those quotas over"),
    "events": StateFile("events_db", "the events journal and the webhook outbox"),
    "tls": StateFile("<state_dir>/dockerlink-tls/", "certbot's outcome per site"),
    "certbot_lock": StateFile("<state_dir>/dockerlink-tls/.certbot.lock", "one certbot run at a time on the host"),
    "create_lock": StateFile("create_lock", "checking a port area and creating the container as one step"),
    "backup": StateFile("backup_dir/<name>/<backup>.tar.zst", "a backup archive, beside its .json record"),
    "site_lock": StateFile("backup_dir/<name>/.lock", "one backup or restore of a site at a time"),
    "last_backup": StateFile(
        "<stats_db>.last-backup.json", "each site's last good backup, for the listing and /metrics"
    ),
    "schedule": StateFile("<stats_db>.schedule.json", "when the backup schedule last handled each site"),
    "retention": StateFile("<stats_db>.retention.json", "when the retention policy last ran"),
    "restic_cache": StateFile("<state_dir>/restic/cache/", "restic's cache (`--cache-dir`), not root's home"),
    "restic_lock": StateFile(
        "<state_dir>/restic/<repository>.lock",
        "one flock per repository (a hash of it): shared for backup and dump, exclusive for forget, prune, check",
    ),
    "restic_spool": StateFile(
        "backup_dir/<name>/.<backup>.<random>.tar.zst.restic",
        "a restic backup written out as a zstd tar for a download, removed after (a restore streams restic dump)",
    ),
    "restores": StateFile("backup_dir/.restores/", "a restore's progress, to finish or undo it after a crash"),
    "transfer_out": StateFile(
        "backup_dir/.transfers/out-<name>.json",
        "a transfer from this host: its journal (`.lock` held for its life, `.pass<N>.tar.zst` spooled)",
    ),
    "transfer_in": StateFile(
        "backup_dir/.transfers/in-<transfer>.json", "a transfer to this host: its receipt (`.pass<N>.tar.zst` received)"
    ),
    "git_execs": StateFile(
        "<stats_db>.git-execs/",
        "a mark per git exec running in a container: the exit looks for orphans only there, not in every site",
    ),
}


class StateFiles:
    """The paths of this service's files (`of(config)`), or of those beside one stats file
    (`StateFiles(stats_db=…)`) or under one backup directory (`StateFiles(backup_dir=…)`)."""

    def __init__(
        self,
        *,
        stats_db: str | None = None,
        events_db: str | None = None,
        create_lock: str | None = None,
        backup_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._roots = {
            "<stats_db>": None if stats_db is None else os.path.abspath(stats_db),
            "stats_db": stats_db,
            "<state_dir>": None if stats_db is None else str(Path(stats_db).resolve().parent),
            "events_db": events_db,
            "create_lock": create_lock,
            "backup_dir": None if backup_dir is None else str(backup_dir),
        }

    @classmethod
    def of(cls, config: Config) -> StateFiles:
        return cls(
            stats_db=config.stats_db,
            events_db=config.events_path,
            create_lock=config.create_lock,
            backup_dir=config.backup_dir,
        )

    def path(self, key: Key, **parts: str) -> str:
        """The file `FILES[key]` names, `parts` filling its `<name>`, `<backup>`, `<time>`."""
        name = FILES[key].name
        root = next(r for r in self._roots if name == r or name.startswith((f"{r}.", f"{r}/")))
        if self._roots[root] is None:
            raise ValueError(f"{name}: no {root.strip('<>')} given")
        path = str(self._roots[root]) + name[len(root) :]
        for part, value in parts.items():
            if "/" in value or value in ("", ".", ".."):
                raise ValueError(f"{part}: not a file name")
            path = path.replace(f"<{part}>", value)
        if "<" in path[len(str(self._roots[root])) :]:
            raise ValueError(f"{name}: a part is missing")
        return path.rstrip("/")


def acquire(path: str | os.PathLike[str], *, wait: bool = True, mode: int = 0o644, shared: bool = False) -> int:
    """An exclusive lock on `path` (made if missing; `shared`: one that other shared holders
    may hold too): a descriptor that `os.close` releases, from any thread. Not `wait`ing, a
    lock held elsewhere raises BlockingIOError."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, mode)
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | (0 if wait else fcntl.LOCK_NB))
    except BaseException:
        os.close(fd)
        raise
    return fd


@contextmanager
def locked(path: str | os.PathLike[str], *, wait: bool = True, mode: int = 0o644) -> Iterator[None]:
    """Hold the lock on `path` for the block (see `acquire`)."""
    fd = acquire(path, wait=wait, mode=mode)
    try:
        yield
    finally:
        os.close(fd)
