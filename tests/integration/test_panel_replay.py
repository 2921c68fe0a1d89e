"""The two HebergOS panels' call sequences (SPEC §3.0) replayed through gunicorn on the
real engine, checking exactly what they parse: statuses to the digit, keys, field types."""

from __future__ import annotations

import time

import pytest

from dockerlink.engine import NotFound

ROOT = 35000
# The PHP panel sends instant, day, week; the Next.js one hour, 4hours, day, week.
SCALES = ("instant", "day", "week", "hour", "4hours")


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def stats(service, cid: str, **query: str) -> dict:
    r = service.get("/v1/container/stats", params={"id": cid, "since": "0", **query})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")  # PHP refuses anything else
    return r.json()


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
        entry = service.get("/v1/container").json()["success"][cid]  # the key becomes the panel's site id
        assert entry["name"] == "/" + unique_name  # the PHP panel cuts the first character
        assert int(entry["host_port_root"]) == ROOT and entry["state"] == "created"

        missing = "f" * 64
        by_id = service.get("/v1/container", params=[("id", cid), ("id", missing)]).json()
        assert list(by_id["success"]) == [cid] and list(by_id["error"]) == [missing]

        for action in ("start", "stop", "restart"):
            r = service.request("POST", f"/v1/container/{action}", params={"id": cid})
            assert (r.status_code, r.text) == (204, ""), (action, r.text)
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
