"""How dockerlink writes its small state files: one way, so every reader sees a whole file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: str | os.PathLike[str], text: str, *, mode: int = 0o644) -> None:
    """Replace `path` with `text` whole: written to a temporary file beside it, flushed to
    disk, then renamed over it, so a reader (another process, or this one after a crash)
    sees the old content or the new, never half. The temporary file (a dot file ending in
    `.tmp`, never matched by a `*.json` or `*.conf` reader) is removed if anything fails."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
