"""The receiving side of a transfer (on host B): mint the token, make the site, take its
files, start it; or remove everything it made.

Each transfer has a receipt, `backup_dir/.transfers/in-<transfer id>.json`, written at
each step: `minted` (a token exists), `receiving` (the container exists, not started),
`committed` (the site is B's). Until `committed`, an abort (the sender's DELETE, or the
transfer keeper once the token has expired) removes the container, its volume and its
nginx file, and nothing else of the site is on B. Files arrive as the backups' zstd tar,
written to a file and checked member by member first (`backups.receive_archive`), then
extracted as a restore extracts (`backups.archive.read_plain`: each member rewritten as the
site user's), straight into the new site's /var/www: nothing there is anyone's yet.
"""

from __future__ import annotations

import io
import json
import logging
import re
import tarfile
import time
from pathlib import Path
from typing import Any, BinaryIO

from ..access import Credentials, site_account
from ..access.login import Login
from ..backups.archive import read_plain
from ..backups.disk import GIB, Quotas
from ..backups.members import Owner, Rules
from ..backups.restore import run_on_volume
from ..backups.service import receive_archive
from ..config import Config
from ..engine import Engine, EngineError, NotFound
from ..errors import BackupFailed, Conflicting, InvalidInput, NoSuchTransfer
from ..events.hooks import transfer_event
from ..hosting import NAME_PATTERN, Hosting, port_root, volume_name
from ..hosting.ports import MIN_ROOT, max_root, overlaps
from ..ownership import LABEL
from ..statefiles import StateFiles
from ..storage import write_atomically
from ..tokens import MAX_TTL, Grant
from .site import SiteSpec, parse_spec

__all__ = ["Receiver", "free_root", "read_states", "transfers_dir"]

log = logging.getLogger("dockerlink.transfer")

_NAME = re.compile(NAME_PATTERN)
#: Where a pass's deletions are put in the new site's volume for the helper that applies them.
_REMOVED = ".dockerlink-transfer-removed"
#: Reads the NUL-separated names under www/ from the list and removes each, then the list.
REMOVE_SCRIPT = rf"""
set -eu
cd /var
xargs -0 -r rm -rf -- < www/{_REMOVED}
rm -f -- www/{_REMOVED}
"""
HELPER_LABEL = "dockerlink.transfer"


def transfers_dir(config: Config) -> Path:
    path = Path(StateFiles.of(config).path("transfer_in", transfer="x")).parent
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def read_states(config: Config, pattern: str) -> list[dict[str, Any]]:
    """Every state file of `transfers_dir` matching `pattern`, in name order (one being
    replaced right now, or unreadable, is left out: it is read at the next look)."""
    out = []
    for path in sorted(transfers_dir(config).glob(pattern)):
        try:
            out.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue
    return out


def free_root(taken: list[int], wanted: int, size: int) -> int | None:
    """`wanted` when its area is free, else the lowest free multiple of `size` (as the
    panels lay their areas out); None when no area is free."""
    candidates = [wanted] + [r for r in range(size, max_root(size) + 1, size) if r >= MIN_ROOT]
    return next((r for r in candidates if not any(overlaps(r, t, size) for t in taken)), None)


def _site_name(value: object) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidInput("name", "expected [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most 128 characters")
    return value


class Receiver:
    def __init__(self, engine: Engine, config: Config, hosting: Hosting) -> None:
        self.engine = engine
        self.config = config
        self.hosting = hosting
        self.login = Login(engine)

    # -- receipts --------------------------------------------------------------------------

    def _path(self, transfer_id: str) -> Path:
        transfers_dir(self.config)
        return Path(StateFiles.of(self.config).path("transfer_in", transfer=transfer_id))

    def _save(self, receipt: dict[str, Any]) -> None:
        write_atomically(self._path(receipt["transfer"]), json.dumps(receipt), mode=0o600)

    def receipt(self, grant: Grant, *states: str) -> dict[str, Any]:
        """The grant's receipt, in one of `states`."""
        try:
            receipt = json.loads(self._path(grant.container_id).read_text())
        except (OSError, ValueError):
            raise NoSuchTransfer(f"no transfer of {grant.site} on this host (aborted, or expired)") from None
        if receipt["state"] not in states:
            raise Conflicting(f"the transfer of {receipt['name']} is {receipt['state']}, not {' or '.join(states)}")
        return receipt

    def receipts(self) -> list[dict[str, Any]]:
        return read_states(self.config, "in-*.json")

    # -- steps -----------------------------------------------------------------------------

    def mint(self, body: dict[str, Any], tokens: Any) -> dict[str, Any]:
        """A token for receiving site `name` (409 if a container has the name here)."""
        name = _site_name(body.get("name"))
        ttl = body.get("ttl", 900)
        if isinstance(ttl, float) and ttl.is_integer():
            ttl = int(ttl)
        if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL:
            raise InvalidInput("ttl", f"seconds, an integer between 1 and {MAX_TTL}")
        self._name_free(name)
        transfer_id, token, expires = tokens.mint_transfer(name, ttl)
        self._save({"transfer": transfer_id, "name": name, "state": "minted", "expires": expires, "at": time.time()})
        return {"transfer": transfer_id, "token": token, "expires": expires}

    def _name_free(self, name: str) -> None:
        try:
            c = self.engine.containers.inspect(name)
        except NotFound:
            return
        if c.name == name:
            raise Conflicting(f"a container named {name} already exists on this host")

    def open(self, grant: Grant, body: dict[str, Any]) -> dict[str, Any]:
        """Create the site (not started) with the sender's spec, at its port root when free
        here, else at one chosen here; its login's hash and keys written as they were."""
        receipt = self.receipt(grant, "minted")
        spec = parse_spec(body, self.config, receipt["name"])
        self._name_free(spec.name)
        root = self._root(spec)
        container_id, warnings, _ = self.hosting.create(spec.create_request(self.config, root))
        receipt.update(state="receiving", container=container_id, host_port_root=root, image=spec.image)
        receipt["volume"] = volume_name(spec.name)
        self._save(receipt)
        self._login(container_id, spec)
        return {"id": container_id, "host_port_root": root, "warning": warnings}

    def _root(self, spec: SiteSpec) -> int:
        size = self.config.port_area_size
        taken = [
            r
            for s in self.engine.containers.list(all=True, filters={"label": [LABEL]})
            if (r := port_root(s.labels)) is not None
        ]
        root = free_root(taken, spec.host_port_root, size)
        if root is None:
            raise Conflicting(f"no free port area on this host (port_area_size {size})")
        return root

    def _login(self, container_id: str, spec: SiteSpec) -> None:
        if spec.password_hash is not None:
            self.login.set_password_hash(container_id, spec.password_hash)
        if spec.ssh_keys:
            self.login.apply(container_id, Credentials(ssh_keys=spec.ssh_keys))

    def data(self, grant: Grant, number: int, body: BinaryIO, length: int | None) -> dict[str, Any]:
        """One pass's archive: received whole and checked, then extracted into the site."""
        receipt = self.receipt(grant, "receiving")
        if length is not None and length > self.config.backup_max:
            raise InvalidInput("body", f"{length} bytes is over backup_max")
        limit, which = self._limit(receipt["container"])
        part = transfers_dir(self.config) / f"in-{receipt['transfer']}.pass{number}.tar.zst"
        try:
            try:
                received = receive_archive(body, part, self.config.backup_max, limit, which)
            except OSError as exc:  # no room left under backup_dir, most often
                raise BackupFailed(f"pass {number} could not be written here: {exc.strerror or exc}") from None
            account = site_account(self.engine, receipt["container"])
            if account is None:
                raise Conflicting("the site's image has no user admin to own its files")
            errors: list[Exception] = []
            try:
                self.engine.containers.put_archive(
                    receipt["container"],
                    "/var",
                    read_plain(str(part), received.sha256, errors, Owner(account.uid, account.gid), limit),
                )
            except EngineError as exc:
                if not errors:
                    raise BackupFailed(f"pass {number} could not be extracted: {exc}") from None
            if errors:
                raise BackupFailed(f"pass {number} could not be extracted: {errors[0]}")
        finally:
            part.unlink(missing_ok=True)
        return {"pass": number, "size": received.size, "expanded": received.expanded}

    def _limit(self, container_id: str) -> tuple[int, str]:
        quota = Quotas(self.config).all().get(container_id)
        if quota and quota * GIB < self.config.restore_max_expanded:
            return int(quota * GIB), f"the site's disk quota, {quota:g} GiB"
        return self.config.restore_max_expanded, "restore_max_expanded"

    def commit(self, grant: Grant, body: dict[str, Any]) -> dict[str, Any]:
        """Apply the deletions of the final pass, start the site if it ran on the sender,
        and make it this host's; its state."""
        receipt = self.receipt(grant, "receiving")
        removed = self._removed(body.get("removed"))
        start = body.get("start", True)
        if not isinstance(start, bool):
            raise InvalidInput("start", "expected true or false")
        if removed:
            self._remove(receipt, removed)
        if start:
            self.hosting.start(receipt["container"])
            state = self.engine.containers.inspect(receipt["container"])
            if not state.running:
                raise BackupFailed(f"{receipt['name']} did not stay running here ({state.state})")
        receipt.update(state="committed", committed=time.time())
        self._save(receipt)
        transfer_event(
            self.hosting.journal,
            "transfer_done",
            receipt["container"],
            receipt["name"],
            {"transfer": receipt["transfer"], "side": "receiver", "host_port_root": receipt["host_port_root"]},
            key=f"transfer/{receipt['transfer']}/in",
        )
        c = self.engine.containers.inspect(receipt["container"])
        return {"id": c.id, "host_port_root": receipt["host_port_root"], "state": c.state}

    @staticmethod
    def _removed(value: object) -> list[str]:
        """Deleted members' names, each under www/ as an archive member would be."""
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, str) and "\0" not in v for v in value):
            raise InvalidInput("removed", "expected a list of member names under www/")
        rules = Rules()
        root = tarfile.TarInfo("www")
        root.type = tarfile.DIRTYPE
        rules.check(root)
        names = []
        for v in value:
            member = tarfile.TarInfo(v)
            try:
                names.append(rules.check(member))
            except ValueError:
                raise InvalidInput("removed", f"not a member name under www/: {v[:80]!r}") from None
            if names[-1] == "www":
                raise InvalidInput("removed", "www itself cannot be removed")
        return names

    def _remove(self, receipt: dict[str, Any], names: list[str]) -> None:
        listing = "".join(n + "\0" for n in names).encode()
        info = tarfile.TarInfo(f"www/{_REMOVED}")
        info.size, info.mode = len(listing), 0o600
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(info, io.BytesIO(listing))
        self.engine.archives.put(receipt["container"], "/var", buf.getvalue())
        labels = {HELPER_LABEL: receipt["container"]}
        code = run_on_volume(self.engine, receipt["image"], receipt["volume"], REMOVE_SCRIPT, (), labels)
        if code != 0:
            raise BackupFailed(f"the deletions of the final pass failed (exit {code})")

    def abort(self, grant: Grant) -> None:
        """Remove what this transfer made here (409 once committed: the site is B's)."""
        self.discard(self.receipt(grant, "minted", "receiving"), "aborted by the sender")

    def discard(self, receipt: dict[str, Any], why: str) -> None:
        """Remove the container, volume and nginx file a receipt made, then the receipt."""
        if receipt.get("container"):
            try:
                self.hosting.delete(receipt["container"])
            except NotFound:
                pass
        for part in transfers_dir(self.config).glob(f"in-{receipt['transfer']}.pass*"):
            part.unlink(missing_ok=True)
        self._path(receipt["transfer"]).unlink(missing_ok=True)
        if receipt["state"] == "receiving":
            transfer_event(
                self.hosting.journal,
                "transfer_failed",
                receipt.get("container") or "",
                receipt["name"],
                {"transfer": receipt["transfer"], "side": "receiver", "error": why},
                key=f"transfer/{receipt['transfer']}/in",
            )
        log.warning("transfer of %s in: %s; what it made here is removed", receipt["name"], why)

    def expire(self, now: float, grace: float = 60.0) -> list[str]:
        """(The transfer keeper) discard receipts not committed by their token's expiry."""
        gone = []
        for receipt in self.receipts():
            if receipt["state"] != "committed" and receipt["expires"] + grace < now:
                self.discard(receipt, "its token expired before the transfer was committed")
                gone.append(receipt["name"])
            elif receipt["state"] == "committed" and receipt.get("committed", now) + 86400 < now:
                self._path(receipt["transfer"]).unlink(missing_ok=True)
        return gone
