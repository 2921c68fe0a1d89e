"""/v1/env and /v1/health say what is true: each setting as configured, and the age of the
last stats round as it is now (a fake clock stands in for the wall clock)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from falcon.testing import TestClient

from dockerlink import __version__
from dockerlink.app import create_app
from dockerlink.config import Config
from dockerlink.resources import service
from dockerlink.stats.collector import Collector
from dockerlink.stats.store import StatsStore
from tests.fakes import FakeEngine
from tests.stats.trees import FakeContainers


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class NoReadings:
    """A sampler with nothing to sample: each round still records its time."""

    def sample(self, containers):  # noqa: ANN001
        return []


def test_env_reports_every_setting_as_configured(tmp_path):
    config = Config(
        stats_db=str(tmp_path / "stats.sqlite3"),
        port_area_size=4321,
        base_image="registry.example/sites/php:8.2",
        stats_interval=2.5,
        publish_ip="127.0.0.2",
        git_host_root=str(tmp_path),
        git_timeout=33.0,
    )
    env = (
        TestClient(create_app(config, engine=FakeEngine(), store=StatsStore(config.stats_db)))
        .simulate_get("/v1/env")
        .json
    )
    assert env["port_area_size"] == 4321
    assert env["base_image"] == "registry.example/sites/php:8.2"
    assert env["stats_interval"] == 2.5
    assert env["publish_ip"] == "127.0.0.2"
    assert env["git_host"] is True
    assert env["git_timeout"] == 33.0
    assert env["version"] == __version__


def test_env_git_host_is_false_without_a_git_host_root(client, config):
    assert config.git_host_root is None
    assert client.simulate_get("/v1/env").json["git_host"] is False


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """The wall clock of /v1/health, under the test's control."""
    c = Clock(1_000_000.0)
    monkeypatch.setattr(service, "time", SimpleNamespace(time=c))
    return c


def test_health_sample_age_grows_while_no_round_runs_and_falls_back_after_one(tmp_path, clock):
    config = Config(stats_db=str(tmp_path / "stats.sqlite3"))
    store = StatsStore(config.stats_db)
    client = TestClient(create_app(config, engine=FakeEngine(), store=store))
    collector = Collector(FakeContainers(), NoReadings(), store, clock)

    def age() -> float | None:
        return client.simulate_get("/v1/health").json["last_sample_age"]

    assert age() is None  # no round yet
    collector.collect_once()
    assert age() == 0.0
    clock.now += 7.5
    assert age() == 7.5
    clock.now += 60  # the collector is stopped: the age keeps growing
    assert age() == 67.5
    collector.collect_once()
    assert age() == 0.0
    clock.now += 2
    assert age() == 2.0
    store.close()
