"""The OpenAPI document is true: it lists exactly the app's routes and methods, and
schemathesis finds no 5xx, no undeclared status and no response off its schema."""

from __future__ import annotations

import falcon
import pytest
import schemathesis
from falcon.testing import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from dockerlink.app import create_app
from dockerlink.config import Config
from dockerlink.stats.store import StatsStore
from tests.fakes import FakeEngine

TOKEN = "contract-test-token-0123456789"


def _app(tmp_dir: str) -> falcon.App:
    engine = FakeEngine()
    engine.containers.add("site1", labels={"dockerlink": "0.1.0", "dockerlink.host_port_root": "10000"})
    engine.containers.add("foreign")
    base = engine.images.known["dockerlink/base:latest"]
    engine.images.inspect = lambda ref: base  # any well-formed image exists: the contract is ours
    config = Config(stats_db=f"{tmp_dir}/stats.sqlite3", api_token=TOKEN, backup_dir=f"{tmp_dir}/backups")
    return create_app(config, engine=engine, store=StatsStore(config.stats_db))


def _routes(app: falcon.App) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}

    def walk(nodes) -> None:  # noqa: ANN001
        for node in nodes:
            if node.resource is not None:
                methods = {
                    m.lower() for m in falcon.constants.COMBINED_METHODS if hasattr(node.resource, f"on_{m.lower()}")
                }
                found[node.uri_template] = methods
            walk(node.children)

    walk(app._router._roots)
    return found


def test_the_document_lists_exactly_the_apps_routes_and_methods(tmp_path):
    app = _app(str(tmp_path))
    doc = TestClient(app).simulate_get("/v1/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"}).json
    documented = {
        path: {m for m in item if m in ("get", "put", "post", "delete", "patch")} for path, item in doc["paths"].items()
    }
    assert documented == _routes(app)


def test_the_document_is_openapi_3_1_with_bearer_security(tmp_path):
    doc = (
        TestClient(_app(str(tmp_path)))
        .simulate_get("/v1/openapi.json", headers={"Authorization": f"Bearer {TOKEN}"})
        .json
    )
    assert doc["openapi"].startswith("3.1")
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert doc["paths"]["/v1/health"]["get"]["security"] == []


def _operations() -> list[tuple[str, str]]:
    from dockerlink.openapi import document

    return [
        (path, method)
        for path, item in sorted(document()["paths"].items())
        for method in sorted(item)
        if method in ("get", "put", "post", "delete", "patch")
    ]


@pytest.fixture
def contract_schema(tmp_path_factory):
    """A fresh app per operation: the containers one operation's examples create must not make
    another's generated id an ambiguous prefix (a documented 400)."""
    app = _app(str(tmp_path_factory.mktemp("contract")))
    return schemathesis.openapi.from_wsgi("/v1/openapi.json", app, headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.mark.parametrize(("path", "method"), _operations())
def test_every_endpoint_keeps_its_contract(contract_schema, path, method):
    """Generated and negative inputs, a fixed seed, a bounded example count."""
    operation = contract_schema[path][method]
    if (path, method) in _SOME_VALID_INPUT_REFUSED:
        return _check_upload(operation)

    @given(case=operation.as_strategy())
    @settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check(case) -> None:  # noqa: ANN001
        case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})

    check()


#: A backup upload's schema is "binary": it cannot say "a zstd tar of www/", so generated
#: bytes are rightly refused (400) though schema-valid. Restore's generated ids hit an id
#: prefix that several of the fake's containers share (400, SPEC §3) with this seed.
_SOME_VALID_INPUT_REFUSED = {("/v1/container/backup", "put"), ("/v1/container/restore", "post")}


def _check_upload(operation) -> None:  # noqa: ANN001
    """Every check but "schema-valid input is accepted"."""

    @given(case=operation.as_strategy())
    @settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def check_upload(case) -> None:  # noqa: ANN001
        case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=[positive_data_acceptance])

    check_upload()
