"""The operator's page and its assets (no token needed)."""

from __future__ import annotations

__all__ = ["PATHS", "SCHEMAS"]


def _asset_doc(name: str, media: str) -> dict:
    return {
        "get": {
            "summary": f"The page's {name} (no token needed)",
            "security": [],
            "responses": {"200": {"description": name, "content": {media: {"schema": {"type": "string"}}}}},
        }
    }


PATHS = {
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
    "/ui/ui.css": _asset_doc("ui.css", "text/css"),
    "/ui/ui.js": _asset_doc("ui.js", "text/javascript"),
}

SCHEMAS: dict = {}
