"""A create's port-area check against the real engine, through gunicorn's two workers: a
site made a moment earlier (by either worker) or outside dockerlink counts, one removed
stops counting, and once a worker's book of areas is seeded its creates list no container
(the engine's volume `create` event, the book's barrier, does arrive)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from dockerlink.engine import ContainerSpec

from .conftest import BASE_IMAGE, PREFIX, TEST_LABEL
from .live import live_service

AREA = 500
ROOT = 36000  # this module's port areas: 36000-37999


@pytest.fixture(scope="module")
def aservice(engine, tmp_path_factory):  # noqa: ANN001
    tmp = tmp_path_factory.mktemp("areas")
    timings = tmp / "timings.jsonl"
    settings = {"port_area_size": str(AREA), "publish_ip": "127.0.0.1", "DOCKERLINK_TIMINGS": str(timings)}
    with live_service(tmp, **settings) as s:
        s.timings = timings
        yield s


def put(svc, name: str, root: int):  # noqa: ANN001, ANN201
    body = {"name": name, "host_port_root": root, "memory": 0.25, "cpulimit": 0.5}
    return svc.request("PUT", "/v1/container", json=body)


def delete(svc, name: str) -> None:  # noqa: ANN001
    assert svc.request("DELETE", "/v1/container", params={"id": name}).status_code == 204


def area_checks(svc) -> list[list[str]]:  # noqa: ANN001
    """Each create's engine calls inside its area check, in the order they were made."""
    out = []
    for line in svc.timings.read_text().splitlines():
        entry = json.loads(line)
        if entry["op"] != "PUT /v1/container":
            continue
        steps, calls, depth = entry["steps"], [], None
        for d, name, _ in steps:
            if name == "area check":
                depth = d
            elif depth is not None and d > depth:
                calls.append(name)
            elif depth is not None:
                break
        out.append(calls)
    return out


def test_a_site_made_a_moment_earlier_by_either_worker_counts(aservice):
    first, second = f"{PREFIX}area-a", f"{PREFIX}area-b"
    for _ in range(2):  # fresh connections: each worker meets the other's site
        assert put(aservice, first, ROOT).status_code == 200
        refused = put(aservice, second, ROOT + 100)
        assert refused.status_code == 409 and f"that of container {first}" in refused.text
        delete(aservice, first)
    with ThreadPoolExecutor(2) as pool:  # two at once, overlapping: one is made
        answers = list(pool.map(lambda name_root: put(aservice, *name_root), [(first, ROOT), (second, ROOT + 200)]))
    assert sorted(r.status_code for r in answers) == [200, 409]
    delete(aservice, first if answers[0].status_code == 200 else second)


def test_a_container_made_and_removed_outside_dockerlink_counts_then_stops_counting(aservice, engine):  # noqa: ANN001
    labels = {"dockerlink": "outside", "dockerlink.host_port_root": str(ROOT + 1000), TEST_LABEL: "1"}
    spec = ContainerSpec(image=BASE_IMAGE, cmd=("true",), labels=labels, network="none")
    outside, _ = engine.containers.create(spec, name=f"{PREFIX}area-outside")
    name = f"{PREFIX}area-c"
    refused = put(aservice, name, ROOT + 1100)
    assert refused.status_code == 409 and "area-outside" in refused.text
    engine.containers.remove(outside, force=True)
    assert put(aservice, name, ROOT + 1100).status_code == 200
    delete(aservice, name)


def test_once_seeded_a_create_lists_no_container(aservice):
    aservice.timings.write_text("")
    for i in range(4):
        name = f"{PREFIX}area-d{i}"
        assert put(aservice, name, ROOT + (i % 4) * AREA).status_code == 200
        delete(aservice, name)
    checks = area_checks(aservice)
    assert len(checks) == 4
    # Each worker's book was seeded by the tests above: none of these lists (a stream that
    # never delivered the volume's event would make every one list, after a wait).
    assert [c for c in checks if "engine GET containers/json" in c] == [], checks
