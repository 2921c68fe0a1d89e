"""What a restore may extract from a site archive, and how each member is written.

One set of rules for every archive, whether dockerlink made it or it was uploaded: the
engine extracts as root, so a member's path, link, owner and mode are never trusted as
they are (issue 29).

- Every member is under `www/` (no absolute path, no `..`); the first is the `www`
  directory itself, and `www` is never anything but a directory.
- Nothing is written below a symbolic link: a member (or a hard link's target) whose path
  passes through a path that was a symlink of this archive at any point — or a hard link
  to one, which is a symlink too — is refused. A symlink itself is kept: an absolute target
  as it is (resolved in the site's own container when used, never while extracting); a
  relative one must stay inside `www/` (the engine refuses one that climbs out anyway).
- Files, directories, symlinks, hard links and FIFOs only: device nodes are refused.
- Each member is rewritten as the site's user would have written it (`tar
  --no-same-owner`): owner and group the site user's, permission bits kept but setuid,
  setgid and sticky dropped, no extended attributes or ACLs (file capabilities neither).
"""

from __future__ import annotations

import tarfile
from dataclasses import dataclass

__all__ = ["CorruptArchive", "Owner", "Rules", "ROOT", "WWW", "rewritten"]

#: A site's files, which the engine archives as a tree whose top entry is its base name.
WWW = "/var/www"
ROOT = "www"
#: Symlinks an archive may hold: each is remembered (a hash) until the archive's end.
MAX_SYMLINKS = 1_000_000


class CorruptArchive(ValueError):
    """Not a zstd-compressed tar of a site's /var/www, a damaged one, or one holding a
    member a restore must not extract."""


@dataclass(frozen=True)
class Owner:
    """Who the extracted files belong to: the site's user."""

    uid: int
    gid: int


def _parts(path: str, what: str) -> list[str]:
    """`path`'s components under www/ (`.` and empty ones dropped); refused outside it."""
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if path.startswith("/") or ".." in parts or not parts or parts[0] != ROOT:
        raise CorruptArchive(f"{what} outside {ROOT}/: {path[:200]!r}")
    return parts


def _climbs_out(parts: list[str], target: str) -> bool:
    """Whether a relative symlink target, read from the link's directory, leaves www/."""
    where = parts[:-1]
    for p in target.split("/"):
        if p == "..":
            if len(where) <= 1:
                return True
            where.pop()
        elif p not in ("", "."):
            where.append(p)
    return False


class Rules:
    """Checks an archive's members in their order; remembers the symlinks seen so far."""

    def __init__(self) -> None:
        self.count = 0
        self._symlinks: set[int] = set()

    def check(self, m: tarfile.TarInfo) -> str:
        """The member's name, normalised (`www/a/b`); CorruptArchive if it is refused."""
        parts = _parts(m.name, "member")
        name = "/".join(parts)
        shown = name[:200]
        if self.count == 0 and not (len(parts) == 1 and m.isdir()):
            raise CorruptArchive(f"the archive's first member must be the {ROOT} directory, not {shown!r}")
        if len(parts) == 1 and not m.isdir():
            raise CorruptArchive(f"{ROOT} must be a directory")
        if m.ischr() or m.isblk():
            raise CorruptArchive(f"device node refused: {shown!r}")
        if not (m.isreg() or m.isdir() or m.issym() or m.islnk() or m.isfifo()):
            raise CorruptArchive(f"member of an unsupported type refused: {shown!r}")
        self._not_below_symlink(parts, "member")
        if m.issym():
            if not m.linkname.startswith("/") and _climbs_out(parts, m.linkname):
                raise CorruptArchive(f"symbolic link out of the tree: {shown!r}")
            self._remember(name)
        elif m.islnk():
            target = _parts(m.linkname, "hard link target")
            self._not_below_symlink(target, "hard link target")
            if hash("/".join(target)) in self._symlinks:
                self._remember(name)  # a hard link to a symlink is that symlink
        self.count += 1
        return name

    def _not_below_symlink(self, parts: list[str], what: str) -> None:
        for i in range(2, len(parts)):
            if hash("/".join(parts[:i])) in self._symlinks:
                raise CorruptArchive(f"{what} below a symbolic link refused: {'/'.join(parts)[:200]!r}")

    def _remember(self, name: str) -> None:
        # Hashes, not names: memory stays small. A collision can only refuse a member.
        if len(self._symlinks) >= MAX_SYMLINKS:
            raise CorruptArchive(f"more than {MAX_SYMLINKS} symbolic links")
        self._symlinks.add(hash(name))


def rewritten(m: tarfile.TarInfo, name: str, owner: Owner) -> tarfile.TarInfo:
    """The header a restore writes for checked member `m` (named `name` by `Rules.check`)."""
    out = tarfile.TarInfo(name)
    out.type = tarfile.REGTYPE if m.isreg() else m.type
    out.size = m.size if m.isreg() else 0
    out.mode = m.mode & 0o777
    out.uid, out.gid = owner.uid, owner.gid
    out.mtime = m.mtime
    if m.issym():
        out.linkname = m.linkname
    elif m.islnk():
        out.linkname = "/".join(_parts(m.linkname, "hard link target"))
    return out
