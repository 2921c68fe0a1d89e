"""GET /v1/metrics: per-site figures from the stats store, the service's own figures,
token rules, and an exposition that promtool accepts."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from falcon.testing import TestClient
from prometheus_client.parser import text_string_to_metric_families

from dockerlink.app import create_app
from dockerlink.backups.catalog import Record
from dockerlink.backups.disk import usage_file
from dockerlink.backups.freshness import LastBackups, last_backup_file
from dockerlink.config import Config
from dockerlink.metrics import SITE_METRICS, SiteCollector, engine_operation, status_label
from dockerlink.stats.samples import Reading, derive
from dockerlink.stats.store import StatsStore
from tests.fakes import FakeEngine

TOKEN = "panel-token-0123456789abcdef"
PANEL = {"Authorization": f"Bearer {TOKEN}"}
OWNED = {"dockerlink": "0.1.0", "dockerlink.host_port_root": "10000"}
GIB = 1 << 30


def _families(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def _value(samples: list, metric: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == metric and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (metric, labels, samples)
    return found[0]


class Host:
    def __init__(self, tmp_path, sites: int = 0) -> None:
        self.engine = FakeEngine()
        self.web = self.engine.containers.add("web", labels=OWNED)
        self.off = self.engine.containers.add("off", labels=OWNED, running=False)
        self.extra = [self.engine.containers.add(f"s{i}", labels=OWNED) for i in range(sites)]
        self.store = StatsStore(str(tmp_path / "stats.sqlite3"))
        config = Config(stats_db=self.store.path, api_token=TOKEN)
        self.client = TestClient(create_app(config, engine=self.engine, store=self.store))

    def record(self, ts: float = 1_800_000_000.0) -> None:
        readings = [
            Reading(
                self.web.id,
                ts,
                True,
                cpu_ns=12_500_000_000,
                memory_used=GIB // 4,
                memory_limit=GIB,
                net_rx=5000,
                net_tx=7000,
            ),
            Reading(self.off.id, ts, False),
        ] + [Reading(c.id, ts, True, cpu_ns=10**9, memory_used=1 << 20, memory_limit=GIB) for c in self.extra]
        self.store.record_round(ts, [(r, derive(None, r, ts)) for r in readings])
        self.store.note("round_seconds", 0.25)

    def scrape(self, path: str = "/v1/metrics") -> dict[str, list]:
        r = self.client.simulate_get(path, headers=PANEL)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
        return _families(r.text)


def test_site_figures_come_from_the_last_round_with_id_and_name(tmp_path):
    host = Host(tmp_path)
    host.record()
    m = host.scrape()
    web = {"id": host.web.id, "name": "web"}
    assert _value(m["dockerlink_site_cpu_seconds"], "dockerlink_site_cpu_seconds_total", **web) == 12.5
    assert _value(m["dockerlink_site_memory_used_bytes"], "dockerlink_site_memory_used_bytes", **web) == GIB // 4
    assert _value(m["dockerlink_site_memory_limit_bytes"], "dockerlink_site_memory_limit_bytes", **web) == GIB
    assert (
        _value(m["dockerlink_site_network_receive_bytes"], "dockerlink_site_network_receive_bytes_total", **web) == 5000
    )
    assert (
        _value(m["dockerlink_site_network_transmit_bytes"], "dockerlink_site_network_transmit_bytes_total", **web)
        == 7000
    )
    assert _value(m["dockerlink_site_running"], "dockerlink_site_running", **web) == 1
    assert _value(m["dockerlink_site_running"], "dockerlink_site_running", id=host.off.id, name="off") == 0


def test_only_the_last_round_counts(tmp_path):
    host = Host(tmp_path)
    host.record(1_800_000_000.0)
    r = Reading(host.off.id, 1_800_000_010.0, False)
    host.store.record_round(1_800_000_010.0, [(r, derive(None, r, 1_800_000_010.0))])  # "web" is gone
    ids = {s.labels["id"] for s in host.scrape()["dockerlink_site_running"]}
    assert ids == {host.off.id}


def test_collector_figures_come_from_the_store(tmp_path):
    host = Host(tmp_path)
    host.record(1_800_000_000.0)
    m = host.scrape()
    assert m["dockerlink_collector_round_duration_seconds"][0].value == 0.25
    assert m["dockerlink_collector_last_success_timestamp_seconds"][0].value == 1_800_000_000.0


def test_before_any_round_there_are_no_site_series(tmp_path):
    m = Host(tmp_path).scrape()
    assert not [name for name in m if name.startswith("dockerlink_site_")]


def test_requests_are_counted_by_route_template_method_and_status(tmp_path):
    host = Host(tmp_path)
    for _ in range(3):
        status = host.client.simulate_get("/v1/container/stats", params={"id": "web"}, headers=PANEL).status
    host.client.simulate_get("/v1/env")  # no token: 401, still counted
    host.client.simulate_get("/v1/no/such/path", headers=PANEL)
    m = host.scrape("/metrics")
    requests = m["dockerlink_http_requests"]
    assert (
        _value(requests, "dockerlink_http_requests_total", route="/v1/container/stats", method="GET", status=status[:3])
        == 3
    )
    assert _value(requests, "dockerlink_http_requests_total", route="/v1/env", method="GET", status="401") == 1
    assert _value(requests, "dockerlink_http_requests_total", route="unmatched", method="GET", status="404") == 1
    latency = m["dockerlink_http_request_duration_seconds"]
    count = "dockerlink_http_request_duration_seconds_count"
    assert _value(latency, count, route="/v1/container/stats", method="GET") == 3


def _series_count(m: dict[str, list]) -> int:
    return sum(len(samples) for name, samples in m.items() if name.startswith("dockerlink_http_"))


@pytest.mark.filterwarnings("ignore:Unknown REQUEST_METHOD")
def test_random_methods_and_paths_leave_the_request_series_bounded(tmp_path):
    """Each distinct label value is one more series in every scrape: a client choosing the
    method or the path must not choose the labels. A second batch of other random methods
    and paths adds no series."""
    import random
    import string

    host = Host(tmp_path)
    rng = random.Random(29)

    def batch() -> int:
        for i in range(200):
            method = "".join(rng.choice(string.ascii_uppercase) for _ in range(12))
            path = "/v1/" + "".join(rng.choice(string.ascii_lowercase) for _ in range(10))
            host.client.simulate_request(method, "/v1/env", headers=PANEL if i % 2 else {})
            host.client.simulate_request(method, path, headers=PANEL)
        return _series_count(host.scrape())

    host.scrape()  # a scrape counts itself once answered: its series exists from here on
    first, second = batch(), batch()
    m = host.scrape()
    labels = [s.labels for s in m["dockerlink_http_requests"] if s.name == "dockerlink_http_requests_total"]
    assert {lb["method"] for lb in labels} == {"GET", "other"}  # GET: the scrapes
    assert {lb["route"] for lb in labels} == {"/v1/env", "/v1/metrics", "unmatched"}
    assert {lb["status"] for lb in labels} <= {"200", "400", "401", "404", "405"}
    assert second == first
    assert sum(lb_s.value for lb_s in m["dockerlink_http_requests"] if lb_s.labels.get("method") == "other") >= 800


@pytest.mark.parametrize(("status", "label"), [(200, "200"), (599, "599"), (99, "other"), (600, "other")])
def test_a_status_label_is_a_code_from_http_s_range_or_other(status, label):
    assert status_label(status) == label


def test_metrics_need_the_panel_token(tmp_path):
    host = Host(tmp_path)
    assert host.client.simulate_get("/v1/metrics").status_code == 401
    assert host.client.simulate_get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    token = host.client.simulate_post("/v1/token", json={"id": "web", "scopes": ["stats"]}, headers=PANEL).json["token"]
    assert host.client.simulate_get("/metrics", headers={"Authorization": f"Bearer {token}"}).status_code == 403


@pytest.mark.parametrize(
    ("method", "segments", "operation"),
    [
        ("GET", ["containers", "abc", "json"], "GET containers/{id}/json"),
        ("GET", ["containers", "json"], "GET containers/json"),
        ("POST", ["containers", "create"], "POST containers/create"),
        ("DELETE", ["containers", "site1"], "DELETE containers/{id}"),
        ("POST", ["exec", "e1", "start"], "POST exec/{id}/start"),
        ("GET", ["version"], "GET version"),
        ("GET", ["images", "dockerlink", "base:latest", "json"], "GET images/{id}/json"),
        ("GET", ["images", "registry.example:5000", "team", "app:1", "json"], "GET images/{id}/json"),
        ("GET", ["system", "df"], "GET system/df"),
        ("BREW", ["version"], "other version"),
    ],
)
def test_engine_operations_are_bounded_labels(method, segments, operation):
    assert engine_operation(method, segments) == operation


def test_engine_calls_are_timed_by_operation():
    from dockerlink.engine import Engine, EngineUnavailable
    from dockerlink.services import Services

    engine = Engine("/nonexistent/docker.sock")
    services = Services.build(Config(stats_db=":memory:"), engine=engine, store=StatsStore(":memory:"))
    with pytest.raises(EngineUnavailable):
        engine.containers.inspect("site1")
    m = _families(services.metrics.render().decode())
    count = "dockerlink_engine_call_duration_seconds_count"
    assert _value(m["dockerlink_engine_call_duration_seconds"], count, operation="GET containers/{id}/json") == 1


class RowsStore:
    def __init__(self, rows):  # noqa: ANN001
        self.rows = rows

    def latest_round(self):  # noqa: ANN201
        return self.rows

    def notes(self):  # noqa: ANN201
        return {}


def test_a_figure_the_store_starts_to_keep_is_exposed_without_other_change():
    engine = FakeEngine()
    c = engine.containers.add("web", labels=OWNED)
    row = {"container": c.id, "ts": 1.0, "cpu_ns": 0, "mem_used": 1, "mem_limit": 2, "net_up": 0, "net_down": 0}
    names = {f.name for f in SiteCollector(RowsStore([row]), engine).collect()}
    assert "dockerlink_site_pids" not in names and "dockerlink_site_oom_kills" not in names
    families = {f.name: f for f in SiteCollector(RowsStore([{**row, "pids": 7, "oom_kills": 2}]), engine).collect()}
    assert families["dockerlink_site_pids"].samples[0].value == 7
    assert families["dockerlink_site_oom_kills"].samples[0].name == "dockerlink_site_oom_kills_total"
    assert {m.name for m in SITE_METRICS} >= {"dockerlink_site_pids", "dockerlink_site_disk_used_bytes"}


def test_names_are_listed_once_a_minute_or_when_a_new_site_appears(tmp_path):
    engine = FakeEngine()
    a = engine.containers.add("a", labels=OWNED)
    calls = []
    real_list = engine.containers.list
    engine.containers.list = lambda **kw: calls.append(kw) or real_list(**kw)
    now = [0.0]
    rows = [{"container": a.id, "mem_limit": 1}]
    collector = SiteCollector(RowsStore(rows), engine, clock=lambda: now[0])
    for _ in range(3):
        list(collector.collect())
    assert len(calls) == 1
    b = engine.containers.add("b", labels=OWNED)
    rows.append({"container": b.id, "mem_limit": 1})
    running = next(f for f in collector.collect() if f.name == "dockerlink_site_running")
    assert {s.labels["name"] for s in running.samples} == {"a", "b"} and len(calls) == 2
    now[0] = 61.0
    list(collector.collect())
    assert len(calls) == 3


def test_with_the_engine_down_site_figures_are_still_served(tmp_path):
    host = Host(tmp_path)
    host.record()
    host.engine.up = False
    m = host.scrape()
    assert _value(m["dockerlink_site_running"], "dockerlink_site_running", id=host.web.id, name="") == 1


def test_promtool_accepts_the_exposition(tmp_path):
    promtool = shutil.which("promtool")
    assert promtool, "promtool is missing: install Debian's prometheus (scripts/bootstrap.sh test does)"
    host = Host(tmp_path, sites=3)
    host.record()
    host.client.simulate_get("/v1/container", headers=PANEL)
    text = host.client.simulate_get("/v1/metrics", headers=PANEL).text
    result = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dockerlink_site_memory_used_bytes" in text


def test_a_scrape_of_200_sites_has_200_series_per_figure(tmp_path):
    host = Host(tmp_path, sites=198)
    host.record()
    m = host.scrape()
    assert len(m["dockerlink_site_memory_used_bytes"]) == 200
    assert len({s.labels["name"] for s in m["dockerlink_site_cpu_seconds"]}) == 200


def test_disk_use_the_meter_measured_is_exposed_in_bytes_and_only_for_measured_sites(tmp_path):
    host = Host(tmp_path)
    host.record()
    assert "dockerlink_site_disk_used_bytes" not in host.scrape()  # nothing measured yet
    # What the collector's disk meter writes beside the store: GiB, by container id.
    usage = {host.web.id: {"used": 1.5, "files": 120, "at": 1_800_000_000, "over": False}}
    usage_file(host.store.path).write_text(json.dumps(usage))
    m = host.scrape()
    family = m["dockerlink_site_disk_used_bytes"]
    assert _value(family, "dockerlink_site_disk_used_bytes", id=host.web.id, name="web") == 1.5 * GIB
    assert {s.labels["id"] for s in family} == {host.web.id}  # `off` was never measured


class NotedStore(RowsStore):
    def notes(self):  # noqa: ANN201
        return {"round_seconds": 0.0125, "last_round": 1795753350.5}


def test_the_direct_exposition_is_what_prometheus_client_writes_byte_for_byte():
    from prometheus_client import CollectorRegistry, generate_latest

    engine = FakeEngine()
    a = engine.containers.add("a", labels=OWNED)
    b = engine.containers.add("b", labels=OWNED)
    rows = [
        {
            "container": a.id,
            "ts": 1.0,
            "cpu_ns": 123456789,
            "mem_used": 1 << 26,
            "mem_limit": 1 << 30,
            "net_up": 10**15,
            "net_down": 0,
            "pids": 7,
            "oom_kills": 0,
        },
        {"container": b.id, "ts": 1.0, "cpu_ns": 0, "mem_used": 0.5, "mem_limit": 0, "net_up": 1, "net_down": 2},
        {"container": "c" * 64, "ts": 1.0, "cpu_ns": float("inf"), "mem_used": None, "mem_limit": 3},  # no name
    ]
    collector = SiteCollector(NotedStore(rows), engine, disk=lambda: {a.id: {"used": 1.5}})
    engine.containers.rename(b.id, 'we"ird\\name')  # a name no engine gives, escaped all the same
    collector._listed_at = float("-inf")
    registry = CollectorRegistry()
    registry.register(collector)
    expected = generate_latest(registry).decode()
    assert "dockerlink_site_disk_used_bytes" in expected and "dockerlink_collector_round" in expected
    assert collector.exposition() == expected


def test_the_last_good_backup_time_is_exposed_only_for_sites_that_have_one(tmp_path):
    host = Host(tmp_path)
    host.record()
    assert "dockerlink_site_last_backup_timestamp_seconds" not in host.scrape()
    last = LastBackups(last_backup_file(host.store.path))  # what a backup's end writes beside the store
    last.note(Record("20270115T080000Z-0000abcd", "web", "scheduled", "done", 1_800_000_123.7, container=host.web.id))
    last.note(Record("20270115T090000Z-0000abce", "off", "uploaded", "done", 1_800_000_500.0, container=host.off.id))
    family = host.scrape()["dockerlink_site_last_backup_timestamp_seconds"]
    assert [(s.labels, s.value) for s in family] == [({"id": host.web.id, "name": "web"}, 1_800_000_123.0)]
