"""`GET /v1/container/stats`: a container's resource history (docs/contract.md §3.2)."""

from __future__ import annotations

import falcon

from ..backups.disk import read_usage, with_latest_disk
from ..services import Services
from ..stats.history import History, parse_scale, parse_since
from . import params

__all__ = ["routes"]


class ContainerStats:
    def __init__(self, services: Services) -> None:
        self._history = History(services.engine.containers, services.store, services.engine.system)
        self._config = services.config

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        ref = params.container_id(req)
        since = parse_since(params.text(req, "since"))
        scale = parse_scale(params.text(req, "scale"))
        container_id, history = self._history.answer(ref, since, scale)
        resp.content_type = falcon.MEDIA_JSON
        resp.text = with_latest_disk(history, read_usage(self._config).get(container_id))


def routes(services: Services) -> list[tuple[str, object]]:
    return [("/v1/container/stats", ContainerStats(services))]
