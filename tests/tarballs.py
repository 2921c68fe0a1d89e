"""Tar archives written member by member, for the tests that feed archives to the code."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable


def tar_of(
    *members: tuple[str, bytes | None] | tuple[str, bytes | None, float],
    extra: Iterable[tarfile.TarInfo] = (),
    format: int = tarfile.DEFAULT_FORMAT,
) -> bytes:
    """A plain tar of `members`, each (name, content) or (name, content, mtime); content
    None is a directory. `extra` (links, devices: members without content) follow them."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=format) as tar:
        for name, data, *mtime in members:
            info = tarfile.TarInfo(name)
            if mtime:
                info.mtime = mtime[0]
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return buf.getvalue()
