"""Which containers may have a git exec of this service running: one empty file per exec
while it runs (`<stats_db>.git-execs/<container id>.<random>`), made by the worker before the
exec starts and removed when it ends.

Why: at gunicorn's exit the execs that outlived their worker are found and killed
(`orphans`). Asking the engine meant inspecting every running dockerlink container (about
40 s with 1000 sites); a worker that dies mid-exec leaves its mark, so the marks name every
container such an exec can be in, and the exit inspects only those.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["ExecMarks"]


class ExecMarks:
    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self._dir = Path(directory)

    @contextmanager
    def held(self, container_id: str) -> Iterator[None]:
        """A mark for `container_id` while the block runs (an exec in it); kept if the block
        raises: the exec may run on (its stream broke, say), and a mark too many costs the
        exit one inspect."""
        if "/" in container_id or container_id.startswith("."):
            raise ValueError(f"{container_id!r}: not a container id")
        self._dir.mkdir(mode=0o700, exist_ok=True)
        mark = self._dir / f"{container_id}.{secrets.token_hex(6)}"
        os.close(os.open(mark, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        yield
        mark.unlink(missing_ok=True)

    def containers(self) -> set[str]:
        """The containers with a mark (an exec running, or left by a worker that died)."""
        try:
            names = os.listdir(self._dir)
        except FileNotFoundError:
            return set()
        return {name.rsplit(".", 1)[0] for name in names if "." in name and not name.startswith(".")}

    def clear(self) -> None:
        """Every mark goes (at the exit, once the workers are gone and their execs stopped)."""
        for container in self.containers():
            for mark in self._dir.glob(f"{container}.*"):
                mark.unlink(missing_ok=True)
