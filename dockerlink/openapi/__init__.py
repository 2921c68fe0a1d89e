"""The OpenAPI 3.1 document: one module per noun (its paths and schemas), one error table
(`statuses`). It reads the resources' and the domain's limits, never the app, so the app
can serve it without an import cycle."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import __version__
from . import access, backups, capacity, containers, events, git, metrics, service, stats, tokens, transfers, ui
from .statuses import TEXT_PLAIN

__all__ = ["NOUNS", "TEXT_PLAIN", "document"]

#: In the document's order: each has PATHS and SCHEMAS, and `bounded_schemas(bounds)` if
#: its schemas depend on this host's limits.
NOUNS = (containers, access, stats, events, git, service, tokens, metrics, backups, capacity, transfers, ui)


def document(bounds: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """`bounds` are this host's limits (port_area_size) for the nouns whose schemas depend
    on them, so the document says what is accepted."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for noun in NOUNS:
        paths.update(noun.PATHS)
        schemas.update(noun.SCHEMAS)
        if hasattr(noun, "bounded_schemas"):
            schemas.update(noun.bounded_schemas(bounds or {}))
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
