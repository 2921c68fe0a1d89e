"""The two HebergOS panels' call sequences (docs/contract.md §3.0) replayed through gunicorn on the
real engine, checking exactly what they parse: statuses to the digit, keys, field types.

A panel never retries: a create answered 409 is the panel's failure, so no call here is
retried either (a 409 from another test's site in the same port area fails the test: rerun).
"""

from __future__ import annotations

import fcntl
import socket
import time
from pathlib import Path

import pytest

from dockerlink.engine import NotFound

from .live import DEFAULT_PORT, live_service, wait_until

ROOT = 35000
# The PHP panel sends instant, day, week; the Next.js one hour, 4hours, day, week.
SCALES = ("instant", "day", "week", "hour", "4hours")
# The insa Next.js panel: roots 2000 + k × PORT_AREA_SIZE, PORT_AREA_SIZE = 500; k = 106 and
# 107 are clear of the other modules' areas (a 5000-wide area of theirs included).
INSA_AREA = 500
INSA_ROOTS = (2000 + 106 * INSA_AREA, 2000 + 107 * INSA_AREA)
GIB = 1 << 30


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def stats(service, cid: str, **query: str) -> dict:
    r = service.get("/v1/container/stats", params={"id": cid, "since": "0", **query})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")  # PHP refuses anything else
    return r.json()


def assert_panels_can_chart(history: dict, scale: str) -> dict:
    """What both panels need of any answer: not `{}` (they crash), integer keys, and the last
    sample's limits numeric (they go into a non-null column). Returns the last sample."""
    assert history, f"{scale}: {{}} crashes both panels"
    keys = [int(k) for k in history]
    assert keys == sorted(keys) and len(set(keys)) == len(keys), scale
    last = history[str(keys[-1])]
    assert is_number(last["memory"]["limit"]) and is_number(last["cpu"]["limit"]), (scale, last)
    return last


def wait_for_samples(service, cid: str, count: int, seconds: float = 30) -> dict:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        body = stats(service, cid)
        if len(body) >= count:
            return body
        time.sleep(0.5)
    pytest.fail(f"fewer than {count} stats samples after {seconds} s")


def test_the_panels_call_sequences_get_exactly_what_they_parse(service, engine, unique_name):
    listing = service.get("/v1/container")
    assert listing.status_code == 200
    assert set(listing.json()) == {"error", "success"}

    body = {"name": unique_name, "host_port_root": ROOT, "memory": 0.25, "cpulimit": 0.5}
    created = service.request("PUT", "/v1/container", json=body)
    assert created.status_code == 200, created.text  # exactly: the PHP panel takes anything else for a failure
    cid = created.json()["Id"]
    try:
        for scale in SCALES:  # created, never started: sampled zeros or the stand-in, never {}
            assert_panels_can_chart(stats(service, cid, scale=scale), scale)
        entry = service.get("/v1/container").json()["success"][cid]  # the key becomes the panel's site id
        assert entry["name"] == "/" + unique_name  # the PHP panel cuts the first character
        assert int(entry["host_port_root"]) == ROOT and entry["state"] == "created"

        missing = "f" * 64
        by_id = service.get("/v1/container", params=[("id", cid), ("id", missing)]).json()
        assert list(by_id["success"]) == [cid] and list(by_id["error"]) == [missing]

        for action in ("start", "stop", "restart"):  # restart of a stopped site, too
            r = service.request("POST", f"/v1/container/{action}", params={"id": cid})
            assert (r.status_code, r.text) == (204, ""), (action, r.text)
            if action == "stop":
                for scale in SCALES:
                    assert_panels_can_chart(stats(service, cid, scale=scale), scale)
        running = service.get("/v1/container", params={"id": cid}).json()["success"][cid]
        assert running["state"] == "running" and isinstance(running["started_at"], int)
        assert cid in service.get("/v1/container", params={"running": "true"}).json()["success"]
        assert cid not in service.get("/v1/container", params={"running": "false"}).json()["success"]

        wait_for_samples(service, cid, 3)
        for scale in SCALES:
            history = stats(service, cid, scale=scale)
            assert history, scale  # never {} while samples exist
            keys = [int(k) for k in history]
            assert keys == sorted(keys) and len(set(keys)) == len(keys)
            for point in history.values():
                fields = [
                    point["memory"]["used"],
                    point["memory"]["limit"],
                    point["cpu"]["usage_percent"],
                    point["cpu"]["limit"],
                    *(point["net"][k] for k in ("up", "down", "delta_up", "delta_down")),
                ]
                assert all(is_number(v) for v in fields), (scale, point)
        last = list(stats(service, cid))[-1]
        assert last not in stats(service, cid, since=last)  # since is exclusive

        for limits in ({"memory": 0.5}, {"cpulimit": 1}):  # two requests, as the panels send them
            r = service.request("PATCH", "/v1/container", params={"id": cid}, json=limits)
            assert r.status_code == 200, r.text
        d = engine.containers.inspect(cid)
        assert (d.memory, d.cpu_quota) == (1 << 29, 100_000)

        engine.execs.run(cid, ["sh", "-c", "echo previous-owner > /var/www/html/index.html"])
        assert engine.containers.inspect(cid).running  # the DELETE of a running site
        r = service.request("DELETE", "/v1/container", params={"id": cid})
        assert (r.status_code, r.text) == (204, "")
        with pytest.raises(NotFound):
            engine.volumes.inspect(f"dockerlink-{unique_name}-www")

        again = service.request("PUT", "/v1/container", params={"start": "true"}, json=body)
        assert again.status_code == 200, again.text
        cid = again.json()["Id"]
        assert engine.execs.run(cid, ["ls", "-A", "/var/www/html"]).stdout == b""
    finally:
        service.request("DELETE", "/v1/container", params={"id": cid})


@pytest.fixture(scope="module")
def insa(engine, tmp_path_factory):
    """dockerlink as the insa panel's host runs it: `bind` unset (both loopbacks, port 7200),
    `port_area_size` = the panel's 500, reached at [::1] as a client resolving `localhost`
    to ::1 first. Its collector's rounds are an hour apart, so its sites have no sample:
    their stats are the stand-in (a round lands only on an hour's first second)."""
    lock_path = Path("/tmp/dockerlink-tests-port-7200.lock")  # other test sessions on this host
    with open(lock_path, "a") as lock:

        def locked() -> bool:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                return False

        wait_until(locked, 900, "another test session to free port 7200")
        settings = {"port_area_size": str(INSA_AREA), "publish_ip": "127.0.0.1", "stats_interval": "3600"}
        with live_service(tmp_path_factory.mktemp("insa"), default_bind=True, **settings) as s:
            yield s


def create(service, name: str, root: int, **limits: float) -> str:  # noqa: ANN001
    """One PUT, as a panel sends it: anything but 200 fails (a panel never retries a 409)."""
    body = {"name": name, "host_port_root": root, "memory": 0.25, "cpulimit": 0.5, **limits}
    r = service.request("PUT", "/v1/container", json=body)
    assert r.status_code == 200, f"{r.status_code} {r.text} (a panel does not retry: no retry here)"
    return r.json()["Id"]


def stand_in_or_zeros(history: dict, memory_gib: float, cpu_percent: float) -> None:
    """A site the insa service never sampled answers the stand-in: its limits, zero use. Only
    if the test crossed an hour's first second did a round sample it (zeros, limits too)."""
    [(key, point)] = history.items()
    sampled = int(key) % 3600 == 0
    limits = (0.0, 0.0) if sampled else (memory_gib, cpu_percent)
    assert (point["memory"]["limit"], point["cpu"]["limit"]) == pytest.approx(limits, abs=1e-5), point
    assert (point["memory"]["used"], point["cpu"]["usage_percent"]) == (0.0, 0.0)
    assert set(point["net"].values()) == {0.0}


def test_the_default_bind_answers_on_both_loopbacks(insa):
    """The panels call http://localhost:7200/v1; `localhost` may be ::1 first (Node < 20 does
    not fall back to 127.0.0.1)."""
    for family, host in ((socket.AF_INET6, "::1"), (socket.AF_INET, "127.0.0.1")):
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.connect((host, DEFAULT_PORT))
            s.sendall(b"GET /v1/container HTTP/1.1\r\nHost: localhost:7200\r\nConnection: close\r\n\r\n")
            assert s.recv(12) == b"HTTP/1.1 200", host
    assert set(insa.get("/v1/container").json()) == {"error", "success"}  # through [::1]


def test_the_insa_panel_with_port_area_size_500(insa, service, engine, unique_name):
    """The insa Next.js panel's sequence through [::1]:7200, with its roots, its PATCHes
    (cpulimit as a percentage, 0s) and stats of sites that have no sample yet."""
    first, second = INSA_ROOTS
    a = create(insa, unique_name, first)
    b = create(insa, unique_name + "-b", second)  # the next area: adjacent, not overlapping at 500
    try:
        # The session's service has the default port_area_size (5000): the same root is a 409,
        # which the panel does not retry, and nothing is created.
        r = service.request(
            "PUT",
            "/v1/container",
            json={"name": unique_name + "-c", "host_port_root": second, "memory": 1, "cpulimit": 1},
        )
        assert r.status_code == 409, r.text
        assert unique_name + "-c" not in str(service.get("/v1/container").json()["success"])

        for scale in SCALES:  # created, never started
            history = stats(insa, a, scale=scale)
            assert_panels_can_chart(history, scale)
            stand_in_or_zeros(history, 0.25, 50.0)

        for limits in ({"cpulimit": 50}, {"memory": 0}, {"cpulimit": 0}):  # the insa panel's %; the forms allow 0
            r = insa.request("PATCH", "/v1/container", params={"id": a}, json=limits)
            assert r.status_code == 200, (limits, r.text)
            if limits == {"cpulimit": 50}:
                assert engine.containers.inspect(a).cpu_quota == 50 * 100_000
                assert r.json()["warning"], r.text  # 50 cores: above this host's
        host = engine.system.info()
        d = engine.containers.inspect(a)
        assert d.cpu_quota <= 0 and abs(d.memory - host.memory_total) < 4096
        for scale in SCALES:
            stand_in_or_zeros(stats(insa, a, scale=scale), host.memory_total / GIB, host.cpus * 100.0)

        for action in ("start", "stop"):
            r = insa.request("POST", f"/v1/container/{action}", params={"id": b})
            assert (r.status_code, r.text) == (204, ""), action
        for scale in SCALES:  # stopped before any round
            history = stats(insa, b, scale=scale)
            assert_panels_can_chart(history, scale)
            stand_in_or_zeros(history, 0.25, 50.0)
        r = insa.request("POST", "/v1/container/restart", params={"id": b})  # a stopped site
        assert (r.status_code, r.text) == (204, "")
        assert engine.containers.inspect(b).running

        engine.execs.run(b, ["sh", "-c", "echo site > /var/www/html/index.html"])
        r = insa.request("DELETE", "/v1/container", params={"id": b})  # a running site
        assert (r.status_code, r.text) == (204, "")
        with pytest.raises(NotFound):
            engine.volumes.inspect(f"dockerlink-{unique_name}-b-www")  # its files are gone
        with pytest.raises(NotFound):
            engine.containers.inspect(b)
    finally:
        for cid in (a, b):
            insa.request("DELETE", "/v1/container", params={"id": cid})
