"""System endpoints: ping, info, version."""

from __future__ import annotations

from .models import EngineInfo, EngineVersion
from .transport import Transport

__all__ = ["System"]


class System:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def ping(self) -> bool:
        """True when the engine answers `/_ping`; raises EngineUnavailable when nothing does."""
        return self._t.request("GET", ["_ping"], versioned=False, timeout=(3.0, 5.0)).content == b"OK"

    def info(self) -> EngineInfo:
        return EngineInfo.from_api(self._t.request("GET", ["info"]).json())

    def version(self) -> EngineVersion:
        return EngineVersion.from_api(self._t.request("GET", ["version"], versioned=False).json())
