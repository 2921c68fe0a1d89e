from __future__ import annotations

import pytest
from falcon.testing import TestClient

from dockerlink.app import create_app
from dockerlink.config import Config
from tests.fakes import FakeEngine, FakeStore


@pytest.fixture
def fake_engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def fake_store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def config(tmp_path) -> Config:
    return Config(
        stats_db=str(tmp_path / "stats.sqlite3"),
        create_lock=str(tmp_path / "create.lock"),
        publish_ip="127.0.0.1",
        backup_dir=str(tmp_path / "backups"),
    )


@pytest.fixture
def client(config, fake_engine, fake_store) -> TestClient:
    return TestClient(create_app(config, engine=fake_engine, store=fake_store))
