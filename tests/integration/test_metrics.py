"""/v1/metrics under gunicorn with 2 workers, scraped by a real Prometheus on loopback."""

from __future__ import annotations

import os
import random
import shutil
import signal
import string
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from dockerlink.engine import ContainerSpec, NotFound

from .live import free_port, live_service

TOKEN = "metrics-test-token-0123456789"
LABELS = {"dockerlink": "test", "dockerlink.test": "1"}
MIB = 1 << 20


def _series(text: str, metric: str) -> list:
    return [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == metric]


@pytest.fixture(scope="module")
def service(tmp_path_factory, engine):
    tmp = tmp_path_factory.mktemp("metrics")
    metrics_dir = tmp / "prometheus-multiproc"
    with live_service(tmp, api_token=TOKEN, stats_interval="1", PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)) as s:
        s.metrics_dir = metrics_dir
        yield s


@pytest.fixture(scope="module")
def site(engine, base_image, service):
    from .conftest import PREFIX

    name = f"{PREFIX}metrics"
    cid, _ = engine.containers.create(
        ContainerSpec(
            image=base_image, cmd=("sleep", "infinity"), labels=LABELS, memory=64 * MIB, memory_swap=64 * MIB
        ),
        name=name,
    )
    engine.containers.start(cid)
    yield cid, name
    try:
        engine.containers.remove(cid, force=True)
    except NotFound:
        pass


def _per_worker(metrics_dir: Path) -> dict[str, float]:
    """GET /v1/env answers counted in each worker's own file (named after its pid)."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        samples = [s for m in MultiProcessCollector.merge([str(path)], accumulate=False) for s in m.samples]
        counts[path.name] = sum(
            s.value
            for s in samples
            if s.name == "dockerlink_http_requests_total" and s.labels.get("route") == "/v1/env"
        )
    return counts


def test_requests_are_summed_over_both_workers(service):
    """Requests go on fresh connections until both workers have answered some (bounded);
    every scrape, whichever worker answers it, reports them all."""
    sent = 0
    while sum(1 for v in _per_worker(service.metrics_dir).values() if v > 0) < 2:
        assert sent < 400, f"one worker answered everything: {_per_worker(service.metrics_dir)}"
        for _ in range(10):
            r = requests.get(
                service.url + "/v1/env", headers={"Authorization": f"Bearer {TOKEN}", "Connection": "close"}, timeout=10
            )
            assert r.status_code == 200
            sent += 1
    for _ in range(6):
        r = requests.get(
            service.url + "/v1/metrics", headers={"Authorization": f"Bearer {TOKEN}", "Connection": "close"}, timeout=10
        )
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
        found = _series(r.text, "dockerlink_http_requests_total")
        env = [s.value for s in found if s.labels == {"route": "/v1/env", "method": "GET", "status": "200"}]
        assert env == [sent]


def test_a_scoped_or_missing_token_cannot_read_metrics(service):
    assert requests.get(service.url + "/v1/metrics", timeout=10).status_code == 401


def test_prometheus_scrapes_the_service_and_answers_a_sites_memory(service, site, tmp_path):
    cid, name = site
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus is missing: install Debian's prometheus (scripts/bootstrap.sh test does)"
    # The collector samples every second: wait for the site in the service's own output first.
    deadline = time.monotonic() + 30
    while not [
        s
        for s in _series(service.get("/v1/metrics").text, "dockerlink_site_memory_used_bytes")
        if s.labels["id"] == cid
    ]:
        assert time.monotonic() < deadline, "the site never appeared in /v1/metrics"
        time.sleep(0.5)
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    token_file.chmod(0o600)
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        f"""
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: dockerlink
    metrics_path: /v1/metrics
    authorization:
      credentials_file: {token_file}
    static_configs:
      - targets: ["{service.url.removeprefix("http://")}"]
"""
    )
    log = tmp_path / "prometheus.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        query = f'dockerlink_site_memory_used_bytes{{name="{name}"}}'
        deadline = time.monotonic() + 45
        result: list = []
        while not result:
            assert proc.poll() is None, log.read_text()[-2000:]
            assert time.monotonic() < deadline, f"no series from Prometheus; its log: {log.read_text()[-2000:]}"
            time.sleep(1)
            try:
                r = requests.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": query}, timeout=5)
            except requests.ConnectionError:
                continue
            if r.status_code == 200:
                result = r.json()["data"]["result"]
        assert result[0]["metric"]["id"] == cid
        assert 0 < float(result[0]["value"][1]) <= 64 * MIB
        targets = requests.get(f"http://127.0.0.1:{port}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        assert targets[0]["health"] == "up", targets
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _request_series(service) -> tuple[int, list[dict]]:
    text = service.get("/v1/metrics").text
    samples = [
        s for f in text_string_to_metric_families(text) if f.name.startswith("dockerlink_http_") for s in f.samples
    ]
    return len(samples), [s.labels for s in samples if s.name == "dockerlink_http_requests_total"]


def test_random_methods_through_the_real_service_leave_the_series_count_bounded(service):
    """The attack run's: requests with random 12-letter methods (gunicorn passes any token as
    a method), half without a token. A second batch adds no series."""
    rng = random.Random()

    def batch() -> int:
        with requests.Session() as session:
            for i in range(150):
                method = "".join(rng.choice(string.ascii_uppercase) for _ in range(12))
                headers = {"Authorization": f"Bearer {TOKEN}"} if i % 2 else {}
                session.request(method, service.url + "/v1/env", headers=headers, timeout=10)
        return _request_series(service)[0]

    _request_series(service)  # the scrape's own series exists from its first answer on
    first, second = batch(), batch()
    assert second == first
    _, labels = _request_series(service)
    assert "other" in {lb["method"] for lb in labels}
    assert {lb["method"] for lb in labels} <= {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"}


def test_sigterm_leaves_no_metrics_files_in_the_operators_directory(tmp_path):
    metrics_dir = tmp_path / "run-dockerlink-metrics"
    with live_service(tmp_path, api_token=TOKEN, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)) as s:
        assert s.get("/v1/env").status_code == 200
        assert list(metrics_dir.glob("*.db")), "the workers wrote no metrics files: nothing to test"
        process = s.process
    assert process.returncode == 0  # stopped by live_service's SIGTERM, not killed
    assert metrics_dir.is_dir()  # the operator's (systemd's RuntimeDirectory): kept
    assert list(metrics_dir.iterdir()) == []


def test_sigterm_removes_the_metrics_directory_the_service_made(tmp_path):
    own_tmp = tmp_path / "tmp"
    own_tmp.mkdir()
    env = {"TMPDIR": str(own_tmp)}
    with _without_multiproc_env(), live_service(tmp_path, api_token=TOKEN, **env) as s:
        assert s.get("/v1/env").status_code == 200
        made = [p for p in own_tmp.iterdir() if p.name.startswith("dockerlink-metrics-")]
        assert len(made) == 1 and list(made[0].glob("*.db"))
        process = s.process
    assert process.returncode == 0
    assert not made[0].exists()


@contextmanager
def _without_multiproc_env():
    """live_service passes this process's environment on: without the variable, gunicorn_conf
    makes its own directory."""
    saved = os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    try:
        yield
    finally:
        if saved is not None:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = saved
