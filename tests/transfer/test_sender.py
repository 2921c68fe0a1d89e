"""The sending side's ends: a roll-back starts the site again and tells B; a B that has
committed after all wins (A is emptied, never both); a transfer whose worker died is ended
by the keeper's `recover`, never forgotten."""

from __future__ import annotations

import json
import os

from dockerlink.config import Config
from dockerlink.transfer.peer import PeerFailed
from dockerlink.transfer.receiver import transfers_dir
from dockerlink.transfer.sender import Sender


class Hosting:
    journal = None  # the transfer's events: none journaled here

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def start(self, ref: str) -> bool:
        self.calls.append(("start", ref))
        return True

    def delete(self, ref: str) -> None:
        self.calls.append(("delete", ref))


class Peer:
    def __init__(self, error: PeerFailed | None) -> None:
        self.error = error
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True
        if self.error:
            raise self.error


def _sender(tmp_path):
    config = Config(stats_db=str(tmp_path / "stats.sqlite3"), backup_dir=str(tmp_path / "backups"))
    hosting = Hosting()
    return Sender(None, config, hosting), hosting  # type: ignore[arg-type]


def _entry(phase: str = "final", was_running: bool = True) -> dict:
    return {
        "name": "site1",
        "container": "c" * 64,
        "to": "http://127.0.0.1:9",
        "token": "t" * 40,
        "state": "running",
        "phase": phase,
        "was_running": was_running,
        "started": 1.0,
    }


def test_a_roll_back_tells_b_and_starts_the_site_again(tmp_path):
    sender, hosting = _sender(tmp_path)
    peer = Peer(None)
    sender.roll_back(_entry(), peer, "B refused")  # type: ignore[arg-type]
    assert peer.aborted and hosting.calls == [("start", "c" * 64)]
    status = sender.status("site1")
    assert status["state"] == "failed" and status["error"] == "B refused" and "token" not in status


def test_a_site_that_was_stopped_stays_stopped_after_a_roll_back(tmp_path):
    sender, hosting = _sender(tmp_path)
    sender.roll_back(_entry(was_running=False), Peer(None), "x")  # type: ignore[arg-type]
    assert hosting.calls == []


def test_a_b_that_committed_after_all_wins_and_a_is_emptied(tmp_path):
    sender, hosting = _sender(tmp_path)
    sender.roll_back(_entry(phase="committing"), Peer(PeerFailed("committed", 409)), "answer lost")  # type: ignore[arg-type]
    assert hosting.calls == [("delete", "c" * 64)]
    assert sender.status("site1")["state"] == "done"


def test_an_unreachable_b_still_gets_the_site_started_again_here(tmp_path):
    sender, hosting = _sender(tmp_path)
    sender.roll_back(_entry(), Peer(PeerFailed("did not answer")), "x")  # type: ignore[arg-type]
    assert hosting.calls == [("start", "c" * 64)]
    assert "keeper" in sender.status("site1")["receiver_cleanup"]


def test_the_keeper_ends_a_transfer_whose_worker_died(tmp_path):
    sender, hosting = _sender(tmp_path)
    (transfers_dir(sender.config) / "out-site1.json").write_text(json.dumps(_entry()))
    (transfers_dir(sender.config) / "out-site2.json").write_text(json.dumps({**_entry("committed"), "name": "site2"}))
    assert sorted(sender.recover()) == ["site1", "site2"]
    assert sender.status("site1")["state"] == "failed"  # rolled back: B (unreachable) left to B's keeper
    assert sender.status("site2")["state"] == "done"  # B had it: finished here
    assert sorted(hosting.calls) == [("delete", "c" * 64), ("start", "c" * 64)]


def test_the_keeper_leaves_a_transfer_whose_worker_holds_its_lock(tmp_path):
    sender, hosting = _sender(tmp_path)
    (transfers_dir(sender.config) / "out-site1.json").write_text(json.dumps(_entry()))
    fd = sender._lock("site1")
    try:
        assert sender.recover() == []
    finally:
        os.close(fd)
    assert hosting.calls == []
