"""Service endpoints: health, the settings a panel needs, and the OpenAPI document."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import falcon

from .. import __version__
from ..collector.status import DEAD, read_status, status_file
from ..engine import Engine, EngineError
from ..events.webhooks import outbox_status
from ..services import Services
from ..tokens import ScopedTokens

__all__ = ["routes", "OpenAPI"]


class Health:
    """200 when all is well; else 503 with `status` and the `reasons`, so a monitor sees a
    stopped engine, a collector that stopped sampling (last sample older than
    `STALE_INTERVALS` intervals), a job of the collector that died (by name; `jobs`: each
    job's state as the collector wrote it), a stats history it cannot read, or a token
    revocations file it cannot read (every scoped token refused)."""

    STALE_INTERVALS = 3

    def __init__(  # noqa: ANN001
        self,
        engine: Engine,
        store,
        interval: float,
        clock: Callable[[], float] | None = None,
        journal=None,
        webhooks: bool = False,
        jobs: Path | None = None,
        tokens: ScopedTokens | None = None,
    ) -> None:
        self._jobs = jobs
        self._tokens = tokens
        self._engine = engine
        self._store = store
        self._journal = journal
        self._webhooks = webhooks
        self._interval = interval
        self._clock = clock or (lambda: time.time())
        self._started = self._clock()

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        now = self._clock()
        reasons: list[str] = []
        body: dict[str, object] = {"dockerlink": __version__, "last_sample_age": None}
        try:
            last = self._store.last_sample_time()
            reset = self._store.last_reset()
        except Exception as exc:  # noqa: BLE001 - the store failing is what health reports
            last = reset = None
            reasons.append(f"stats history unreadable: {exc}")
        else:
            reasons += self._collector_reasons(now, last)
        if last is not None:
            body["last_sample_age"] = round(max(0.0, now - last), 1)
        if reset is not None:
            body["stats_reset"] = reset  # the history restarted empty; the corrupt file is kept there
        if self._jobs is not None and (jobs := read_status(self._jobs)):
            body["jobs"] = jobs
            reasons += [
                f"collector job {name} died ({job.get('error')}); starting it again with back-off"
                for name, job in sorted(jobs.items())
                if job.get("state") == DEAD
            ]
        if self._tokens is not None and (problem := self._tokens.problem()):
            reasons.append(problem)
        if self._journal is not None:
            body["events"] = {"last_seq": self._journal.last_seq()}
            if self._webhooks:
                body["webhooks"] = outbox_status(self._journal, now)
        try:
            body["engine"] = self._engine.system.version().version
            body["status"] = "degraded" if reasons else "ok"
        except EngineError as exc:
            body["engine"] = None
            body["status"] = "engine unavailable"
            body["message"] = str(exc)
            reasons.insert(0, f"engine unavailable: {exc}")
        body["reasons"] = reasons
        if reasons:
            resp.status = falcon.HTTP_503
        resp.media = body

    def _collector_reasons(self, now: float, last: float | None) -> list[str]:
        stale = self.STALE_INTERVALS * self._interval
        if last is None:
            if now - self._started > stale:
                return [f"no stats sample in {now - self._started:.0f} s (stats_interval {self._interval:g} s)"]
            return []
        if now - last > stale:
            return [
                f"stats collector: last sample {now - last:.0f} s ago, more than {self.STALE_INTERVALS} "
                f"× stats_interval ({self._interval:g} s); it is stopped or hung"
            ]
        return []


class Env:
    def __init__(self, services: Services) -> None:
        c = services.config
        self._body = {
            "port_area_size": c.port_area_size,
            "base_image": c.base_image,
            "stats_interval": c.stats_interval,
            "publish_ip": c.publish_ip,
            "git_host": c.git_host_root is not None,
            "git_timeout": c.git_timeout,
            "site_domain": c.site_domain,
            "tls": c.site_tls,
            "version": __version__,
        }

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._body


class OpenAPI:
    """The document is handed in (`app.py`): `dockerlink.openapi` describes these resources,
    reading their limits from them, so the resources never import it."""

    def __init__(self, services: Services, document: Callable[[dict], dict]) -> None:
        self._services = services
        self._document = document

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.media = self._document({"port_area_size": self._services.config.port_area_size})


def routes(services: Services) -> list[tuple[str, object]]:
    return [
        (
            "/v1/health",
            Health(
                services.engine,
                services.store,
                services.config.stats_interval,
                journal=services.journal,
                webhooks=bool(services.config.webhook_url),
                jobs=status_file(services.config.stats_db),
                tokens=services.tokens,
            ),
        ),
        ("/v1/env", Env(services)),
    ]
