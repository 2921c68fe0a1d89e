"""The one place where exceptions become HTTP answers: text/plain, one line, no trace.

Each service error (`dockerlink.errors`) has one status here; an engine error is first
translated by `dockerlink.errors.from_engine`, then answered like the service error it is."""

from __future__ import annotations

import logging

import falcon

from ..engine import EngineError
from ..errors import (
    BackupFailed,
    Busy,
    Conflicting,
    DockerlinkError,
    EngineDown,
    EngineFault,
    Forbidden,
    GitFailed,
    GitTimeout,
    InvalidInput,
    NoSuchBackup,
    NoSuchContainer,
    NoSuchTransfer,
    ProxyError,
    SiteNetworkUnfit,
    TooLarge,
    from_engine,
)
from ..tokens import InvalidToken

__all__ = ["STATUS", "install_error_handlers", "status_of"]

log = logging.getLogger("dockerlink.http")

#: The HTTP status of each service error; nothing else in dockerlink knows them.
STATUS: dict[type[DockerlinkError], int] = {
    InvalidInput: 400,
    Forbidden: 403,
    NoSuchContainer: 404,
    NoSuchBackup: 404,
    NoSuchTransfer: 404,
    Conflicting: 409,
    GitFailed: 412,
    ProxyError: 502,
    TooLarge: 413,
    BackupFailed: 502,
    EngineFault: 502,
    EngineDown: 503,
    SiteNetworkUnfit: 503,
    GitTimeout: 504,
    Busy: 429,
}


def status_of(ex: DockerlinkError) -> int:
    return next((code for cls, code in STATUS.items() if isinstance(ex, cls)), 500)


def _one_line(text: str, limit: int = 1000) -> str:
    line = " ".join(str(text).split())
    return line[:limit] or "error"


def _plain(resp: falcon.Response, status: int, body: str) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = body if body.endswith("\n") else body + "\n"


def _service_error(req: falcon.Request, resp: falcon.Response, ex: DockerlinkError, params: dict) -> None:
    if isinstance(ex, EngineFault):
        log.warning("unexpected engine answer on %s %s: %s", req.method, req.path, ex)
    # git's output is the answer itself: keep its lines.
    body = ex.message if isinstance(ex, GitFailed) else _one_line(ex.message)
    _plain(resp, status_of(ex), body)
    if isinstance(ex, Busy):
        resp.set_header("Retry-After", str(ex.retry_after))


def _engine_error(req: falcon.Request, resp: falcon.Response, ex: EngineError, params: dict) -> None:
    _service_error(req, resp, from_engine(ex), params)


def _http_error(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: dict) -> None:
    text = ex.title if not ex.description else f"{ex.title}: {ex.description}"
    _plain(resp, ex.status_code, _one_line(text))
    for name, value in (ex.headers or {}).items():
        resp.set_header(name, value)


def _invalid_token(req: falcon.Request, resp: falcon.Response, ex: InvalidToken, params: dict) -> None:
    """A scoped token found revoked or expired after the door (a parked wait): 401, as there."""
    _plain(resp, 401, _one_line(f"401 Unauthorized: {ex}"))
    resp.set_header("WWW-Authenticate", "Bearer")


def _unexpected(req: falcon.Request, resp: falcon.Response, ex: Exception, params: dict) -> None:
    log.exception("unhandled error on %s %s", req.method, req.path)
    _plain(resp, 500, "internal error (logged by dockerlink)")


def install_error_handlers(app: falcon.App) -> None:
    """Most specific last: Falcon picks the handler of the nearest class in the MRO."""
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(falcon.HTTPError, _http_error)
    app.add_error_handler(EngineError, _engine_error)
    app.add_error_handler(DockerlinkError, _service_error)
    app.add_error_handler(InvalidToken, _invalid_token)
