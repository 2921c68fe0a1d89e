"""dockerlink.engine — a small hand-written Docker Engine API client over the unix socket.

    from dockerlink.engine import Engine
    with Engine("/var/run/docker.sock") as engine:
        result = engine.execs.run("my-site", ["git", "log", "-1"], timeout=30)

Everything other modules use is exported here: import it from `dockerlink.engine`, never
from the submodules.
"""

from .address import base_url, socket_path
from .client import DEFAULT_API_VERSION, Engine
from .errors import (
    AmbiguousReference,
    AnswerTooLarge,
    BadRequest,
    Conflict,
    EngineAPIError,
    EngineError,
    EngineTimeout,
    EngineUnavailable,
    ExecStalled,
    FrameError,
    InvalidReference,
    NotFound,
    ServerError,
)
from .execs import KILL_AFTER, READ_GRACE, TIMEOUT_EXIT_CODES
from .frames import Demultiplexer, FrameDecoder, demultiplex, iter_frames
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
    NetworkInfo,
    PortBinding,
    StatsSnapshot,
    VolumeInfo,
    memory_used,
)
from .refs import CONTAINER_PATTERN, IMAGE_PATTERN, check_container_ref, check_image_ref, check_network_ref
from .tls import TLSConfig, describe_tls_error

__all__ = [
    # the client
    "DEFAULT_API_VERSION",
    "Engine",
    "TLSConfig",
    "describe_tls_error",
    "base_url",
    "socket_path",
    # errors
    "EngineError",
    "EngineUnavailable",
    "EngineTimeout",
    "ExecStalled",
    "FrameError",
    "AnswerTooLarge",
    "EngineAPIError",
    "InvalidReference",
    "BadRequest",
    "AmbiguousReference",
    "NotFound",
    "Conflict",
    "ServerError",
    # exec
    "KILL_AFTER",
    "TIMEOUT_EXIT_CODES",
    "READ_GRACE",
    "Demultiplexer",
    "demultiplex",
    "iter_frames",
    "FrameDecoder",
    # results and specs
    "ContainerDetails",
    "ContainerSpec",
    "ContainerSummary",
    "EngineEvent",
    "EngineInfo",
    "EngineVersion",
    "ExecInfo",
    "ExecResult",
    "ImageInfo",
    "NetworkInfo",
    "PortBinding",
    "StatsSnapshot",
    "VolumeInfo",
    "memory_used",
    # validation
    "CONTAINER_PATTERN",
    "IMAGE_PATTERN",
    "check_container_ref",
    "check_image_ref",
    "check_network_ref",
]
