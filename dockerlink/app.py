"""`create_app()`: wiring of config, engine, stats store and resources; no logic here."""

from __future__ import annotations

import falcon
from falcon.routing import CompiledRouter

from . import timings
from .config import Config
from .engine import Engine
from .openapi import document
from .resources import access, backups, containers, events, git, metrics, service, stats, tokens, transfers, ui
from .resources.auth import middleware as auth_middleware
from .resources.errors import install_error_handlers
from .services import Services
from .tokens import ScopedTokens

__all__ = ["create_app"]

ROUTE_MODULES = (containers, access, stats, events, git, service, tokens, metrics, backups, transfers, ui)


def create_app(
    config: Config | None = None,
    *,
    engine: Engine | None = None,
    store=None,  # noqa: ANN001
    tokens: ScopedTokens | None = None,
) -> falcon.App:
    """The WSGI app. `engine`, `store` and `tokens` are injectable (tests pass fakes); by
    default the engine is the one at `config.docker_sock` and the store the SQLite file `stats_db`."""
    config = config or Config.from_env()
    services = Services.build(config, engine=engine, store=store, tokens=tokens)
    router = CompiledRouter()
    chain = [
        metrics.RequestMetrics(services.metrics, router),
        *auth_middleware(config, services.tokens, services.engine),
    ]
    if timings.enabled():
        chain.insert(0, metrics.RequestTimings())
    app = falcon.App(middleware=chain, router=router)
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.auto_parse_qs_csv = False
    app.resp_options.default_media_type = falcon.MEDIA_JSON
    install_error_handlers(app)
    for module in ROUTE_MODULES:
        for path, resource in module.routes(services):
            app.add_route(path, resource)
    app.add_route("/v1/openapi.json", service.OpenAPI(services, document))
    return app
