"""`Engine`: one transport, and the engine's nouns as attributes."""

from __future__ import annotations

from .address import default_address
from .archives import Archives
from .containers import Containers
from .execs import Execs
from .images import Images
from .networks import Networks
from .system import System
from .tls import TLSConfig
from .transport import Transport
from .volumes import Volumes

__all__ = ["Engine", "DEFAULT_API_VERSION"]

#: The oldest engine API dockerlink supports (Docker 20.10).
DEFAULT_API_VERSION = "1.41"


class Engine:
    """A Docker engine at `address` (`unix:///path`, `/path` or `tcp://host:port`;
    default: `DOCKER_HOST`, else `/var/run/docker.sock`); `tls` for a TCP engine behind TLS."""

    def __init__(
        self, address: str | None = None, api_version: str = DEFAULT_API_VERSION, *, tls: TLSConfig | None = None
    ) -> None:
        self.transport = Transport(address or default_address(), api_version, tls=tls)
        self.containers = Containers(self.transport)
        self.execs = Execs(self.transport)
        self.volumes = Volumes(self.transport)
        self.images = Images(self.transport)
        self.system = System(self.transport)
        self.archives = Archives(self.transport)
        self.networks = Networks(self.transport)

    @property
    def address(self) -> str:
        return self.transport.address

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
