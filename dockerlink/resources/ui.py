"""`GET /ui/` and its two assets: the operator's page (`dockerlink.ui`). No token needed."""

from __future__ import annotations

import falcon

from .. import ui
from ..openapi import TEXT_PLAIN
from ..services import Services

__all__ = ["routes", "OPENAPI_PATHS"]


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
    def on_get(self, req: falcon.Request, resp: falcon.Response, name: str) -> None:
        if name == ui.PAGE or name not in ui.ASSETS:
            raise falcon.HTTPNotFound(title="404 Not Found", description=f"no such file: {name[:80]!r}")
        _serve(resp, name)


def routes(services: Services) -> list[tuple[str, object]]:
    return [(ui.PREFIX, Page()), (ui.PREFIX + "/{name}", Asset())]


OPENAPI_PATHS = {
    "/ui": {
        "get": {
            "summary": "The operator's page (no token needed: it holds no data; it asks for the token)",
            "description": (
                "Served at /ui/ (/ui redirects there). Static HTML that loads /ui/ui.css and /ui/ui.js from "
                "this host only (Content-Security-Policy default-src 'self'); every figure it shows comes from "
                "the token-protected API."
            ),
            "security": [],
            "responses": {
                "200": {"description": "the page", "content": {"text/html": {"schema": {"type": "string"}}}},
                "301": {"description": "to /ui/"},
            },
        }
    },
    "/ui/{name}": {
        "get": {
            "summary": "The page's stylesheet and script (no token needed)",
            "security": [],
            "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {
                "200": {
                    "description": "ui.css or ui.js",
                    "content": {
                        "text/css": {"schema": {"type": "string"}},
                        "text/javascript": {"schema": {"type": "string"}},
                    },
                },
                "401": {"description": "any other name: not a page asset, so a token is asked", "content": TEXT_PLAIN},
                "404": {"description": "no such asset", "content": TEXT_PLAIN},
            },
        }
    },
}
