"""The Prometheus exposition (prometheus-client): per-site figures and the service's own.

Where each figure comes from, so it is right under several gunicorn workers:
- per site (labels `id`, `name`): the last round in the stats store, which every worker
  reads; names from one engine listing, kept a minute (re-listed at once when an unknown
  id appears). `SITE_METRICS` is the table: a figure the store starts to keep (pids, OOM
  kills) plugs in there and is exposed as soon as its column is in the rows. Disk use is
  measured by the collector's disk meter (every `disk_interval`, into a file beside the
  store): its last measure joins each row as `disk_bytes`. The time of each site's last
  good backup, noted as backups end (backups/freshness.py, a file beside the store), joins
  as `last_backup`: one file read per scrape, never a walk of the backups.
- the collector's last round duration and last success time: the store too (the collector
  may be a child of the gunicorn master or `dockerlink collect` on its own).
- requests, request latency and engine call latency: counted in each worker; with
  `PROMETHEUS_MULTIPROC_DIR` set (gunicorn_conf sets it) prometheus-client's
  multiprocess mode sums every worker's files, else this process's registry is exposed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.utils import floatToGoString

from .backups.disk import GIB, usage_file
from .backups.freshness import last_backup_file
from .engine import EngineError
from .ownership import LABEL
from .storage import read_json_object

__all__ = [
    "CONTENT_TYPE",
    "SiteMetric",
    "SITE_METRICS",
    "ServiceMetrics",
    "SiteCollector",
    "engine_operation",
    "method_label",
    "status_label",
]

log = logging.getLogger("dockerlink.metrics")

#: The text format every Prometheus 2.x reads.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
NAMES_TTL = 60.0

Row = Mapping[str, Any]


@dataclass(frozen=True)
class SiteMetric:
    name: str  # without the `_total` a counter gets in the exposition
    kind: str  # "counter" or "gauge"
    help: str
    value: Callable[[Row], float | None]  # None: not known for this site (e.g. not measured yet)


def _column(name: str, scale: float = 1.0) -> Callable[[Row], float | None]:
    def read(row: Row) -> float | None:
        v = row.get(name)
        return None if v is None else float(v) * scale

    return read


def _running(row: Row) -> float:
    """The store writes a stopped container's sample as zeros, limits included."""
    return 1.0 if (row.get("mem_limit") or 0) > 0 else 0.0


#: Per-site figures, from the stats store's last round (see `StatsStore.latest_round`).
SITE_METRICS: tuple[SiteMetric, ...] = (
    SiteMetric("dockerlink_site_cpu_seconds", "counter", "CPU time used by the site", _column("cpu_ns", 1e-9)),
    SiteMetric("dockerlink_site_memory_used_bytes", "gauge", "Memory used, page cache excluded", _column("mem_used")),
    SiteMetric("dockerlink_site_memory_limit_bytes", "gauge", "Memory limit (0 when stopped)", _column("mem_limit")),
    SiteMetric("dockerlink_site_network_receive_bytes", "counter", "Bytes received since start", _column("net_down")),
    SiteMetric("dockerlink_site_network_transmit_bytes", "counter", "Bytes sent since start", _column("net_up")),
    # The store writes a stopped container's sample as zeros, limit included.
    SiteMetric(
        "dockerlink_site_running",
        "gauge",
        "1 when running",
        lambda row: 1.0 if (row.get("mem_limit") or 0) > 0 else 0.0,
    ),
    # Exposed once the store's rows carry these columns.
    SiteMetric("dockerlink_site_pids", "gauge", "Processes in the site", _column("pids")),
    SiteMetric("dockerlink_site_oom_kills", "counter", "Processes killed by the OOM killer", _column("oom_kills")),
    SiteMetric("dockerlink_site_disk_used_bytes", "gauge", "Bytes used under /var/www", _column("disk_bytes")),
    # From the file of last good backups (backups/freshness.py): only sites that have one.
    SiteMetric(
        "dockerlink_site_last_backup_timestamp_seconds",
        "gauge",
        "Unix time of the site's last good backup",
        _column("last_backup"),
    ),
)

#: Collector figures, from the store's notes (key → metric name, help).
COLLECTOR_METRICS = {
    "round_seconds": ("dockerlink_collector_round_duration_seconds", "Duration of the collector's last round"),
    "last_round": ("dockerlink_collector_last_success_timestamp_seconds", "Unix time of the last stored round"),
}


#: HTTP methods counted under their own name; any other is `other` (a client may send any
#: token as a method, and each distinct label value is one more series in every scrape).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER = "other"


def method_label(method: str) -> str:
    return method if method in METHODS else OTHER


def status_label(status: int) -> str:
    """The status code, from the bounded range HTTP defines."""
    return str(status) if 100 <= status <= 599 else OTHER


def engine_operation(method: str, segments: Iterable[str]) -> str:
    """A bounded label for an engine call: `GET containers/{id}/json`. Between the first
    segment and the last (a verb) of a longer path is a name or id, which may hold slashes
    (an image reference); the second of a two-segment path is one too, unless it is a verb."""
    parts = list(segments)
    if len(parts) >= 3:
        parts = [parts[0], "{id}", parts[-1]]
    elif len(parts) == 2 and parts[1] not in ("create", "json", "prune", "df"):
        parts[1] = "{id}"
    return f"{method_label(method)} {'/'.join(parts)}"


#: A state file by container id: disk use as the meter records it (`used` in GiB, see
#: backups.disk), or each site's last good backup (`at`, see backups.freshness).
DiskUsage = Callable[[], Mapping[str, Mapping[str, Any]]]


def _beside(store: Any, file_of: Callable[[str], Path]) -> DiskUsage:
    """A state file beside the stats database (the meter's measures, the last backups),
    read whole at each call; nothing without a database file."""
    path = getattr(store, "path", None)
    if not isinstance(path, str):
        return dict
    file = file_of(path)
    return lambda: read_json_object(file)


def with_disk_bytes(rows: list[dict[str, Any]], usage: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows with `disk_bytes` where the site's disk use was measured (the meter keeps GiB)."""
    out = []
    for row in rows:
        used = (usage.get(str(row.get("container"))) or {}).get("used")
        out.append({**row, "disk_bytes": round(float(used) * GIB)} if isinstance(used, (int, float)) else row)
    return out


def with_last_backup(rows: list[dict[str, Any]], last: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows with `last_backup` (Unix time) where the site has a good backup."""
    out = []
    for row in rows:
        at = (last.get(str(row.get("container"))) or {}).get("at")
        out.append({**row, "last_backup": at} if isinstance(at, (int, float)) else row)
    return out


class SiteCollector:
    """A prometheus-client collector reading the store (and the disk meter's file, and the
    last backups') at each scrape."""

    def __init__(
        self,
        store: Any,
        engine: Any,
        clock: Callable[[], float] = time.monotonic,
        disk: DiskUsage | None = None,
        last_backups: DiskUsage | None = None,
    ) -> None:
        self._store = store
        self._engine = engine
        self._clock = clock
        self._disk = disk or _beside(store, usage_file)
        self._last_backups = last_backups or _beside(store, last_backup_file)
        self._names: dict[str, str] = {}
        self._listed_at = float("-inf")
        self._lock = threading.Lock()

    def _names_of(self, ids: Iterable[str]) -> dict[str, str]:
        with self._lock:
            stale = self._clock() - self._listed_at > NAMES_TTL
            if stale or any(i not in self._names for i in ids):
                try:
                    listed = self._engine.containers.list(all=True, filters={"label": [LABEL]})
                    self._names = {c.id: c.name for c in listed}
                    self._listed_at = self._clock()
                except EngineError as exc:  # figures without names beat no figures
                    log.warning("metrics: no container names: %s", exc)
            return self._names

    def _rows(self) -> tuple[list[dict[str, Any]], dict[str, str]]:
        rows = with_last_backup(with_disk_bytes(self._store.latest_round(), self._disk()), self._last_backups())
        return rows, self._names_of(str(row["container"]) for row in rows)

    def exposition(self) -> str:
        """What `generate_latest` makes of `collect()`, byte for byte, written directly:
        with 1000 sites that is 8000 lines, which prometheus-client's generic writer
        (a label escaping and a sort per line) takes about 100 ms to write."""
        rows, names = self._rows()
        labels = [
            f'{{id="{_label(cid)}",name="{_label(names.get(cid, ""))}"}} '
            for row in rows
            for cid in [str(row["container"])]
        ]
        out: list[str] = []
        for spec in SITE_METRICS:
            name = spec.name + "_total" if spec.kind == "counter" else spec.name
            lines = [
                f"{name}{label}{floatToGoString(value)}\n"
                for row, label in zip(rows, labels, strict=True)
                if (value := spec.value(row)) is not None
            ]
            if lines:
                out.append(f"# HELP {name} {_help(spec.help)}\n# TYPE {name} {spec.kind}\n")
                out += lines
        notes = self._store.notes()
        for key, (name, help_text) in COLLECTOR_METRICS.items():
            if key in notes:
                out.append(
                    f"# HELP {name} {_help(help_text)}\n# TYPE {name} gauge\n{name} {floatToGoString(notes[key])}\n"
                )
        return "".join(out)

    def collect(self) -> Iterator[Metric]:
        rows, names = self._rows()
        for spec in SITE_METRICS:
            family_cls = CounterMetricFamily if spec.kind == "counter" else GaugeMetricFamily
            family = family_cls(spec.name, spec.help, labels=("id", "name"))
            for row in rows:
                value = spec.value(row)
                if value is not None:
                    cid = str(row["container"])
                    family.add_metric((cid, names.get(cid, "")), value)
            if family.samples:
                yield family
        notes = self._store.notes()
        for key, (name, help_text) in COLLECTOR_METRICS.items():
            if key in notes:
                yield GaugeMetricFamily(name, help_text, value=notes[key])


def _label(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _help(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n")


class _Registry:
    """Another registry's metrics, as one collector of this scrape's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Metric]:
        return self._registry.collect()


LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0)


class ServiceMetrics:
    """The service's own figures, and the exposition of everything."""

    def __init__(self, store: Any, engine: Any) -> None:
        self._own = CollectorRegistry()
        self.requests = Counter(
            "dockerlink_http_requests",
            "HTTP requests answered",
            ("route", "method", "status"),
            registry=self._own,
        )
        self.latency = Histogram(
            "dockerlink_http_request_duration_seconds",
            "Time to answer an HTTP request",
            ("route", "method"),
            buckets=LATENCY_BUCKETS,
            registry=self._own,
        )
        self.engine_latency = Histogram(
            "dockerlink_engine_call_duration_seconds",
            "Time of one call to the Docker engine",
            ("operation",),
            buckets=LATENCY_BUCKETS,
            registry=self._own,
        )
        self.sites = SiteCollector(store, engine)

    def observe_request(self, route: str, method: str, status: int, seconds: float) -> None:
        """`route` is a route template (or `unmatched`), never a path: every label is bounded."""
        method = method_label(method)
        self.requests.labels(route, method, status_label(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def observe_engine_call(self, method: str, segments: Iterable[str], seconds: float) -> None:
        self.engine_latency.labels(engine_operation(method, segments)).observe(seconds)

    def render(self) -> bytes:
        registry = CollectorRegistry()
        if os.environ.get(MULTIPROC_ENV):
            MultiProcessCollector(registry)  # every worker's counters and histograms, summed
        else:
            registry.register(_Registry(self._own))
        return generate_latest(registry) + self.sites.exposition().encode()
