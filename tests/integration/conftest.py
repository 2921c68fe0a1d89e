"""Integration tests run against a real Docker engine with the real base image.

The test command (scripts/test.sh) starts dockerd and builds the image first; here a
missing engine is a failure with one clear line, never a silent skip. Every container and
volume a test makes is named `dltest-…` and labelled `dockerlink.test`, and removed at the
end of the session even when a test failed half-way.
"""

from __future__ import annotations

import os
import uuid

import pytest

from dockerlink.engine import Engine, EngineError, NotFound

TEST_LABEL = "dockerlink.test"
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
    for c in e.containers.list(all=True, filters={"label": [TEST_LABEL]}):
        try:
            e.containers.remove(c.id, force=True, volumes=True)
        except NotFound:
            pass
    for c in e.containers.list(all=True, filters={"name": ["dltest-"]}):
        try:
            e.containers.remove(c.id, force=True, volumes=True)
        except NotFound:
            pass
    r = e.transport.request("GET", ["volumes"])
    for v in (r.json() or {}).get("Volumes") or []:
        if v["Name"].startswith(("dltest-", "dockerlink-dltest-")) or TEST_LABEL in (v.get("Labels") or {}):
            try:
                e.volumes.remove(v["Name"], force=True)
            except EngineError:
                pass


@pytest.fixture
def unique_name() -> str:
    """A fresh container name that session clean-up will find."""
    return f"dltest-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def base_image() -> str:
    return BASE_IMAGE


@pytest.fixture(scope="session")
def service(engine, tmp_path_factory):
    """One gunicorn-served dockerlink for the session (stats sampled every second)."""
    from .live import live_service

    with live_service(tmp_path_factory.mktemp("service"), stats_interval="1", publish_ip="127.0.0.1") as s:
        yield s
