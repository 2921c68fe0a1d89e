"""`GET /v1/events`, `GET /v1/container/logs`, and the webhook backlog in /v1/health."""

from __future__ import annotations

import pytest
from falcon.testing import TestClient

from dockerlink.app import create_app
from dockerlink.config import Config
from dockerlink.events.journal import Journal
from dockerlink.events.webhooks import DELIVERED
from tests.fakes import FakeEngine, FakeStore

ID = "a" * 64


@pytest.fixture
def journal(config) -> Journal:
    return Journal(config.events_path)


def test_events_answer_the_journal_after_the_cursor(client, journal):
    journal.append(1.0, ID, "site1", "started", {})
    journal.append(2.0, ID, "site1", "died", {"exit_code": 3, "crash": True})
    r = client.simulate_get("/v1/events", params={"since": "1"})
    assert r.status_code == 200
    died = {"seq": 2, "time": 2.0, "id": ID, "name": "site1", "type": "died", "detail": {"crash": True, "exit_code": 3}}
    assert r.json == {"events": [died], "next": 2}


@pytest.mark.parametrize(
    ("query", "field"),
    [("since=-1", "since"), ("limit=0", "limit"), ("wait=31", "wait"), ("type=DIED", "type"), ("id=../x", "id")],
)
def test_malformed_event_parameters_are_a_400_naming_the_field(client, query, field):
    r = client.simulate_get("/v1/events", query_string=query)
    assert r.status_code == 400 and r.text.startswith(field)


def test_logs_of_a_dockerlink_container_are_plain_text_in_time_order(client, fake_engine):
    c = fake_engine.containers.add("site1", labels={"dockerlink": "0.1.0"})
    fake_engine.containers.logged[c.id] = [
        (1, b"2026-01-01T00:00:02Z second\n"),
        (2, b"2026-01-01T00:00:01Z first\n"),
    ]
    r = client.simulate_get("/v1/container/logs", params={"id": "site1"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text == "first\nsecond\n"


def test_logs_of_another_container_are_a_403_and_tail_is_bounded(client, fake_engine):
    fake_engine.containers.add("database")
    assert client.simulate_get("/v1/container/logs", params={"id": "database"}).status_code == 403
    r = client.simulate_get("/v1/container/logs", params={"id": "database", "tail": "10001"})
    assert r.status_code == 400 and r.text.startswith("tail")


def test_health_shows_the_webhook_backlog_and_its_oldest_age(tmp_path):
    config = Config(
        stats_db=str(tmp_path / "stats.sqlite3"),
        webhook_url="http://127.0.0.1:9/hook",
        webhook_secret="0123456789abcdef",
    )
    journal = Journal(config.events_path)
    journal.set_state(**{DELIVERED: "0"})
    journal.append(1.0, ID, "site1", "started", {})
    r = TestClient(create_app(config, engine=FakeEngine(), store=FakeStore())).simulate_get("/v1/health")
    assert r.json["webhooks"]["backlog"] == 1 and r.json["webhooks"]["oldest_age"] > 0
    assert "0123456789abcdef" not in r.text


def test_create_limits_processes_and_rotates_logs_and_a_resize_keeps_them(client, fake_engine):
    body = {"name": "site1", "host_port_root": 10000, "memory": 0.5, "cpulimit": 1}
    cid = client.simulate_put("/v1/container", json=body).json["Id"]
    host = fake_engine.containers.last_create["HostConfig"]
    assert host["PidsLimit"] == 1024
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}}
    calls = []
    original = fake_engine.containers.update
    fake_engine.containers.update = lambda ref, **kw: calls.append(kw) or original(ref, **kw)
    assert client.simulate_patch("/v1/container", params={"id": cid}, json={"memory": 1}).status_code == 200
    assert all(set(kw) <= {"memory", "memory_swap", "cpu_period", "cpu_quota"} for kw in calls)


def test_a_stop_through_dockerlink_is_noted_for_the_journal(client, fake_engine, journal):
    c = fake_engine.containers.add("site1", labels={"dockerlink": "0.1.0"})
    assert client.simulate_post("/v1/container/stop", params={"id": "site1"}).status_code == 204
    assert journal.requested(c.id, 0) == "stop"


OLD = "0" * 64  # an earlier container that was named site1, deleted since


def _reused_name(fake_engine, journal) -> str:
    """site1's journal: an earlier container's backup and delete, then the live site1's create."""
    new = fake_engine.containers.add("site1", labels={"dockerlink": "0.1.0"}).id
    journal.append(1.0, OLD, "site1", "backup_done", {"backup": "20260101T000000Z-0000000a", "kind": "final"})
    journal.append(2.0, OLD, "site1", "deleted", {})
    journal.append(3.0, new, "site1", "created", {})
    return new


@pytest.mark.parametrize("given", ["name", "prefix", "full id"])
def test_events_by_id_are_the_live_containers_never_an_earlier_ones_of_its_name(client, fake_engine, journal, given):
    new = _reused_name(fake_engine, journal)
    ref = {"name": "site1", "prefix": new[:12], "full id": new}[given]
    r = client.simulate_get("/v1/events", params={"since": "0", "id": ref})
    assert r.status_code == 200, r.text
    assert [(e["seq"], e["id"], e["type"]) for e in r.json["events"]] == [(3, new, "created")]


def test_a_deleted_containers_events_are_read_by_its_full_id(client, fake_engine, journal):
    _reused_name(fake_engine, journal)
    r = client.simulate_get("/v1/events", params={"since": "0", "id": OLD})
    assert [(e["seq"], e["type"]) for e in r.json["events"]] == [(1, "backup_done"), (2, "deleted")]
    assert fake_engine.containers.inspected == []  # a full id is not looked up: the engine need not answer


def test_a_name_no_container_has_now_is_a_404_not_its_earlier_owners_events(client, fake_engine, journal):
    journal.append(1.0, OLD, "gone1", "deleted", {})
    r = client.simulate_get("/v1/events", params={"since": "0", "id": "gone1"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/plain")
    assert "gone1" in r.text and "\n" == r.text[-1] and r.text.count("\n") == 1
