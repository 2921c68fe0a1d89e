"""Scoped tokens through the real service (gunicorn, the real engine): a part of the
route × method × scope table, written out here by hand, and no token in the access log
whatever the query parameter that carries it."""

from __future__ import annotations

import pytest
import requests

from dockerlink.engine import ContainerSpec, NotFound

from .live import live_service, wait_until

TOKEN = "scoped-live-test-token-0123456789"
SCOPES = ("stats", "logs", "events", "power", "git", "backup")
EVERY = frozenset(SCOPES)
PANEL_ONLY: frozenset[str] = frozenset()


@pytest.fixture(scope="module")
def service(tmp_path_factory, engine):
    with live_service(tmp_path_factory.mktemp("scoped"), api_token=TOKEN, stats_interval="60") as s:
        yield s


@pytest.fixture(scope="module")
def site(engine, base_image, service):
    """A container dockerlink would call its own (label `dockerlink`), created, not started."""
    from .conftest import PREFIX, TEST_LABEL

    name = f"{PREFIX}scoped"
    cid, _ = engine.containers.create(
        ContainerSpec(image=base_image, cmd=("sleep", "infinity"), labels={"dockerlink": "test", TEST_LABEL: "1"}),
        name=name,
    )
    yield cid
    try:
        engine.containers.remove(cid, force=True)
    except NotFound:
        pass


@pytest.fixture(scope="module")
def tokens(service, site):
    """One token per scope, each with that scope alone."""
    out = {}
    for scope in SCOPES:
        r = service.request("POST", "/v1/token", json={"id": site, "scopes": [scope], "ttl": 600})
        assert r.status_code == 200, r.text
        out[scope] = r.json()["token"]
    return out


#: (method, path, query, body) → the scopes that open it.
CASES = [
    ("GET", "/v1/container/logs", {"tail": "1"}, None, frozenset({"logs"})),
    ("POST", "/v1/container/restore", {"backup": "20260101T000000Z-00000000"}, None, frozenset({"backup"})),
    ("GET", "/v1/container/stats", {"since": "0"}, None, frozenset({"stats"})),
    ("GET", "/v1/events", {"limit": "1"}, None, frozenset({"events"})),
    ("GET", "/v1/git/head", {}, None, frozenset({"git"})),
    ("GET", "/v1/container", {}, None, EVERY),
    ("GET", "/v1/env", None, None, PANEL_ONLY),
    ("GET", "/v1/metrics", None, None, PANEL_ONLY),
    ("GET", "/v1/container/backups", {}, None, PANEL_ONLY),
    ("PATCH", "/v1/container", {}, {"memory": 0.5}, PANEL_ONLY),
    ("POST", "/v1/container/access", {}, {"password": "never-set-by-a-scoped-token"}, PANEL_ONLY),
]


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize(("method", "path", "query", "body", "opens"), CASES, ids=[f"{c[0]} {c[1]}" for c in CASES])
def test_a_scoped_token_gets_through_exactly_where_the_table_says(
    service, site, tokens, scope, method, path, query, body, opens
):
    params = None if query is None else {"id": site, **query}
    r = requests.request(
        method,
        service.url + path,
        params=params,
        json=body,
        headers={"Authorization": f"Bearer {tokens[scope]}", "Connection": "close"},
        timeout=60,
    )
    if scope in opens:
        assert r.status_code not in (401, 403), r.text
    else:
        assert r.status_code == 403, r.text
        assert r.headers["content-type"].startswith("text/plain")


def test_power_opens_start_and_stop_and_nothing_else_changes_the_site(service, site, tokens, engine):
    def call(scope: str, verb: str) -> int:
        return requests.post(
            f"{service.url}/v1/container/{verb}",
            params={"id": site, "t": "0"},
            headers={"Authorization": f"Bearer {tokens[scope]}", "Connection": "close"},
            timeout=60,
        ).status_code

    for scope in set(SCOPES) - {"power"}:
        assert call(scope, "start") == 403
    assert not engine.containers.inspect(site).running
    assert call("power", "start") == 204
    assert engine.containers.inspect(site).running
    for scope in set(SCOPES) - {"power"}:
        assert call(scope, "stop") == 403
    assert engine.containers.inspect(site).running
    assert call("power", "stop") == 204
    assert not engine.containers.inspect(site).running


@pytest.mark.parametrize("name", ["jwt", "t", "x"])
def test_a_scoped_token_in_any_query_parameter_is_not_in_the_access_log(service, site, tokens, name):
    token = tokens["stats"]
    marker = f"after-{name}"
    requests.get(service.url + "/v1/container/stats", params={"id": site, name: token, "since": "0"}, timeout=30)
    service.get("/v1/env", params={"marker": marker})
    log = wait_until(lambda: marker in (text := service.log.read_text()) and text, 30, "the access log line")
    assert token not in log
    assert token.split(".")[2] not in log and token.split(".")[1] not in log
    assert f"{name}=[redacted]" in log
