"""Integration tests run against a real Docker engine with the real base image.

The test command (scripts/test.sh) starts dockerd and builds the image first; here a
missing engine is a failure with one clear line, never a silent skip. Every container and
volume a test makes is named `dltest-<session>-…` (and, when made through the engine,
labelled `dockerlink.test`), and removed at the end of each module and of the session even
when a test failed half-way. Only this session's are swept, so two sessions on one daemon
leave each other alone; leftovers of sessions that were killed are swept once they are an
hour old.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest

from dockerlink.engine import Engine, EngineError

TEST_LABEL = "dockerlink.test"
SESSION = uuid.uuid4().hex[:6]
PREFIX = f"dltest-{SESSION}-"
STALE_AFTER = 3600
BASE_IMAGE = os.environ.get("base_image", "dockerlink/base:latest")


def pytest_collection_modifyitems(items):
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def engine() -> Engine:
    e = Engine(os.environ.get("docker_sock") or None)
    try:
        e.system.ping()
        e.images.inspect(BASE_IMAGE)
    except EngineError as exc:
        pytest.fail(f"integration tests need a Docker engine and {BASE_IMAGE}: {exc} (run scripts/test.sh)")
    yield e
    _remove_test_objects(e)
    e.close()


def _remove_test_objects(e: Engine) -> None:
    """This session's containers and volumes, and any test leftovers over an hour old."""
    now = time.time()
    r = e.transport.request("GET", ["containers", "json"], params={"all": "1"})
    for c in r.json() or []:
        name = (c.get("Names") or ["/"])[0].lstrip("/")
        is_test = name.startswith("dltest-") or TEST_LABEL in (c.get("Labels") or {})
        if name.startswith(PREFIX) or (is_test and now - c["Created"] > STALE_AFTER):
            try:
                e.containers.remove(c["Id"], force=True, volumes=True)
            except EngineError:
                pass
    r = e.transport.request("GET", ["volumes"])
    for v in (r.json() or {}).get("Volumes") or []:
        if v["Name"].startswith((PREFIX, f"dockerlink-{PREFIX}")):
            try:
                e.volumes.remove(v["Name"], force=True)
            except EngineError:
                pass


#: The kernel's ephemeral ports the tests' sites publish on (roots 35000-55500 and their
#: areas). A client socket that happens to take one of them makes the engine's bind fail
#: ("host port 41080 is already in use", seen in a CI run), so during the session they are
#: reserved: never picked for an outgoing connection, still bound by docker-proxy.
#: 58000-60999 stay for outgoing connections (loopback reuses TIME_WAIT ports, tcp_tw_reuse=2).
RESERVED_PORTS = "32768-57999"
_RESERVED = "/proc/sys/net/ipv4/ip_local_reserved_ports"


@pytest.fixture(scope="session", autouse=True)
def _site_ports_kept_from_outgoing_connections():
    """Reserve RESERVED_PORTS beside what was reserved before, and put that back after."""
    try:
        with open(_RESERVED) as f:
            before = f.read().strip()
        with open(_RESERVED, "w") as f:
            f.write(",".join(p for p in (before, RESERVED_PORTS) if p))
    except OSError:  # not root, or a read-only /proc: the tests still run, as before
        yield
        return
    try:
        yield
    finally:
        with open(_RESERVED, "w") as f:
            f.write(before or "\n")


@pytest.fixture(scope="module", autouse=True)
def _sweep_after_each_module(engine) -> None:  # noqa: ANN001
    """This session's containers and volumes also go at the end of each module, so one
    module's sites (and their port areas) never meet the next module's."""
    yield
    _remove_test_objects(engine)


@pytest.fixture
def unique_name() -> str:
    """A fresh container name that session clean-up will find."""
    return f"{PREFIX}{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def base_image() -> str:
    return BASE_IMAGE


@pytest.fixture(scope="session")
def service(engine, tmp_path_factory):
    """One gunicorn-served dockerlink for the session (stats sampled every second)."""
    from .live import live_service

    with live_service(tmp_path_factory.mktemp("service"), stats_interval="1", publish_ip="127.0.0.1") as s:
        yield s
