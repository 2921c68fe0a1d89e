"""`GET /ui/` and its two assets: the operator's page (`dockerlink.ui`). No token needed."""

from __future__ import annotations

import falcon

from .. import ui
from ..services import Services

__all__ = ["routes"]


def _serve(resp: falcon.Response, name: str) -> None:
    resp.content_type = ui.ASSETS[name]
    resp.data = ui.asset(name)
    resp.set_headers(ui.SECURITY_HEADERS)


class Page:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        # The page calls the API and its assets by relative URLs (so it works behind a
        # reverse proxy's path prefix): they resolve only under /ui/, so /ui goes there.
        if not req.env.get("PATH_INFO", "").endswith("/"):
            raise falcon.HTTPMovedPermanently("ui/")
        _serve(resp, ui.PAGE)


class Asset:
    def __init__(self, name: str) -> None:
        self._name = name

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        _serve(resp, self._name)


def routes(services: Services) -> list[tuple[str, object]]:
    # One fixed route per asset: no path is ever built from the request.
    assets = [(f"{ui.PREFIX}/{name}", Asset(name)) for name in ui.ASSETS if name != ui.PAGE]
    return [(ui.PREFIX, Page()), *assets]
