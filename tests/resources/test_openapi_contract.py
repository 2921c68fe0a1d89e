"""The OpenAPI document is true: it lists exactly the app's routes and methods, and
schemathesis, with valid (positive) and schema-violating (negative) generated input, finds
no 5xx, no undeclared status, no response off its schema, no valid input refused and no
invalid input accepted. Each run prints how many cases it really made."""

from __future__ import annotations

from collections import Counter

import falcon
import pytest
import schemathesis
from falcon.testing import TestClient
from hypothesis import HealthCheck, given, reject, settings
from schemathesis import GenerationMode
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
    config = Config(
        stats_db=f"{tmp_dir}/stats.sqlite3",
        create_lock=f"{tmp_dir}/create.lock",
        api_token=TOKEN,
        backup_dir=f"{tmp_dir}/backups",
    )
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


def _optional_query(path: str, method: str) -> set[str]:
    from dockerlink.openapi import document

    parameters = document()["paths"][path][method].get("parameters", [])
    return {p["name"] for p in parameters if p["in"] == "query" and not p.get("required")}


def _has_inputs(path: str, method: str) -> bool:
    from dockerlink.openapi import document

    operation = document()["paths"][path][method]
    return bool(operation.get("parameters") or operation.get("requestBody"))


MAX_EXAMPLES = 40
#: An operation with inputs must really be tried this often: the suppressed health checks
#: (too slow, too much filtering) would otherwise let hypothesis run only a few cases.
MIN_EXAMPLES = 20


@pytest.fixture
def contract_schema(tmp_path, monkeypatch):
    """A fresh app per operation: containers made by one operation's cases (a PUT) would
    otherwise make another's one-character id an ambiguous prefix (a 400 on valid input).
    A schema cannot say "a command `sh` can parse": here every generated command is taken
    as parsable (tests/hosting/test_commands.py tests the check)."""
    from dockerlink.events import feed
    from dockerlink.hosting import commands

    monkeypatch.setattr(commands, "syntax_error", lambda command: None)

    feed.MAX_WAIT, saved = 0.05, feed.MAX_WAIT  # a long-poll on an empty journal: a short one here
    app = _app(str(tmp_path))
    yield schemathesis.openapi.from_wsgi("/v1/openapi.json", app, headers={"Authorization": f"Bearer {TOKEN}"})
    feed.MAX_WAIT = saved


#: A backup upload's schema is "binary": it cannot say "a zstd tar of www/", so generated
#: bytes are rightly refused (400) though schema-valid. Restore's generated ids hit an id
#: prefix that several of the fake's containers share (400, docs/contract.md §3).
_SOME_VALID_INPUT_REFUSED = {("/v1/container/backup", "put"), ("/v1/container/restore", "post")}


def _run(schema, path: str, method: str, mode: GenerationMode) -> Counter:  # noqa: ANN001
    """Call the operation with generated cases (fixed seed, bounded count), validating each
    answer with every default check; the statuses seen, counted."""
    operation = schema[path][method]
    blank_is_absent = _optional_query(path, method)
    statuses: Counter = Counter()

    @given(case=operation.as_strategy(generation_mode=mode, headers={"Authorization": f"Bearer {TOKEN}"}))
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def check(case) -> None:  # noqa: ANN001
        # A blank optional query value (also {} or [], sent as "name=") is the parameter left out
        # (params.text): not negative.
        if mode is GenerationMode.NEGATIVE and any(
            (case.query or {}).get(name) in ("", {}, []) for name in blank_is_absent
        ):
            reject()
        excluded = [positive_data_acceptance] if (path, method) in _SOME_VALID_INPUT_REFUSED else []
        statuses[case.call_and_validate(excluded_checks=excluded).status_code] += 1

    check()
    print(f"{method.upper()} {path} {mode.value}: {statuses.total()} cases, statuses {dict(sorted(statuses.items()))}")
    return statuses


@pytest.mark.parametrize(("path", "method"), _operations())
def test_every_endpoint_keeps_its_contract_on_valid_input(contract_schema, path, method):
    """No 5xx, no undeclared status, every answer on its schema, valid input accepted."""
    statuses = _run(contract_schema, path, method, GenerationMode.POSITIVE)
    assert statuses.total() >= (MIN_EXAMPLES if _has_inputs(path, method) else 1)


@pytest.mark.parametrize(("path", "method"), [op for op in _operations() if _has_inputs(*op)])
def test_every_endpoint_refuses_invalid_input_with_a_declared_4xx(contract_schema, path, method):
    """Schema-violating parameters and bodies are refused (4xx), never a 5xx or a 2xx."""
    statuses = _run(contract_schema, path, method, GenerationMode.NEGATIVE)
    assert statuses.total() >= MIN_EXAMPLES


def test_the_document_is_built_without_importing_the_app():
    import subprocess
    import sys

    code = "import sys, dockerlink.openapi as o; o.document(); print('dockerlink.app' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_the_shared_error_table_gives_each_status_its_words_unless_an_endpoint_narrows_them():
    from dockerlink.openapi.statuses import STATUSES, TEXT_PLAIN, errors

    answered = errors(409, 401, narrower={409: "the container is not running"})
    assert list(answered) == ["409", "401"]
    assert answered["401"] == {"description": STATUSES[401], "content": TEXT_PLAIN}
    assert answered["409"]["description"] == "the container is not running"
