"""A token revocations file that cannot be read fails closed (every scoped token refused,
the panel's token still works) and says so: one log line without any token, a reason of
/v1/health, a warning of `dockerlink check`; moving the file aside ends it, no restart."""

from __future__ import annotations

import logging
import os

import pytest
from falcon.testing import TestClient

from dockerlink import cli
from dockerlink.app import create_app
from dockerlink.config import Config
from dockerlink.stats.store import StatsStore
from dockerlink.tokens import ScopedTokens, SQLiteRevocations
from tests.fakes import FakeEngine

API_TOKEN = "panel-token-0123456789abcdef"
PANEL = {"Authorization": f"Bearer {API_TOKEN}"}
GARBAGE = b"this is not an SQLite file, it was overwritten by something else\n" * 64


@pytest.fixture
def config(tmp_path) -> Config:
    return Config(stats_db=str(tmp_path / "stats.sqlite3"), api_token=API_TOKEN)


def _scoped(tmp_path, config: Config) -> str:
    """A valid scoped token (signed with `api_token`'s key), minted beside the service."""
    minter = ScopedTokens(API_TOKEN, SQLiteRevocations(str(tmp_path / "elsewhere.revoked")))
    return minter.mint("a" * 64, ["stats"], 600)[0]


def test_an_unreadable_file_refuses_every_scoped_token_says_so_and_ends_when_moved_aside(tmp_path, config, caplog):
    path = str(tmp_path / "stats.sqlite3.revoked")
    with open(path, "wb") as f:
        f.write(GARBAGE)
    engine = FakeEngine()
    client = TestClient(create_app(config, engine=engine, store=StatsStore(config.stats_db)))
    token = _scoped(tmp_path, config)
    scoped = {"Authorization": f"Bearer {token}"}

    with caplog.at_level(logging.WARNING):
        refused = client.simulate_get("/v1/container", headers=scoped)
        assert (refused.status_code, refused.text) == (401, "401 Unauthorized: token revoked\n")
        assert client.simulate_get("/v1/container", headers=scoped).status_code == 401
    lines = [r.getMessage() for r in caplog.records if r.name == "dockerlink.tokens"]
    assert len(lines) == 1 and "unreadable" in lines[0] and path in lines[0]  # once, not per request
    assert token not in caplog.text and token.split(".")[2] not in caplog.text

    assert client.simulate_get("/v1/container", headers=PANEL).status_code == 200  # the panel is not locked out
    health = client.simulate_get("/v1/health", headers=PANEL)
    assert health.status_code == 503 and health.json["status"] == "degraded"
    assert (
        "token revocations file unreadable (file is not a database): every scoped token is refused"
        in (health.json["reasons"])
    )
    assert not any(str(tmp_path) in r for r in health.json["reasons"])  # health answers anyone: no path

    os.replace(path, path + ".broken")  # what docs/security.md tells the operator to do
    assert client.simulate_get("/v1/container", headers=scoped).status_code == 200
    health = client.simulate_get("/v1/health", headers=PANEL)
    assert not any("revocations" in r for r in health.json["reasons"])


def test_a_file_broken_while_open_fails_closed_too(tmp_path):
    path = str(tmp_path / "stats.sqlite3.revoked")
    revocations = SQLiteRevocations(path)
    revocations.revoke("kept-jti-0123456789", 4_000_000_000.0)
    assert not revocations.is_revoked("other-jti-0123456789") and revocations.problem is None
    for name in (path, path + "-wal", path + "-shm"):
        if os.path.exists(name):
            with open(name, "r+b") as f:
                f.write(GARBAGE)
    assert revocations.is_revoked("other-jti-0123456789")
    assert revocations.problem is not None and "every scoped token is refused" in revocations.problem


def test_check_warns_of_an_unreadable_file_without_making_one(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(Config, "engine", lambda self: FakeEngine())
    env = {"port_area_size": "500", "api_token": API_TOKEN, "stats_db": str(tmp_path / "stats.sqlite3")}
    monkeypatch.setattr("os.environ", env)
    assert cli.main(["check"]) == 0
    assert "revocations" not in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "stats.sqlite3.revoked")  # check made nothing
    (tmp_path / "stats.sqlite3.revoked").write_bytes(GARBAGE)
    assert cli.main(["check"]) == 0
    err = capsys.readouterr().err
    assert "warning: token revocations file unreadable (file is not a database)" in err
    assert f"({tmp_path}/stats.sqlite3.revoked); see docs/security.md" in err
    assert "docs/security.md" in err
