"""Volume endpoints: create, inspect, remove."""

from __future__ import annotations

from collections.abc import Mapping

from .models import VolumeInfo
from .refs import check_volume_name
from .transport import Transport

__all__ = ["Volumes"]


class Volumes:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def create(self, name: str, labels: Mapping[str, str] | None = None) -> VolumeInfo:
        """Create a named local volume (the engine returns the existing one if present)."""
        body = {"Name": check_volume_name(name), "Driver": "local", "Labels": dict(labels or {})}
        return VolumeInfo.from_api(self._t.request("POST", ["volumes", "create"], json=body).json())

    def inspect(self, name: str) -> VolumeInfo:
        return VolumeInfo.from_api(self._t.request("GET", ["volumes", check_volume_name(name)]).json())

    def remove(self, name: str, force: bool = False) -> None:
        self._t.request("DELETE", ["volumes", check_volume_name(name)], params={"force": "1" if force else "0"})
