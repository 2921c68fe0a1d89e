"""The OpenAPI 3.1 document, assembled from the fragments each resource module declares."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import __version__

__all__ = ["TEXT_PLAIN", "document"]

#: The content of every error answer (and of git's output): one text/plain body.
TEXT_PLAIN = {"text/plain": {"schema": {"type": "string"}}}


def document(bounds: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`bounds` are this host's limits (port_area_size) for the modules whose
    schemas depend on them (`openapi_schemas(bounds)`), so the document says what is accepted."""
    from .app import ROUTE_MODULES

    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for module in ROUTE_MODULES:
        paths.update(module.OPENAPI_PATHS)
        schemas.update(getattr(module, "OPENAPI_SCHEMAS", {}))
        if hasattr(module, "openapi_schemas"):
            schemas.update(module.openapi_schemas(bounds or {}))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dockerlink",
            "version": __version__,
            "description": "Per-host agent of a web-hosting panel. Errors are text/plain, one line.",
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }
