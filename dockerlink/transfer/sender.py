"""The sending side of a transfer (on host A): a journaled state machine run on a thread.

    preparing → copying (pass 1, the site running) → stopping → final (pass 2, stopped)
      → committing (B applies the deletions and starts it) → committed → emptying → done
    any step before `committed` fails → rolling back (B told to remove what it made; the
      site started again here if it was running) → failed

The journal is `backup_dir/.transfers/out-<name>.json` (mode 0600: it holds the transfer
token until the end, so a roll-back after a crash can still tell B), rewritten at each
step; the thread holds an exclusive lock on `out-<name>.lock` for the transfer's life. A
worker that dies mid-way releases the lock, and the transfer keeper (a job of the
collector) finds the journal unlocked and not ended: before `committed` it rolls back,
from `committed` on it finishes emptying this host. Never both, never neither: the site is
removed here only once B said it runs there (or, for a site that was stopped, that B has
it); until then every failure leaves it here, as it was.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

from ..access.login import Login
from ..backups.archive import CHUNK, write_compressed
from ..backups.disk import Quotas
from ..backups.hostdir import LocalVolumes, TooDeep
from ..config import Config
from ..engine import Engine, EngineError, NotFound
from ..errors import Conflicting, InvalidInput, NoSuchTransfer
from ..events.hooks import transfer_event
from ..hosting import WWW, Hosting
from ..statefiles import StateFiles, acquire
from ..storage import write_atomically
from .passes import Index, removed, tar_pass, walk_pass
from .peer import Peer, PeerFailed, check_url
from .receiver import read_states, transfers_dir
from .site import read_spec

__all__ = ["Sender", "ENDED", "TOKEN_PATTERN", "parse_transfer_request"]

log = logging.getLogger("dockerlink.transfer")

ENDED = ("done", "failed")
#: Journal fields never shown in a status.
_PRIVATE = ("token",)
#: A JWT's characters (base64url and dots); also the OpenAPI pattern.
TOKEN_PATTERN = r"[A-Za-z0-9_.=-]{16,4096}"
_TOKEN = re.compile(TOKEN_PATTERN)


def parse_transfer_request(body: dict[str, Any]) -> tuple[str, str]:
    """`{"to": B's base URL, "token": the transfer token B minted}`."""
    url = check_url(body.get("to"))
    token = body.get("token")
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise InvalidInput("token", "expected the transfer token the receiving host minted")
    return url, token


class Sender:
    def __init__(self, engine: Engine, config: Config, hosting: Hosting) -> None:
        self.engine = engine
        self.config = config
        self.hosting = hosting  # one without the final backup: the files live on, on B
        self.login = Login(engine)
        self.volumes = LocalVolumes(engine)

    # -- the journal -----------------------------------------------------------------------

    def _path(self, name: str, suffix: str = ".json") -> Path:
        transfers_dir(self.config)
        journal = StateFiles.of(self.config).path("transfer_out", name=name)
        return Path(journal.removesuffix(".json") + suffix)

    def _save(self, entry: dict[str, Any]) -> None:
        write_atomically(self._path(entry["name"]), json.dumps(entry), mode=0o600)

    def _load(self, name: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._path(name).read_text())
        except (OSError, ValueError):
            return None

    def status(self, ref: str) -> dict[str, Any]:
        """The last transfer of the site `ref` names (a name, or the id it had here)."""
        entry = self._load(ref) if "/" not in ref else None
        if entry is None:
            entry = next((e for e in self.journals() if e.get("container") == ref), None)
        if entry is None:
            try:
                entry = self._load(self.engine.containers.inspect(ref).name)
            except (NotFound, EngineError):
                entry = None
        if entry is None:
            raise NoSuchTransfer(f"no transfer of {ref[:80]} from this host")
        return {k: v for k, v in entry.items() if k not in _PRIVATE}

    def journals(self) -> list[dict[str, Any]]:
        return read_states(self.config, "out-*.json")

    def _lock(self, name: str, wait: bool = False) -> int | None:
        """The transfer's lock, held for its life; None when someone holds it (`wait` False)."""
        try:
            return acquire(self._path(name, ".lock"), wait=wait, mode=0o600)
        except BlockingIOError:
            return None

    # -- starting --------------------------------------------------------------------------

    def start(self, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        """Start moving site `ref` to the host at `to`; its status (the thread goes on)."""
        url, token = parse_transfer_request(body)
        c = self.hosting.owned(ref)
        fd = self._lock(c.name)
        if fd is None:
            raise Conflicting(f"a transfer of {c.name} is already running")
        try:
            earlier = self._load(c.name)
            if earlier and earlier["state"] not in ENDED:
                raise Conflicting(f"a transfer of {c.name} is not ended yet ({earlier['phase']}): see its status")
            entry = {
                "name": c.name,
                "container": c.id,
                "to": url,
                "token": token,
                "state": "running",
                "phase": "preparing",
                "was_running": c.running,
                "started": time.time(),
            }
            self._save(entry)
        except BaseException:
            os.close(fd)
            raise
        threading.Thread(target=self._run, args=(entry, fd), name=f"transfer-{c.name}", daemon=True).start()
        return {k: v for k, v in entry.items() if k not in _PRIVATE}

    def _phase(self, entry: dict[str, Any], phase: str, **fields: Any) -> None:
        entry.update(phase=phase, **fields)
        self._save(entry)

    def _run(self, entry: dict[str, Any], fd: int) -> None:
        peer = Peer(entry["to"], entry["token"])
        try:
            try:
                self._move(entry, peer)
            except Exception as exc:  # noqa: BLE001 - on a thread: rolled back and recorded, never lost
                if entry["phase"] in ("committed", "emptying"):
                    log.error("transfer of %s: emptying this host failed (%s); the keeper retries", entry["name"], exc)
                    return
                if not isinstance(exc, (PeerFailed, EngineError, OSError)):
                    log.exception("transfer of %s failed", entry["name"])
                self.roll_back(entry, peer, str(exc))
                return
            self.empty(entry)
        finally:
            peer.close()
            os.close(fd)

    def _move(self, entry: dict[str, Any], peer: Peer) -> None:
        c = self.hosting.owned(entry["container"])
        spec = read_spec(c, self.login, Quotas(self.config).all())
        opened = peer.open(spec.to_json())
        self._phase(entry, "copying", receiver={"id": opened.get("id"), "host_port_root": opened.get("host_port_root")})
        first: Index = {}
        since = time.time()
        directory = self.volumes.directory(c.volumes[WWW]) if c.volumes.get(WWW) else None
        entry["read"] = "files" if directory else "engine"
        self._pass(entry, peer, 1, first, directory)
        if entry["was_running"]:
            self._phase(entry, "stopping")
            self.hosting.note_request(c.id, "stop")
            self.engine.containers.stop(c.id, t=10)
        stopped = time.time()
        self._phase(entry, "final", stopped_at=stopped)
        second: Index = {}
        self._pass(entry, peer, 2, second, directory, previous=first, since=since)
        self._phase(entry, "committing")
        answer = peer.commit(removed(first, second), start=entry["was_running"])
        self._phase(
            entry,
            "committed",
            downtime=round(time.time() - stopped, 3) if entry["was_running"] else None,
            receiver={k: answer.get(k) for k in ("id", "host_port_root", "state")},
        )

    def _pass(
        self, entry: dict[str, Any], peer: Peer, number: int, index: Index, directory: str | None, **delta: Any
    ) -> None:
        """One pass: the tree (or what changed) as the backups' archive, spooled, then sent.
        Read from the volume's `directory` on this host when there is one (the final pass
        then reads only the changed files), else (or for a tree too deep to walk that way)
        through the engine's archive endpoint."""
        part = self._path(entry["name"], f".pass{number}.tar.zst")
        try:
            with open(part, "wb") as out:
                written = None
                if directory is not None:
                    try:
                        written = write_compressed(walk_pass(directory, index, **delta), out)
                    except TooDeep as exc:
                        log.info("transfer of %s: pass %d through the engine: %s", entry["name"], number, exc)
                        index.clear()
                        out.seek(0)
                        out.truncate()
                if written is None:
                    with self.engine.containers.get_archive(entry["container"], WWW) as (_, stream):
                        written = write_compressed(tar_pass(stream.chunks(CHUNK), index, **delta), out)
            entry.setdefault("passes", []).append({"pass": number, "size": written.size, "plain": written.plain})
            self._save(entry)
            peer.send(str(part), number)
        finally:
            part.unlink(missing_ok=True)

    # -- ending ----------------------------------------------------------------------------

    def roll_back(self, entry: dict[str, Any], peer: Peer | None, error: str) -> None:
        """Undo a transfer not committed: B removes what it made; the site runs here again
        if it ran. A B that says it has committed after all (its answer was lost) wins: the
        transfer is finished instead."""
        self._phase(entry, "rolling back", error=error[:500])
        if peer is not None:
            try:
                peer.abort()
            except PeerFailed as exc:
                if exc.status == 409:  # B has committed: the site is B's, finish here
                    self._phase(entry, "committed", error=None)
                    self.empty(entry)
                    return
                # Unreachable, or the token expired: B's keeper removes its part at expiry.
                entry["receiver_cleanup"] = f"left to the receiving host's keeper ({exc})"
        if entry["was_running"]:
            try:
                self.hosting.start(entry["container"])
            except NotFound:
                pass
        entry.update(state="failed", finished=time.time())
        self._phase(entry, "failed")
        transfer_event(
            self.hosting.journal,
            "transfer_failed",
            entry["container"],
            entry["name"],
            {"to": entry["to"], "side": "sender", "error": entry.get("error")},
            key=f"transfer/{entry['name']}/{entry['started']}/out",
        )
        log.warning("transfer of %s failed and was rolled back: %s", entry["name"], error)

    def empty(self, entry: dict[str, Any]) -> None:
        """B has the site: remove it here (container, volume, nginx file; its backups stay,
        kept as `backup_deleted_days` says)."""
        self._phase(entry, "emptying")
        with suppress(NotFound):
            self.hosting.delete(entry["container"])
        entry.update(state="done", finished=time.time(), token=None)
        self._phase(entry, "done")
        transfer_event(
            self.hosting.journal,
            "transfer_done",
            entry["container"],
            entry["name"],
            {"to": entry["to"], "side": "sender", "downtime": entry.get("downtime"), "receiver": entry.get("receiver")},
            key=f"transfer/{entry['name']}/{entry['started']}/out",
        )

    def recover(self) -> list[str]:
        """(The transfer keeper) finish or roll back each transfer whose thread is gone."""
        done = []
        for entry in self.journals():
            if entry.get("state") in ENDED:
                continue
            fd = self._lock(entry["name"])
            if fd is None:
                continue  # its thread is alive
            try:
                entry = self._load(entry["name"]) or entry
                if entry.get("state") in ENDED:
                    continue
                if entry["phase"] in ("committed", "emptying"):
                    self.empty(entry)
                else:
                    peer = Peer(entry["to"], entry["token"]) if entry.get("token") else None
                    try:
                        self.roll_back(entry, peer, "the worker running it stopped mid-way")
                    finally:
                        if peer is not None:
                            peer.close()
                done.append(entry["name"])
            finally:
                os.close(fd)
        return done
