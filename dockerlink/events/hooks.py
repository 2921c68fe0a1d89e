"""The journal events other capabilities report, each built around the journal it is given
(`Services.journal` in a worker, the collector's own there): a backup ended (handed off by
the worker that ran it) and a disk quota crossed (journaled by the collector's meter)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from .journal import Journal

__all__ = [
    "backup_events",
    "disk_events",
    "transfer_event",
    "BACKUP_TYPES",
    "TRANSFER_TYPES",
    "DISK_TYPES",
]

#: Journal event types of backups (handed off by the worker that ran one) and of disk quotas.
BACKUP_TYPES = ("backup_done", "backup_failed")
DISK_TYPES = ("disk_over", "disk_ok")
#: Journal event types of a site moving between hosts, on both hosts (dockerlink.transfer).
TRANSFER_TYPES = ("transfer_done", "transfer_failed")

log = logging.getLogger("dockerlink.events")


def backup_events(journal: Journal) -> Callable[[str, str, dict], None]:
    """`Backups`' notify: (backup_done | backup_failed, site name, the backup's record) →
    handed off to the collector, which journals it (the journal keeps one writer). A journal
    that cannot be written never fails the backup: the event is then a log line."""

    def notify(type_: str, name: str, record: dict[str, Any]) -> None:
        detail = {"backup": record.get("backup"), "kind": record.get("kind")}
        if type_ == "backup_done":
            detail.update(size=record.get("size"), sha256=record.get("sha256"))
        else:
            detail["error"] = record.get("error")
        at = record.get("finished") or time.time()
        try:
            journal.hand_off(
                at, record.get("container") or "", name, type_, detail, key=f"backup/{record.get('backup')}"
            )
        except Exception:  # noqa: BLE001 - the backup is the job; its event a report of it
            log.warning("could not hand %s %s of %s to the event journal", type_, detail["backup"], name, exc_info=True)

    return notify


def transfer_event(
    journal: Journal | None, type_: str, container_id: str, name: str, detail: dict[str, Any], key: str
) -> None:
    """A transfer's end (transfer_done | transfer_failed), handed off to the collector for
    the journal and the webhooks; `key` (the transfer and the host's side) makes it once.
    A journal that cannot be written never fails the transfer: the event is a log line."""
    if journal is None:
        return
    try:
        journal.hand_off(time.time(), container_id, name, type_, detail, key=key)
    except Exception:  # noqa: BLE001 - the move is the job; its event a report of it
        log.warning("could not hand %s of %s to the event journal", type_, name, exc_info=True)


def disk_events(journal: Journal) -> Callable[[str, str, dict], None]:
    """The disk meter's notify (in the collector, the journal's writer): (disk_over |
    disk_ok, container id, {name, used, quota}) → a journal event, used and quota in GiB."""

    def notify(type_: str, container_id: str, details: dict[str, Any]) -> None:
        detail = {"used": details.get("used"), "quota": details.get("quota")}
        try:
            journal.append(time.time(), container_id, details.get("name", ""), type_, detail)
        except Exception:  # noqa: BLE001 - the meter must go on measuring
            log.warning("could not journal %s of %s", type_, container_id[:12], exc_info=True)

    return notify
