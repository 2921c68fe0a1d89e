"""The service's error tree: what went wrong, in the service's words. No HTTP status here:
`resources/errors.py` maps each class to one, and nothing else does.

    DockerlinkError                    one line, safe to show the caller
    ├── InvalidInput(field, message)   the request is malformed; the message names the field
    ├── Forbidden                      a container dockerlink did not create; id-less git while
    │                                  disabled, outside git_host_root, or as a user it cannot be;
    │                                  a scoped token restoring another container's backup
    ├── NoSuchContainer                the engine knows no such container; no stats history either
    ├── Conflicting                    port area overlap, host port in use, memory limit below use,
    │                                  a name in use, git in a container that is not running,
    │                                  another container's backup restored without `from`
    ├── GitFailed(output, exit_code)   git exited non-zero; the message is its output
    ├── GitTimeout                     git ran past git_timeout (or its stream stalled) and was killed
    ├── ProxyError                     nginx refused a site file (its check or reload failed)
    ├── Busy(retry_after)              every long-poll slot of this worker is taken: try again soon
    ├── NoSuchBackup                   no such backup of that site (or it is not finished)
    ├── NoSuchTransfer                 no transfer of that site here (none started, or its receipt is gone)
    ├── TooLarge                       an uploaded backup over backup_max; a backup expanding past
    │                                  restore_max_expanded or the site's disk quota
    ├── BackupFailed                   a backup or restore could not complete; nothing was changed
    ├── SiteNetworkUnfit               the site network is not one dockerlink made, or lets sites
    │                                  reach each other: no site is put on it (also at start-up)
    ├── EngineFault                    the engine answered an error we did not expect, or a corrupt stream
    └── EngineDown                     nothing answered at the engine address, or not in time

    ConfigError (a ValueError)         a malformed setting, at start-up: never an HTTP answer

`from_engine()` is the one translation of the engine's tree (`dockerlink.engine.errors`)
into this one. The error handler applies it to whatever engine error reaches it; code that
knows which field an engine refusal is about (an id, an image) calls it with that field.
"""

from __future__ import annotations

from .engine import (
    BadRequest,
    Conflict,
    EngineError,
    EngineUnavailable,
    FrameError,
    InvalidReference,
    NotFound,
)

__all__ = [
    "DockerlinkError",
    "InvalidInput",
    "Forbidden",
    "NoSuchContainer",
    "Conflicting",
    "GitFailed",
    "GitTimeout",
    "ProxyError",
    "Busy",
    "NoSuchBackup",
    "TooLarge",
    "BackupFailed",
    "EngineFault",
    "EngineDown",
    "SiteNetworkUnfit",
    "NoSuchTransfer",
    "ConfigError",
    "from_engine",
]


class DockerlinkError(Exception):
    """Base of the service's errors; `message` is what the caller reads."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(DockerlinkError):
    """The message names the field (`field: message`) when one is known."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class Forbidden(DockerlinkError):
    pass


class NoSuchContainer(DockerlinkError):
    pass


class Conflicting(DockerlinkError):
    pass


class Busy(DockerlinkError):
    def __init__(self, message: str, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GitFailed(DockerlinkError):
    def __init__(self, output: str, exit_code: int) -> None:
        super().__init__(output)
        self.exit_code = exit_code


class GitTimeout(DockerlinkError):
    pass


class ProxyError(DockerlinkError):
    """nginx refused a site file or could not reload; the message carries its complaint."""


class NoSuchBackup(DockerlinkError):
    pass


class TooLarge(DockerlinkError):
    pass


class NoSuchTransfer(DockerlinkError):
    """No transfer of that site on this host (none started, or its receipt is gone)."""


class BackupFailed(DockerlinkError):
    pass


class SiteNetworkUnfit(DockerlinkError):
    """The message is one line naming the setting (`site_network: …`)."""


class EngineFault(DockerlinkError):
    pass


class EngineDown(DockerlinkError):
    pass


class ConfigError(ValueError):
    """A setting is malformed; the message is one line naming the field."""


def from_engine(exc: EngineError, field: str | None = None) -> DockerlinkError:
    """The service error an engine error stands for; `field` names the input it is about."""
    if isinstance(exc, (InvalidReference, BadRequest)):  # AmbiguousReference is a BadRequest
        return InvalidInput(field, str(exc))
    if isinstance(exc, NotFound):
        return InvalidInput(field, str(exc)) if field else NoSuchContainer(str(exc))
    if isinstance(exc, Conflict):
        return Conflicting(str(exc))
    if isinstance(exc, EngineUnavailable):
        return EngineDown(str(exc))
    if isinstance(exc, FrameError):
        return EngineFault(f"the Docker engine sent a corrupt exec stream: {exc}")
    return EngineFault(f"the Docker engine answered with an unexpected error: {exc}")
