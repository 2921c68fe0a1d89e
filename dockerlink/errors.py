"""Service-level errors (besides the engine's), each mapped to one HTTP status in
`resources/errors.py`. Messages are one line, safe to show to the caller."""

from __future__ import annotations

__all__ = [
    "ServiceError",
    "InvalidInput",
    "Forbidden",
    "ConflictError",
    "GitFailed",
    "GitTimeout",
    "HistoryNotFound",
]


class ServiceError(Exception):
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(ServiceError):
    """400: the message names the field."""

    status = 400

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class Forbidden(ServiceError):
    """403: e.g. a container dockerlink did not create, id-less git while it is disabled."""

    status = 403


class HistoryNotFound(ServiceError):
    """404: a container with no stats history."""

    status = 404


class ConflictError(ServiceError):
    """409: port area overlap, a host port in use, a limit below current usage."""

    status = 409


class GitFailed(ServiceError):
    """412: git exited non-zero; the body is its output."""

    status = 412

    def __init__(self, output: str, exit_code: int) -> None:
        super().__init__(output)
        self.exit_code = exit_code


class GitTimeout(ServiceError):
    """504: git ran past `git_timeout` and was killed."""

    status = 504
