"""What the hosting operations (and backups, and the disk meter) call into this capability,
so their edits stay one line each: the limits that protect the host at create, the listing's
exit fields, the note that a stop was asked through dockerlink, and the journal events of
a backup ended (handed off by a worker) and of a disk quota crossed (in the collector)."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from ..config import Config
from ..engine import ContainerDetails
from ..ownership import LABEL
from .journal import Journal, oom_counter

__all__ = [
    "host_protection",
    "exit_fields",
    "note_request",
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


def host_protection(config: Config) -> dict[str, Any]:
    """ContainerSpec fields that keep one site from filling the host's process table or
    disk: a pids limit (0 = none) and json-file logs rotated at `log_max_size` ×
    `log_max_files`. An update (resize) leaves both as they are."""
    return {
        "pids_limit": config.pids_limit or None,
        "log_driver": "json-file",
        "log_options": {"max-size": config.log_max_size, "max-file": str(config.log_max_files)},
    }


def exit_fields(config: Config, c: ContainerDetails) -> dict[str, Any]:
    """Extra listing fields: restarts by the policy, whether the last exit was an OOM kill,
    that exit's code and time (null when it never exited), and the processes the OOM
    killer took since the container started (the engine marks only an exit as OOM-killed;
    a php-fpm killed under a living sshd shows here, from the cgroup counter the collector
    last read)."""
    last = None if c.finished_at is None else {"code": c.last_exit_code, "at": round(c.finished_at, 3)}
    fields = {"restart_count": c.restart_count, "oom_killed": c.oom_killed, "last_exit": last, "oom_kills": 0}
    if c.running and c.labels.get(LABEL) is not None:
        try:
            fields["oom_kills"] = _journal(config.events_path).counter(c.id, oom_counter(c.started_at)) or 0
        except Exception:  # noqa: BLE001 - a detail of the listing; never fail it
            log.warning("could not read the event journal", exc_info=True)
    return fields


@functools.cache
def _journal(path: str) -> Journal:
    return Journal(path)


def note_request(config: Config, container_id: str, action: str) -> None:
    """Before a stop/restart/delete reaches the engine: the journal's `stopped` then says
    `by: dockerlink`. A journal that cannot be written never fails the operation."""
    try:
        _journal(config.events_path).note_request(container_id, action)
    except Exception:  # noqa: BLE001 - the event's `by` is a detail; the stop is the job
        log.warning("could not note the %s of %s in the event journal", action, container_id[:12], exc_info=True)


def backup_events(config: Config) -> Callable[[str, str, dict], None]:
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
            _journal(config.events_path).hand_off(
                at, record.get("container") or "", name, type_, detail, key=f"backup/{record.get('backup')}"
            )
        except Exception:  # noqa: BLE001 - the backup is the job; its event a report of it
            log.warning("could not hand %s %s of %s to the event journal", type_, detail["backup"], name, exc_info=True)

    return notify


def transfer_event(config: Config, type_: str, container_id: str, name: str, detail: dict[str, Any], key: str) -> None:
    """A transfer's end (transfer_done | transfer_failed), handed off to the collector for
    the journal and the webhooks; `key` (the transfer and the host's side) makes it once.
    A journal that cannot be written never fails the transfer: the event is a log line."""
    try:
        _journal(config.events_path).hand_off(time.time(), container_id, name, type_, detail, key=key)
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
