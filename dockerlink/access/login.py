"""Set the site owner's password hash and SSH keys in a container, running or not.

Through the engine's archive endpoint, never exec: the password is hashed here and the hash
is written into /etc/shadow, so neither reaches any process's argv, environment or the
container's config, and a container that is only created (not started) can be set too.
/etc/passwd and /etc/shadow belong to the container's root: each is read with a cap
(`engine.archives`'s 1 MiB), past which the request is a 409, not a worker's memory.

A container just created (never started) holds its image's files: for one, they are read
once per image id and kept (`fresh_from`), so a create writes the login in one engine
call instead of three (each archive call mounts the container's file system).
"""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..engine import AnswerTooLarge, Engine, NotFound
from ..errors import Conflicting
from .credentials import Credentials
from .sha512crypt import new_salt, sha512_crypt

__all__ = ["USER", "Account", "Login", "MissingUser", "replace_hash", "find_user", "key_ids", "site_account"]

USER = "admin"
#: Images whose /etc/passwd and /etc/shadow a worker keeps (each file at most 1 MiB).
IMAGES_KEPT = 8


class MissingUser(Conflicting):
    """409: the container's image has no `admin` user."""


class OversizedFile(Conflicting):
    """409: a file read whole (/etc/passwd, /etc/shadow) is past its cap."""


@dataclass(frozen=True)
class Account:
    uid: int
    gid: int
    home: str


def find_user(passwd: str, user: str) -> Account | None:
    """The user's uid, gid and home from /etc/passwd text."""
    for line in passwd.splitlines():
        fields = line.split(":")
        if len(fields) >= 7 and fields[0] == user and fields[2].isdigit() and fields[3].isdigit():
            return Account(int(fields[2]), int(fields[3]), fields[5])
    return None


def site_account(engine: Engine, container_id: str) -> Account | None:
    """The site owner's (`admin`) uid, gid and home in the container, running or not; None
    when its image has no such user."""
    return _account_from(lambda path: read_capped(engine, container_id, path))


def _account_from(read: Callable[[str], tuple[tarfile.TarInfo, bytes]]) -> Account | None:
    try:
        _, passwd = read("/etc/passwd")
    except NotFound:
        passwd = b""
    return find_user(passwd.decode(errors="replace"), USER)


def read_capped(engine: Engine, container_id: str, path: str) -> tuple[tarfile.TarInfo, bytes]:
    """One file of the container, read with the archive's cap (a site's root can grow it)."""
    try:
        return _member(engine.archives.get(container_id, path))
    except AnswerTooLarge:
        raise OversizedFile(
            f"the container's {path} is over 1 MiB: dockerlink does not read it (a normal one is a few KiB)"
        ) from None


def replace_hash(shadow: str, user: str, hashed: str, today: int) -> str:
    """/etc/shadow text with `user`'s hash (and last-change day) replaced."""
    lines = shadow.splitlines()
    for i, line in enumerate(lines):
        fields = line.split(":")
        if len(fields) >= 3 and fields[0] == user:
            fields[1] = hashed
            fields[2] = str(today)
            lines[i] = ":".join(fields)
            return "\n".join(lines) + "\n"
    raise Conflicting(f"the container's /etc/shadow has no user {user}")


def key_ids(lines: Iterable[str]) -> set[str]:
    """Each key line's first two fields: what the key is, whatever its comment says."""
    return {" ".join(line.split()[:2]) for line in lines if line.strip() and not line.lstrip().startswith("#")}


def _member(tar_bytes: bytes) -> tuple[tarfile.TarInfo, bytes]:
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        info = next(m for m in tar.getmembers() if m.isfile())
        data = tar.extractfile(info).read()  # type: ignore[union-attr]
    return info, data


def _tar(entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _entry(name: str, mode: int, account: Account, data: bytes | None = None) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.mode, info.uid, info.gid, info.mtime = mode, account.uid, account.gid, int(time.time())
    if data is None:
        info.type = tarfile.DIRTYPE
    else:
        info.size = len(data)
    return info, data


class Login:
    """The `admin` user's password and authorized_keys in one container."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._image_files: dict[tuple[str, str], tuple[tarfile.TarInfo, bytes]] = {}

    def apply(self, container_id: str, creds: Credentials, fresh_from: str | None = None) -> None:
        """`fresh_from`: the image id of a container created from it and never started
        since, whose /etc files are then that image's (read once per image)."""
        if creds.empty:
            return
        account = self._account(container_id, fresh_from)
        if creds.password is not None:
            self._set_hash(container_id, sha512_crypt(creds.password, new_salt()), fresh_from)
        if creds.ssh_keys is not None:
            keys = "".join(k + "\n" for k in creds.ssh_keys).encode()
            self.engine.archives.put(
                container_id,
                account.home,
                _tar([_entry(".ssh", 0o700, account), _entry(".ssh/authorized_keys", 0o600, account, keys)]),
            )

    def password_hash(self, container_id: str) -> str | None:
        """The owner's hash as /etc/shadow holds it (moving a site keeps the login, never
        knowing the password); None when the file has no such user."""
        _, shadow = self._read(container_id, "/etc/shadow")
        for line in shadow.decode(errors="replace").splitlines():
            fields = line.split(":")
            if len(fields) >= 3 and fields[0] == USER:
                return fields[1]
        return None

    def set_password_hash(self, container_id: str, hashed: str) -> None:
        """Write a hash taken from another container (`password_hash`), checked by the caller."""
        self._account(container_id)
        self._set_hash(container_id, hashed)

    def key_lines(self, container_id: str) -> list[str]:
        """The authorized_keys lines as written (blank and comment lines left out)."""
        account = self._account(container_id)
        try:
            _, data = self._read(container_id, f"{account.home}/.ssh/authorized_keys")
        except NotFound:
            return []
        lines = data.decode(errors="replace").splitlines()
        return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]

    def keys(self, container_id: str) -> set[str]:
        """The keys authorized now, as `<type> <base64>` (comments aside; a line with an
        options prefix is kept whole, so it never matches a key the API writes)."""
        account = self._account(container_id)
        try:
            _, data = self._read(container_id, f"{account.home}/.ssh/authorized_keys")
        except NotFound:
            return set()
        return key_ids(data.decode(errors="replace").splitlines())

    def _read(self, container_id: str, path: str, fresh_from: str | None = None) -> tuple[tarfile.TarInfo, bytes]:
        if not fresh_from:
            return read_capped(self.engine, container_id, path)
        kept = self._image_files.get((fresh_from, path))
        if kept is None:
            kept = read_capped(self.engine, container_id, path)
            if len(self._image_files) >= 2 * IMAGES_KEPT:
                self._image_files.clear()
            self._image_files[(fresh_from, path)] = kept
        return kept

    def _account(self, container_id: str, fresh_from: str | None = None) -> Account:
        account = _account_from(lambda path: self._read(container_id, path, fresh_from))
        if account is None:
            raise MissingUser(f"the container's image has no user {USER}: its password and keys cannot be set")
        return account

    def _set_hash(self, container_id: str, hashed: str, fresh_from: str | None = None) -> None:
        info, shadow = self._read(container_id, "/etc/shadow", fresh_from)
        text = replace_hash(shadow.decode(), USER, hashed, int(time.time() // 86400)).encode()
        new = tarfile.TarInfo(info.name)
        new.mode, new.uid, new.gid, new.uname, new.gname = info.mode, info.uid, info.gid, info.uname, info.gname
        new.mtime, new.size = int(time.time()), len(text)
        self.engine.archives.put(container_id, "/etc", _tar([(new, text)]))
