"""`GET /v1/capacity`: how much room this host has (docs/api.md, Capacity)."""

from __future__ import annotations

import falcon

from ..engine import socket_path
from ..hosting import Hosting
from ..hosting.capacity import capacity
from ..services import Services

__all__ = ["Capacity"]


class Capacity:
    """Built beside the container resources (`containers.routes`), so it shares their
    listing's cache: at 1000 sites an answer costs one list call, not 1000 inspects."""

    def __init__(self, hosting: Hosting, services: Services) -> None:
        self._hosting = hosting
        self._store = services.store
        self._engine = services.engine
        self._backup_dir = services.config.backup_dir
        self._area_size = services.config.port_area_size

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        local = socket_path(self._engine.address) is not None  # the engine's volumes are on this host
        resp.media = capacity(
            self._hosting, self._store, local=local, backup_dir=self._backup_dir, area_size=self._area_size
        )
