"""`GET /v1/metrics` (also `/metrics`): the Prometheus exposition; and the middleware that
counts and times every request by route template."""

from __future__ import annotations

import time

import falcon
from falcon.routing import CompiledRouter

from .. import timings
from ..metrics import CONTENT_TYPE, ServiceMetrics
from ..services import Services

__all__ = ["routes", "RequestMetrics", "RequestTimings"]

#: The route label of a request that matched no route (bounded: not its path).
UNMATCHED = "unmatched"


class RequestMetrics:
    """First in the middleware chain, so answers refused by authentication count too; their
    route (not matched yet when authentication refused them) is looked up in `router`."""

    def __init__(self, metrics: ServiceMetrics, router: CompiledRouter | None = None) -> None:
        self._metrics = metrics
        self._router = router

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        req.context.started = time.perf_counter()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        started = req.context.get("started")
        if started is None:
            return
        route = req.uri_template or self._route_of(req)
        status = resp.status_code if isinstance(resp.status_code, int) else int(str(resp.status)[:3])
        self._metrics.observe_request(route, req.method, status, time.perf_counter() - started)

    def _route_of(self, req: falcon.Request) -> str:
        found = self._router.find(req.path) if self._router is not None else None
        return found[3] if found else UNMATCHED


class RequestTimings:
    """With `DOCKERLINK_TIMINGS` set (benches only): each request's steps to that file."""

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        timings.begin()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: object, req_succeeded: bool
    ) -> None:
        timings.end(f"{req.method} {req.path}")


class Metrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self._metrics = metrics

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = CONTENT_TYPE
        resp.data = self._metrics.render()


def routes(services: Services) -> list[tuple[str, object]]:
    resource = Metrics(services.metrics)
    return [("/v1/metrics", resource), ("/metrics", resource)]
