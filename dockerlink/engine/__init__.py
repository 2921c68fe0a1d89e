"""dockerlink.engine — a small hand-written Docker Engine API client over the unix socket.

    from dockerlink.engine import Engine
    with Engine("/var/run/docker.sock") as engine:
        result = engine.execs.run("my-site", ["git", "log", "-1"], timeout=30)
"""

from .client import DEFAULT_API_VERSION, Engine
from .errors import (
    AmbiguousReference,
    BadRequest,
    Conflict,
    EngineAPIError,
    EngineError,
    EngineUnavailable,
    InvalidReference,
    NotFound,
    ServerError,
)
from .frames import FrameError, demultiplex, iter_frames
from .models import (
    ContainerDetails,
    ContainerSpec,
    ContainerSummary,
    EngineEvent,
    EngineInfo,
    EngineVersion,
    ExecInfo,
    ExecResult,
    ImageInfo,
    PortBinding,
    StatsSnapshot,
    VolumeInfo,
)
from .refs import check_container_ref

__all__ = [
    "DEFAULT_API_VERSION",
    "Engine",
    "EngineError",
    "EngineUnavailable",
    "EngineAPIError",
    "InvalidReference",
    "BadRequest",
    "AmbiguousReference",
    "NotFound",
    "Conflict",
    "ServerError",
    "FrameError",
    "demultiplex",
    "iter_frames",
    "ContainerDetails",
    "ContainerSpec",
    "ContainerSummary",
    "EngineEvent",
    "EngineInfo",
    "EngineVersion",
    "ExecInfo",
    "ExecResult",
    "ImageInfo",
    "PortBinding",
    "StatsSnapshot",
    "VolumeInfo",
    "check_container_ref",
]
