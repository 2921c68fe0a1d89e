"""Scoped tokens through the app: every endpoint × every scope (allowed or 403), only for
the token's own container, minted and revoked by the panel's token only."""

from __future__ import annotations

import tempfile

import falcon
import pytest
from falcon.testing import TestClient

from dockerlink.app import create_app
from dockerlink.backups import Catalog, Record
from dockerlink.config import Config
from dockerlink.events.journal import Journal
from dockerlink.tokens import ENDPOINT_SCOPES, SCOPES, ScopedTokens
from tests.fakes import FakeEngine, FakeStore

TOKEN = "panel-token-0123456789abcdef"
PANEL = {"Authorization": f"Bearer {TOKEN}"}
OWNED = {"dockerlink": "0.1.0", "dockerlink.host_port_root": "10000"}


class Clock:
    now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Host:
    """An app over a fake engine with two dockerlink sites and a foreign container."""

    def __init__(self, tmp_dir: str, api_token: str = TOKEN) -> None:
        self.engine = FakeEngine()
        self.site1 = self.engine.containers.add("site1", labels=OWNED)
        self.site2 = self.engine.containers.add("site2", labels={**OWNED, "dockerlink.host_port_root": "20000"})
        self.foreign = self.engine.containers.add("db")
        self.clock = Clock()
        config = Config(
            stats_db=f"{tmp_dir}/stats.sqlite3",
            create_lock=f"{tmp_dir}/create.lock",
            backup_dir=f"{tmp_dir}/backups",
            api_token=api_token,
        )
        self.config = config
        tokens = ScopedTokens.for_config(config, self.clock)
        self.app = create_app(config, engine=self.engine, store=FakeStore(), tokens=tokens)
        self.client = TestClient(self.app)

    def mint(self, scopes: list[str], ref: str = "site1", ttl: int = 600) -> str:
        r = self.client.simulate_post("/v1/token", json={"id": ref, "scopes": scopes, "ttl": ttl}, headers=PANEL)
        assert r.status_code == 200, r.text
        return r.json["token"]


def _endpoints() -> list[tuple[str, str]]:
    """Every (method, route) of the app: endpoints added later are covered without a change here."""
    with tempfile.TemporaryDirectory() as tmp:
        app = Host(tmp).app
    found: list[tuple[str, str]] = []

    def walk(nodes) -> None:  # noqa: ANN001
        for node in nodes:
            if node.resource is not None:
                for method in sorted(falcon.constants.COMBINED_METHODS):
                    if method != "OPTIONS" and hasattr(node.resource, f"on_{method.lower()}"):
                        found.append((method, node.uri_template))
            walk(node.children)

    walk(app._router._roots)
    return sorted(found, key=lambda e: (e[1], e[0]))


ENDPOINTS = _endpoints()
BODY = {"id": "site1", "scopes": ["stats"], "name": "new1", "host_port_root": 30000, "memory": 0.5, "cpulimit": 1}


def _call(host: Host, method: str, route: str, token: str, ref: str | None) -> falcon.testing.Result:
    params = {"branch": "main", "jti": "x" * 22, "since": "0"}
    if ref is not None:
        params["id"] = ref
    body = BODY if method in ("PUT", "PATCH", "POST") and route in ("/v1/container", "/v1/token") else None
    return host.client.simulate_request(
        method, route, params=params, json=body, headers={"Authorization": f"Bearer {token}"}
    )


#: What a scoped token may call, written out by hand (not read from `ENDPOINT_SCOPES`, so a
#: change to that table is noticed): the scopes that open each endpoint; EVERY for every
#: scope (the listing, narrowed to the token's container; the open paths); PANEL for none.
EVERY = frozenset(SCOPES)
PANEL_ONLY: frozenset[str] = frozenset()
EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/metrics"): PANEL_ONLY,
    ("GET", "/ui"): EVERY,
    ("GET", "/v1/capacity"): PANEL_ONLY,
    ("GET", "/ui/ui.css"): EVERY,
    ("GET", "/ui/ui.js"): EVERY,
    ("DELETE", "/v1/container"): PANEL_ONLY,
    ("GET", "/v1/container"): EVERY,
    ("PATCH", "/v1/container"): PANEL_ONLY,
    ("PUT", "/v1/container"): PANEL_ONLY,
    ("POST", "/v1/container/access"): PANEL_ONLY,
    ("POST", "/v1/container/isolate"): PANEL_ONLY,
    ("DELETE", "/v1/container/backup"): PANEL_ONLY,
    ("GET", "/v1/container/backup"): PANEL_ONLY,
    ("POST", "/v1/container/backup"): frozenset({"backup"}),
    ("PUT", "/v1/container/backup"): PANEL_ONLY,
    ("GET", "/v1/container/backups"): PANEL_ONLY,
    ("GET", "/v1/container/logs"): frozenset({"logs"}),
    ("POST", "/v1/container/restart"): frozenset({"power"}),
    ("POST", "/v1/container/restore"): frozenset({"backup"}),
    ("POST", "/v1/container/start"): frozenset({"power"}),
    ("GET", "/v1/container/stats"): frozenset({"stats"}),
    ("POST", "/v1/container/stop"): frozenset({"power"}),
    ("GET", "/v1/env"): PANEL_ONLY,
    ("GET", "/v1/events"): frozenset({"events"}),
    ("GET", "/v1/git"): frozenset({"git"}),
    ("PUT", "/v1/git"): frozenset({"git"}),
    ("GET", "/v1/git/branch"): frozenset({"git"}),
    ("POST", "/v1/git/branch"): frozenset({"git"}),
    ("GET", "/v1/git/branches"): frozenset({"git"}),
    ("GET", "/v1/git/head"): frozenset({"git"}),
    ("GET", "/v1/health"): EVERY,
    ("GET", "/v1/metrics"): PANEL_ONLY,
    ("GET", "/v1/openapi.json"): PANEL_ONLY,
    ("DELETE", "/v1/token"): PANEL_ONLY,
    ("POST", "/v1/token"): PANEL_ONLY,
    ("GET", "/v1/container/transfer"): PANEL_ONLY,
    ("POST", "/v1/container/transfer"): PANEL_ONLY,
    ("POST", "/v1/transfer/token"): PANEL_ONLY,
    # The receiving side: the transfer token alone (tests/transfer/test_resources.py), no site's scope.
    ("PUT", "/v1/transfer/receive"): PANEL_ONLY,
    ("DELETE", "/v1/transfer/receive"): PANEL_ONLY,
    ("PUT", "/v1/transfer/receive/data"): PANEL_ONLY,
    ("POST", "/v1/transfer/receive/commit"): PANEL_ONLY,
}


def test_the_matrix_covers_the_known_endpoints():
    assert ("POST", "/v1/container/start") in ENDPOINTS and ("POST", "/v1/token") in ENDPOINTS
    assert set(ENDPOINT_SCOPES) <= set(ENDPOINTS)  # no row for an endpoint that does not exist
    missing = sorted(set(ENDPOINTS) - set(EXPECTED))
    assert not missing, f"write what a scoped token may do on these endpoints in EXPECTED: {missing}"
    assert set(EXPECTED) <= set(ENDPOINTS)


@pytest.mark.parametrize("scope", SCOPES)
@pytest.mark.parametrize(("method", "route"), ENDPOINTS, ids=[f"{m} {r}" for m, r in ENDPOINTS])
def test_every_endpoint_and_scope_is_allowed_or_403(tmp_path, method, route, scope):
    """Allowed: the same answer as the panel's token gives. Refused: 403, and nothing done."""
    if (method, route) not in EXPECTED:
        pytest.fail(f"no expected answer written for {method} {route} (see EXPECTED)")
    allowed = scope in EXPECTED[method, route]
    scoped_host, panel_host = Host(str(tmp_path / "a")), Host(str(tmp_path / "b"))
    scoped = _call(scoped_host, method, route, scoped_host.mint([scope]), scoped_host.site1.id)
    if allowed:
        panel = _call(panel_host, method, route, TOKEN, panel_host.site1.id)
        assert scoped.status_code == panel.status_code, scoped.text
        assert scoped.status_code not in (401, 403)
    else:
        assert scoped.status_code == 403, scoped.text
        assert scoped.headers["content-type"].startswith("text/plain")
        assert set(scoped_host.engine.containers.by_id) == {
            c.id for c in (scoped_host.site1, scoped_host.site2, scoped_host.foreign)
        }
        assert scoped_host.engine.containers.by_id[scoped_host.site1.id].running


#: Endpoints a scoped token may call for its own container (the open paths take no id).
ALLOWED = sorted(
    e for e, scopes in EXPECTED.items() if scopes and e[1] not in ("/v1/health", "/ui", "/ui/ui.css", "/ui/ui.js")
)


@pytest.mark.parametrize(("method", "route"), ALLOWED, ids=[f"{m} {r}" for m, r in ALLOWED])
@pytest.mark.parametrize("other", ["full id", "prefix", "name", "foreign", "unknown", "ambiguous"])
def test_any_id_that_is_not_the_tokens_container_is_403(tmp_path, method, route, other):
    host = Host(str(tmp_path))
    token = host.mint(list(SCOPES))
    ref = {
        "full id": host.site2.id,
        "prefix": host.site2.id[:12],
        "name": "site2",
        "foreign": "db",
        "unknown": "nosuchsite",
        "ambiguous": "",  # set below: a prefix shared by several containers
    }[other]
    if other == "ambiguous":
        ids = [c.id for c in host.engine.containers.by_id.values()]
        ref = next((i[:1] for i in ids if sum(j.startswith(i[:1]) for j in ids) > 1), None) or pytest.skip(
            "no shared first digit among the fake ids"
        )
    r = _call(host, method, route, token, ref)
    assert r.status_code == 403, r.text
    assert host.engine.containers.by_id[host.site2.id].running


@pytest.mark.parametrize("ref", ["full id", "prefix", "name"])
def test_the_tokens_own_container_may_be_named_any_way(tmp_path, ref):
    host = Host(str(tmp_path))
    given = {"full id": host.site1.id, "prefix": host.site1.id[:10], "name": "site1"}[ref]
    r = host.client.simulate_post(
        "/v1/container/stop", params={"id": given}, headers={"Authorization": f"Bearer {host.mint(['power'])}"}
    )
    assert r.status_code == 204
    assert not host.engine.containers.by_id[host.site1.id].running


def test_a_listing_shows_only_the_tokens_container(tmp_path):
    host = Host(str(tmp_path))
    r = host.client.simulate_get("/v1/container", headers={"Authorization": f"Bearer {host.mint(['stats'])}"})
    assert r.status_code == 200
    assert list(r.json["success"]) == [host.site1.id] and r.json["error"] == {}
    r = host.client.simulate_get(
        "/v1/container", params={"id": ["site1", "site2"]}, headers={"Authorization": f"Bearer {host.mint(['stats'])}"}
    )
    assert r.status_code == 403


@pytest.mark.parametrize("route", ["/v1/git", "/v1/git/head", "/v1/git/branches", "/v1/git/branch"])
def test_host_git_is_never_open_to_a_scoped_token(tmp_path, route):
    host = Host(str(tmp_path))
    r = host.client.simulate_get(route, headers={"Authorization": f"Bearer {host.mint(['git'])}"})
    assert r.status_code == 403


def test_the_panel_token_alone_mints_and_revokes(tmp_path):
    host = Host(str(tmp_path))
    scoped = {"Authorization": f"Bearer {host.mint(list(SCOPES))}"}
    assert host.client.simulate_post("/v1/token", json=BODY, headers=scoped).status_code == 403
    assert host.client.simulate_delete("/v1/token", params={"jti": "x" * 22}, headers=scoped).status_code == 403
    assert host.client.simulate_post("/v1/token", json=BODY).status_code == 401


def test_a_token_for_a_container_dockerlink_did_not_create_is_refused(tmp_path):
    host = Host(str(tmp_path))
    r = host.client.simulate_post("/v1/token", json={"id": "db", "scopes": ["stats"]}, headers=PANEL)
    assert r.status_code == 403
    r = host.client.simulate_post("/v1/token", json={"id": "nosuch", "scopes": ["stats"]}, headers=PANEL)
    assert r.status_code == 404


def test_the_answer_is_a_token_for_the_full_id_and_its_expiry(tmp_path):
    host = Host(str(tmp_path))
    r = host.client.simulate_post("/v1/token", json={"id": "site1", "scopes": ["power"], "ttl": 120}, headers=PANEL)
    assert r.json["expires"] == int(host.clock.now) + 120
    import jwt

    assert jwt.decode(r.json["token"], options={"verify_signature": False})["sub"] == host.site1.id


def test_an_expired_token_is_401(tmp_path):
    host = Host(str(tmp_path))
    token = host.mint(["power"], ttl=60)
    headers = {"Authorization": f"Bearer {token}"}
    assert host.client.simulate_get("/v1/container", headers=headers).status_code == 200
    host.clock.now += 60
    r = host.client.simulate_get("/v1/container", headers=headers)
    assert r.status_code == 401 and "expired" in r.text


def test_a_revoked_token_is_401_at_once(tmp_path):
    host = Host(str(tmp_path))
    token = host.mint(["power"])
    headers = {"Authorization": f"Bearer {token}"}
    import jwt

    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert host.client.simulate_delete("/v1/token", params={"jti": jti}, headers=PANEL).status_code == 204
    r = host.client.simulate_post("/v1/container/stop", params={"id": "site1"}, headers=headers)
    assert r.status_code == 401 and "revoked" in r.text
    assert host.engine.containers.by_id[host.site1.id].running


def test_changing_api_token_revokes_every_scoped_token(tmp_path):
    before = Host(str(tmp_path))
    token = before.mint(["stats"])
    after = Host(str(tmp_path), api_token="a-new-panel-token-0123456789")
    assert after.client.simulate_get("/v1/container", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_scoped_token_works_from_a_browser_origin_with_cors(tmp_path):
    engine = FakeEngine()
    engine.containers.add("site1", labels=OWNED)
    config = Config(stats_db=str(tmp_path / "s.sqlite3"), api_token=TOKEN, cors_origins=("https://panel.example",))
    client = TestClient(create_app(config, engine=engine, store=FakeStore()))
    token = client.simulate_post("/v1/token", json={"id": "site1", "scopes": ["stats"]}, headers=PANEL).json["token"]
    origin = {"Origin": "https://panel.example"}
    pre = client.simulate_options(
        "/v1/container",
        headers={**origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization"},
    )
    assert pre.headers["Access-Control-Allow-Origin"] == "https://panel.example"
    assert "authorization" in pre.headers["Access-Control-Allow-Headers"].lower()
    r = client.simulate_get("/v1/container", headers={**origin, "Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == "https://panel.example"


def test_scoped_tokens_need_api_token(tmp_path):
    client = TestClient(create_app(Config(stats_db=str(tmp_path / "s")), engine=FakeEngine(), store=FakeStore()))
    r = client.simulate_post("/v1/token", json={"id": "site1", "scopes": ["stats"]})
    assert r.status_code == 403 and "api_token" in r.text


def test_a_scoped_token_reads_only_its_containers_events_never_an_earlier_ones_of_its_name(tmp_path):
    host = Host(str(tmp_path))
    old = "0" * 64  # the container named site1 before this one (deleted)
    journal = Journal(host.config.events_path)
    journal.append(1.0, old, "site1", "backup_done", {"backup": "20260101T000000Z-0000000a", "kind": "final"})
    journal.append(2.0, host.site2.id, "site2", "started", {})
    journal.append(3.0, host.site1.id, "site1", "created", {})
    headers = {"Authorization": f"Bearer {host.mint(['events'])}"}
    for params in ({"since": "0"}, {"since": "0", "id": "site1"}, {"since": "0", "id": host.site1.id[:12]}):
        r = host.client.simulate_get("/v1/events", params=params, headers=headers)
        assert r.status_code == 200, r.text
        assert [(e["seq"], e["id"]) for e in r.json["events"]] == [(3, host.site1.id)], params
    for other in (old, "site2"):
        assert host.client.simulate_get("/v1/events", params={"id": other}, headers=headers).status_code == 403


def test_a_scoped_token_never_restores_another_containers_backup(tmp_path):
    """site1's name had an earlier container, whose final backup is still listed under it."""
    host = Host(str(tmp_path))
    catalog = Catalog(host.config.backup_dir)
    catalog.site_dir("site1", create=True)
    old = "20260101T000000Z-0000000a"
    catalog.archive_path("site1", old).write_bytes(b"an earlier site1's files")
    catalog.save(Record(backup=old, name="site1", kind="final", state="done", started=1.0, container="0" * 64))
    headers = {"Authorization": f"Bearer {host.mint(['backup'])}"}
    for params in ({"backup": old}, {"backup": old, "from": "site1"}, {"backup": old, "id": host.site1.id}):
        r = host.client.simulate_post("/v1/container/restore", params={"id": "site1", **params}, headers=headers)
        assert r.status_code == 403, r.text
        assert r.headers["content-type"].startswith("text/plain") and r.text.count("\n") == 1
    assert host.engine.containers.by_id[host.site1.id].running  # never stopped for a restore
    r = host.client.simulate_post("/v1/container/restore", params={"id": "site1", "backup": old}, headers=PANEL)
    assert r.status_code == 409 and "from=site1" in r.text  # the panel is told how to say so


def test_a_parked_events_wait_ends_401_once_its_token_is_revoked(tmp_path, monkeypatch):
    """The wait parks (nothing comes for 30 s); the revocation, through another request,
    ends it with a 401 well before its deadline: a token's wait does not outlive it."""
    import threading
    import time

    import jwt

    from dockerlink.events.waiting import Waiters

    parked = threading.Event()
    wait_beyond = Waiters.wait_beyond

    def noting(self, seq, timeout):  # noqa: ANN001, ANN202
        parked.set()
        return wait_beyond(self, seq, timeout)

    monkeypatch.setattr(Waiters, "wait_beyond", noting)
    host = Host(str(tmp_path))
    token = host.mint(["events"])
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    answers: list = []
    waiter = threading.Thread(
        target=lambda: answers.append(
            host.client.simulate_get("/v1/events", params={"wait": "30"}, headers={"Authorization": f"Bearer {token}"})
        )
    )
    started = time.monotonic()
    waiter.start()
    assert parked.wait(20)
    assert host.client.simulate_delete("/v1/token", params={"jti": jti}, headers=PANEL).status_code == 204
    waiter.join(timeout=25)
    assert not waiter.is_alive() and time.monotonic() - started < 25  # not the 30 s deadline
    r = answers[0]
    assert r.status_code == 401 and r.text == "401 Unauthorized: token revoked\n"
    assert r.headers["www-authenticate"] == "Bearer"


def test_a_parked_events_wait_of_the_panel_token_is_not_cut(tmp_path):
    host = Host(str(tmp_path))
    r = host.client.simulate_get("/v1/events", params={"wait": "1"}, headers=PANEL)
    assert r.status_code == 200 and r.json == {"events": [], "next": 0}


def test_a_revoked_token_stays_refused_after_the_stats_file_is_healed(tmp_path):
    """A corrupt stats file is moved aside and restarted empty; the revocation must not go
    with it (a worker started after the heal opens only the fresh files)."""
    import os

    import jwt

    from dockerlink.stats.store import StatsStore

    host = Host(str(tmp_path))
    token = host.mint(["power"])
    headers = {"Authorization": f"Bearer {token}"}
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    assert host.client.simulate_delete("/v1/token", params={"jti": jti}, headers=PANEL).status_code == 204

    stats = tmp_path / "stats.sqlite3"
    StatsStore(str(stats)).close()  # the collector's history exists
    for suffix in ("", "-wal"):  # garbage over the file and its log, as a disk error would leave them
        part = tmp_path / f"stats.sqlite3{suffix}"
        if part.exists():
            part.write_bytes(os.urandom(max(part.stat().st_size, 4096)))
    store = StatsStore(str(stats))
    store.check()
    assert store.last_reset() is not None  # healed: moved aside, a fresh history
    assert any(p.name.startswith("stats.sqlite3.corrupt-") for p in tmp_path.iterdir())

    worker = Host(str(tmp_path))  # a worker started after the heal, with the same clock
    r = worker.client.simulate_post("/v1/container/stop", params={"id": "site1"}, headers=headers)
    assert r.status_code == 401 and "revoked" in r.text
    assert worker.engine.containers.by_id[worker.site1.id].running
