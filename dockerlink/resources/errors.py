"""The one place where exceptions become HTTP answers: text/plain, one line, no trace."""

from __future__ import annotations

import logging

import falcon

from ..engine import errors as engine_errors
from ..errors import GitFailed, ServiceError

__all__ = ["install_error_handlers"]

log = logging.getLogger("dockerlink.http")

_ENGINE_STATUS: tuple[tuple[type[Exception], int], ...] = (
    (engine_errors.InvalidReference, 400),
    (engine_errors.EngineUnavailable, 503),
    (engine_errors.NotFound, 404),
    (engine_errors.Conflict, 409),
    (engine_errors.BadRequest, 400),
    (engine_errors.EngineAPIError, 502),
)


def _one_line(text: str, limit: int = 1000) -> str:
    line = " ".join(str(text).split())
    return line[:limit] or "error"


def _plain(resp: falcon.Response, status: int, body: str) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_TEXT
    resp.text = body if body.endswith("\n") else body + "\n"


def _service_error(req: falcon.Request, resp: falcon.Response, ex: ServiceError, params: dict) -> None:
    # git's output is the answer itself: keep its lines.
    body = ex.message if isinstance(ex, GitFailed) else _one_line(ex.message)
    _plain(resp, ex.status, body)


def _engine_error(req: falcon.Request, resp: falcon.Response, ex: engine_errors.EngineError, params: dict) -> None:
    status = next((code for cls, code in _ENGINE_STATUS if isinstance(ex, cls)), 502)
    if status == 502:
        log.warning("unexpected engine answer on %s %s: %s", req.method, req.path, ex)
        message = f"the Docker engine answered with an unexpected error: {ex}"
    else:
        message = str(ex)
    _plain(resp, status, _one_line(message))


def _http_error(req: falcon.Request, resp: falcon.Response, ex: falcon.HTTPError, params: dict) -> None:
    text = ex.title if not ex.description else f"{ex.title}: {ex.description}"
    _plain(resp, ex.status_code, _one_line(text))
    for name, value in (ex.headers or {}).items():
        resp.set_header(name, value)


def _unexpected(req: falcon.Request, resp: falcon.Response, ex: Exception, params: dict) -> None:
    log.exception("unhandled error on %s %s", req.method, req.path)
    _plain(resp, 500, "internal error (logged by dockerlink)")


def install_error_handlers(app: falcon.App) -> None:
    """Most specific last: Falcon picks the handler of the nearest class in the MRO."""
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(falcon.HTTPError, _http_error)
    app.add_error_handler(engine_errors.EngineError, _engine_error)
    app.add_error_handler(ServiceError, _service_error)
