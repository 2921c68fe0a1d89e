"""The jobs' states, written by the collector process at each change, read by /v1/health in
every worker: one small JSON file beside the stats database (`<stats_db>.jobs.json`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..statefiles import StateFiles
from ..storage import write_atomically

__all__ = ["status_file", "write_status", "read_status", "DEAD"]

#: The state of a job that raised or ended by itself, until it is running again.
DEAD = "dead"


def status_file(stats_db: str) -> Path:
    return Path(StateFiles(stats_db=stats_db).path("jobs"))


def write_status(path: Path, jobs: dict[str, dict[str, Any]]) -> None:
    """Replace the file whole (a reader never sees half of it)."""
    write_atomically(path, json.dumps({"pid": os.getpid(), "jobs": jobs}, sort_keys=True))


def read_status(path: Path) -> dict[str, dict[str, Any]]:
    """Each job's state by name; `{}` when no collector wrote the file (yet)."""
    try:
        jobs = json.loads(path.read_text()).get("jobs")
    except (OSError, ValueError, AttributeError):
        return {}
    return jobs if isinstance(jobs, dict) else {}
