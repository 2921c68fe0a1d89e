"""The time of each site's last good backup, kept in one small file as backups end, so the
listing and `/metrics` read it in one file read (never an engine call or a walk of
`backup_dir` per request, whatever the number of sites).

`<stats_db>.last-backup.json`: container id → `{"name", "at", "backup", "target"}`, `at`
the Unix time the backup was started (its data is of that moment). A good backup is one
that finished (`done`) and was taken of that container here: manual, scheduled, or the
final one before a delete; an upload is not (its time is the upload's, not its data's).
Every process that ends a backup writes it (a worker, the collector), under a lock and
replaced whole; the retention job brings it back in line with the catalog each day (after
an upgrade, a lost file, or backups removed by hand).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..config import Config
from ..statefiles import StateFiles
from ..storage import edited_json_object, read_json_object
from .catalog import Record

__all__ = ["LastBackups", "last_backup_file", "counts", "with_last_backup"]

LOCAL = "local"


def last_backup_file(stats_db: str) -> Path:
    return Path(StateFiles(stats_db=stats_db).path("last_backup"))


def counts(r: Record) -> bool:
    """Whether `r` is a good backup of its container."""
    return r.state == "done" and r.kind != "uploaded" and bool(r.container)


class LastBackups:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def of(cls, config: Config) -> LastBackups:
        return cls(last_backup_file(config.stats_db))

    def all(self) -> dict[str, dict[str, Any]]:
        """Container id → its last good backup (`{}` before the first)."""
        return read_json_object(self.path)

    def note(self, r: Record, target: str = LOCAL) -> None:
        """A backup just ended: the container's entry if it is newer than the one noted."""
        if not counts(r):
            return
        with edited_json_object(self.path) as entries:
            before = entries.get(r.container or "")
            if before is None or before.get("at", 0) <= r.started:
                entries[r.container or ""] = _entry(r, target)

    def refresh(self, name: str, records: Iterable[Record], target: str = LOCAL) -> None:
        """Bring the entries of `target` for the containers listed under `name` in line with
        its `records` (after backups were removed): each container's newest good one, or no
        entry. Written only when something differs."""
        newest: dict[str, Record] = {}
        for r in records:
            if counts(r) and (r.container not in newest or newest[r.container].started <= r.started):
                newest[r.container or ""] = r
        current = self.all()
        if _refreshed(dict(current), name, newest, target) == current:
            return
        with edited_json_object(self.path) as entries:
            _refreshed(entries, name, newest, target)


def _refreshed(entries: dict[str, Any], name: str, newest: dict[str, Record], target: str) -> dict[str, Any]:
    for cid in [c for c, e in entries.items() if e.get("name") == name and e.get("target") == target]:
        if cid not in newest:
            del entries[cid]
    for cid, r in newest.items():
        before = entries.get(cid)
        if before is None or before.get("target") == target or before.get("at", 0) <= r.started:
            entries[cid] = _entry(r, target)
    return entries


def _entry(r: Record, target: str) -> dict[str, Any]:
    return {"name": r.name, "at": int(r.started), "backup": r.backup, "target": target}


def with_last_backup(listing: dict[str, Any], last: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A listing's entries with `last_backup`: the Unix time of the site's last good
    backup, or null when it has none."""
    for entry in listing.get("success", {}).values():
        noted = last.get(entry.get("id") or "")
        entry["last_backup"] = noted.get("at") if isinstance(noted, dict) else None
    return listing
