"""Bearer token on every request but health; CORS only for the configured origins."""

from __future__ import annotations

import pytest
from falcon.testing import TestClient

from dockerlink.app import create_app
from dockerlink.config import Config
from tests.fakes import FakeEngine, FakeStore

TOKEN = "s3cret-token-0123456789"


def make_client(tmp_path, **settings) -> TestClient:
    config = Config(stats_db=str(tmp_path / "s.sqlite3"), create_lock=str(tmp_path / "create.lock"), **settings)
    return TestClient(create_app(config, engine=FakeEngine(), store=FakeStore()))


@pytest.mark.parametrize(
    "path", ["/v1/container", "/v1/env", "/v1/openapi.json", "/v1/container/stats?id=x", "/v1/git/head"]
)
@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",  # an empty token: a prefix of every token
        "Bearer s",  # prefixes of the token
        "Bearer s3cret-token-",
        "Bearer s3cret-token-012345678",  # all but its last character
        f"Bearer {TOKEN}x",  # the token and more
        f"Bearer {TOKEN}{TOKEN}",
        "Bearer wrong",
        f"Basic {TOKEN}",
        TOKEN,
        f"Bearer  {TOKEN}",
        f"Bearer {TOKEN.upper()}",
    ],
)
def test_without_the_exact_bearer_token_every_path_is_401(tmp_path, path, header):
    client = make_client(tmp_path, api_token=TOKEN)
    r = client.simulate_get(path, headers={"Authorization": header} if header else {})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert r.headers["content-type"].startswith("text/plain")
    assert TOKEN not in r.text


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_right_token_lets_the_request_through(tmp_path, scheme):
    client = make_client(tmp_path, api_token=TOKEN)
    r = client.simulate_get("/v1/env", headers={"Authorization": f"{scheme} {TOKEN}"})
    assert r.status_code == 200
    assert TOKEN not in r.text


def test_health_needs_no_token(tmp_path):
    assert make_client(tmp_path, api_token=TOKEN).simulate_get("/v1/health").status_code == 200


def test_unauthenticated_writes_change_nothing(tmp_path):
    engine = FakeEngine()
    client = TestClient(
        create_app(Config(stats_db=str(tmp_path / "s"), api_token=TOKEN), engine=engine, store=FakeStore())
    )
    body = {"name": "site", "host_port_root": 10000, "memory": 1, "cpulimit": 1}
    assert client.simulate_put("/v1/container", json=body).status_code == 401
    assert not engine.containers.by_id


def test_no_cors_headers_unless_configured(tmp_path):
    r = make_client(tmp_path).simulate_get("/v1/env", headers={"Origin": "https://panel.example"})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_cors_allows_only_the_configured_origins_preflight_included(tmp_path):
    client = make_client(tmp_path, api_token=TOKEN, cors_origins=("https://panel.example",))
    ok = client.simulate_get("/v1/env", headers={"Origin": "https://panel.example", "Authorization": f"Bearer {TOKEN}"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://panel.example"
    other = client.simulate_get(
        "/v1/env", headers={"Origin": "https://evil.example", "Authorization": f"Bearer {TOKEN}"}
    )
    assert "Access-Control-Allow-Origin" not in other.headers
    pre = client.simulate_options(
        "/v1/container",
        headers={
            "Origin": "https://panel.example",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert pre.status_code == 200
    assert pre.headers["Access-Control-Allow-Origin"] == "https://panel.example"
    assert "PUT" in pre.headers["Access-Control-Allow-Methods"]
    assert "authorization" in pre.headers["Access-Control-Allow-Headers"].lower()


def test_env_never_shows_the_token(tmp_path):
    client = make_client(tmp_path, api_token=TOKEN)
    r = client.simulate_get("/v1/env", headers={"Authorization": f"Bearer {TOKEN}"})
    assert TOKEN not in r.text and "api_token" not in r.json
