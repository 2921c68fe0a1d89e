"""The engine client's exception tree, built from a response through one mapping.

EngineError
├── InvalidReference      an id or name refused before any call
├── EngineUnavailable     nothing answered at the engine address (or it timed out)
│   └── EngineTimeout     it accepted the request but did not answer in time
│       └── ExecStalled   an exec's output stopped coming before its end (carries exec_id)
├── FrameError            an exec/attach stream that is not well-formed frames
├── AnswerTooLarge        an answer past the caller's cap (the rest is not read)
└── EngineAPIError        the engine answered with an error status
    ├── BadRequest        400
    │   └── AmbiguousReference  an id prefix matching several containers (engine: 500)
    ├── NotFound          404
    ├── Conflict          409
    └── ServerError       500 and anything else unexpected (3xx included)
"""

from __future__ import annotations

import json

__all__ = [
    "EngineError",
    "InvalidReference",
    "EngineUnavailable",
    "EngineTimeout",
    "ExecStalled",
    "FrameError",
    "AnswerTooLarge",
    "EngineAPIError",
    "BadRequest",
    "AmbiguousReference",
    "NotFound",
    "Conflict",
    "ServerError",
    "error_from_response",
]


class EngineError(Exception):
    """Base of every error the engine client raises."""


class InvalidReference(EngineError, ValueError):
    """An id, name or other path value that does not match its strict pattern."""


class EngineUnavailable(EngineError):
    """The engine could not be reached, refused the connection, or did not answer in time."""


class EngineTimeout(EngineUnavailable):
    """The engine took the request but its answer did not come within the read timeout."""


class ExecStalled(EngineTimeout):
    """An exec's stream was still open at the read timeout; the exec may still be running."""

    def __init__(self, message: str, exec_id: str) -> None:
        super().__init__(message)
        self.exec_id = exec_id


class FrameError(EngineError, ValueError):
    """The stream is not a well-formed sequence of frames."""


class AnswerTooLarge(EngineError):
    """An answer's body went past the size its caller allows; the rest was not read."""


class EngineAPIError(EngineError):
    """The engine answered with an error status; `message` is its one-line explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return self.message


class BadRequest(EngineAPIError):
    pass


class AmbiguousReference(BadRequest):
    pass


class NotFound(EngineAPIError):
    pass


class Conflict(EngineAPIError):
    pass


class ServerError(EngineAPIError):
    pass


_BY_STATUS: dict[int, type[EngineAPIError]] = {400: BadRequest, 404: NotFound, 409: Conflict}


def _message(status: int, body: bytes) -> str:
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        text = data["message"]
    text = " ".join(text.split())
    return text or f"engine answered HTTP {status}"


def error_from_response(status: int, body: bytes, location: str | None = None) -> EngineAPIError:
    """One mapping from an engine answer to an exception (3xx are never followed)."""
    if 300 <= status < 400:
        return ServerError(status, f"engine answered an unexpected redirect ({status}) to {location!r}")
    message = _message(status, body)
    if status == 500 and message.startswith("Multiple IDs found with provided prefix"):
        return AmbiguousReference(status, message)
    return _BY_STATUS.get(status, ServerError)(status, message)
