"""Requests an attacker or a careless client sends (issue 12): none is a 500."""

from __future__ import annotations

import io
import os
import sqlite3
import time
from pathlib import Path

import pytest
from falcon.testing import TestClient

from dockerlink.app import create_app
from dockerlink.engine import BadRequest
from dockerlink.events.journal import Journal
from dockerlink.stats.samples import Reading, Sample
from dockerlink.stats.store import StatsStore

VALID = {"name": "site1", "host_port_root": 10000, "memory": 0.5, "cpulimit": 1.5}


def test_deeply_nested_json_is_a_400_naming_the_body_not_a_500(client):
    for method in ("PUT", "PATCH"):
        r = client.simulate_request(method, "/v1/container", params={"id": "x"}, body="[" * 200000)
        assert r.status_code == 400, r.text
        assert r.text == "body: JSON nested too deeply\n"


def test_a_chunked_body_is_read_not_taken_for_empty(client):
    r = client.simulate_request(
        "PUT",
        "/v1/container",
        headers={"Transfer-Encoding": "chunked"},
        extras={"wsgi.input": io.BytesIO(b'{"name": "bad name!"}'), "CONTENT_LENGTH": ""},
    )
    assert r.status_code == 400
    assert r.text.startswith("host_port_root: is required")


def test_500_copies_of_one_id_make_one_engine_call_and_the_answer_keeps_the_key(client, fake_engine):
    site = fake_engine.containers.add("site1")
    fake_engine.containers.inspected.clear()
    r = client.simulate_get("/v1/container", query_string="&".join(["id=site1"] * 500))
    assert r.status_code == 200
    assert r.json["success"]["site1"]["id"] == site.id
    assert fake_engine.containers.inspected == ["site1"]


def test_a_failed_create_removes_the_volume_it_made(client, fake_engine):
    fake_engine.containers.add("site1")  # a foreign container has the name
    r = client.simulate_put("/v1/container", json=VALID)
    assert r.status_code == 409
    assert "dockerlink-site1-www" not in fake_engine.volumes.names


def test_a_failed_create_keeps_a_volume_it_did_not_make(client, fake_engine):
    fake_engine.volumes.create("dockerlink-site1-www")  # kept from an earlier site1: its data
    fake_engine.containers.add("site1")
    assert client.simulate_put("/v1/container", json=VALID).status_code == 409
    assert "dockerlink-site1-www" in fake_engine.volumes.names


def test_an_image_the_engine_refuses_is_a_400_naming_the_image_field(client, fake_engine, monkeypatch):
    def refuse(ref):  # noqa: ANN001, ANN202 - the engine's answer to a 300-character name
        raise BadRequest(400, f"no such image: {ref}: repository name must not be more than 255 characters")

    monkeypatch.setattr(fake_engine.images, "inspect", refuse)
    r = client.simulate_put("/v1/container", json={**VALID, "image": "a" * 300})
    assert r.status_code == 400
    assert r.text.startswith("image: ")


def test_health_is_503_degraded_when_the_collector_stopped_sampling(client, fake_store):
    fake_store.last = time.time() - 46  # stats_interval 15: more than 3 intervals
    r = client.simulate_get("/v1/health")
    assert r.status_code == 503
    assert r.json["status"] == "degraded"
    assert "stats collector" in r.json["reasons"][0] and "stopped or hung" in r.json["reasons"][0]
    fake_store.last = time.time() - 5
    r = client.simulate_get("/v1/health")
    assert (r.status_code, r.json["status"], r.json["reasons"]) == (200, "ok", [])


def test_health_is_503_when_no_sample_ever_came(config, fake_engine, fake_store, monkeypatch):
    app = create_app(config, engine=fake_engine, store=fake_store)
    later = time.time() + 46  # more than 3 intervals of 15 s after the start
    monkeypatch.setattr(time, "time", lambda: later)
    r = TestClient(app).simulate_get("/v1/health")
    assert r.status_code == 503 and "no stats sample" in r.json["reasons"][0]


@pytest.fixture
def real_store(config) -> StatsStore:
    """A stats store as a worker's and the collector's are built: handing off through the
    events journal (`Services.build`, `rounds_job`)."""
    store = StatsStore(config.stats_db, handoff=Journal(config.events_path))
    yield store
    store.close()


def test_delete_answers_204_when_the_stats_database_is_locked_and_the_collector_drops_it(
    config, fake_engine, real_store
):
    client = TestClient(create_app(config, engine=fake_engine, store=real_store))
    cid = client.simulate_put("/v1/container", json=VALID).json["Id"]
    record(real_store, cid)
    locker = sqlite3.connect(config.stats_db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        r = client.simulate_delete("/v1/container", params={"id": cid})
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert r.status_code == 204, r.text
    assert cid not in fake_engine.containers.by_id
    real_store.maintain(time.time())  # the collector's next round
    assert not real_store.has_history(cid)


def test_a_corrupt_stats_database_heals_and_health_says_so(config, fake_engine, real_store):
    client = TestClient(create_app(config, engine=fake_engine, store=real_store))
    site = fake_engine.containers.add("site1", labels={"dockerlink": "0.1.0"})
    record(real_store, site.id)
    real_store._db().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = Path(config.stats_db)
    path.write_bytes(os.urandom(path.stat().st_size))
    r = client.simulate_get("/v1/container/stats", params={"id": site.id, "since": "0"})
    assert r.status_code == 200  # a fresh, empty history, not a 500: the site's stand-in sample (no `{}`)
    assert [p["cpu"]["usage_percent"] for p in r.json.values()] == [0.0]
    health = client.simulate_get("/v1/health").json
    assert Path(health["stats_reset"]["moved_to"]).exists()


def record(store: StatsStore, container: str) -> None:
    now = time.time()
    reading = Reading(container, now, True, cpu_ns=1, net_rx=0, net_tx=0)
    store.record_round(now, [(reading, Sample(now, 1.0, 100.0, 1e6, 2e9, 0, 0, 0, 0))])
