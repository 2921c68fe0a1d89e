"""A stop's or restart's `t` reaches the engine as its `?t=`: the resource, the service and
the engine client together, over a stand-in dockerd that records each request target."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from falcon.testing import TestClient

from dockerlink.app import create_app
from dockerlink.config import Config
from dockerlink.engine import Engine
from tests.engine.fake_server import FakeServer, http_answer
from tests.engine.recorded import load
from tests.fakes import FakeStore

SITE = load("container_inspect_running").json()
SITE["Config"]["Labels"] = {"dockerlink": "0.1.0", "dockerlink.host_port_root": "10000"}
SITE_ID = SITE["Id"]


def _reply(target: str) -> bytes:
    path = target.split("?", 1)[0]
    ref = path.split("/containers/", 1)[-1].removesuffix("/json")
    if path.endswith("/json") and ref and SITE_ID.startswith(ref):  # inspect by id or prefix
        return http_answer(200, json.dumps(SITE).encode())
    if path.endswith((f"/containers/{SITE_ID}/stop", f"/containers/{SITE_ID}/restart")):
        return http_answer(204)
    return http_answer(404, b'{"message": "not in this test"}')


@pytest.fixture
def engine_server(tmp_path) -> Iterator[FakeServer]:
    with FakeServer(_reply, tmp_path) as server:
        yield server


@pytest.fixture
def client(tmp_path, engine_server) -> Iterator[TestClient]:
    with Engine(engine_server.address) as engine:
        yield TestClient(create_app(Config(stats_db=str(tmp_path / "s.sqlite3")), engine=engine, store=FakeStore()))


def _action_targets(server: FakeServer, action: str) -> list[str]:
    return [t.split("/containers/", 1)[1] for t in server.targets if f"/{action}" in t]


@pytest.mark.parametrize("action", ["stop", "restart"])
def test_the_t_asked_for_is_the_t_the_engine_gets(client, engine_server, action):
    r = client.simulate_post(f"/v1/container/{action}", params={"id": SITE_ID[:12], "t": "3"})
    assert r.status_code == 204, r.text
    assert _action_targets(engine_server, action) == [f"{SITE_ID}/{action}?t=3"]


@pytest.mark.parametrize("action", ["stop", "restart"])
def test_without_t_the_engine_gets_the_documented_10(client, engine_server, action):
    assert client.simulate_post(f"/v1/container/{action}", params={"id": SITE_ID}).status_code == 204
    assert _action_targets(engine_server, action) == [f"{SITE_ID}/{action}?t=10"]
