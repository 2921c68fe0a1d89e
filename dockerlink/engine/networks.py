"""Network endpoints: inspect, create, connect and disconnect a container."""

from __future__ import annotations

from collections.abc import Mapping

from .models import NetworkInfo
from .refs import check_container_ref, check_network_ref
from .transport import Transport

__all__ = ["Networks"]


class Networks:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def inspect(self, ref: str) -> NetworkInfo:
        return NetworkInfo.from_api(self._t.request("GET", ["networks", check_network_ref(ref)]).json())

    def create(
        self,
        name: str,
        *,
        labels: Mapping[str, str] | None = None,
        options: Mapping[str, str] | None = None,
        subnet: str | None = None,
    ) -> str:
        """Create a bridge network; its id. A name already taken is the engine's 409 (Conflict):
        without CheckDuplicate the engine would make a second network of the same name."""
        body: dict[str, object] = {
            "Name": check_network_ref(name),
            "Driver": "bridge",
            "CheckDuplicate": True,
            "Labels": dict(labels or {}),
            "Options": dict(options or {}),
        }
        if subnet:
            body["IPAM"] = {"Driver": "default", "Config": [{"Subnet": subnet}]}
        return self._t.request("POST", ["networks", "create"], json=body, ok=(201,)).json()["Id"]

    def remove(self, ref: str) -> None:
        self._t.request("DELETE", ["networks", check_network_ref(ref)])

    def connect(self, ref: str, container: str) -> None:
        """Attach a container (running or not); a running one gets an address on it at once."""
        body = {"Container": check_container_ref(container)}
        self._t.request("POST", ["networks", check_network_ref(ref), "connect"], json=body)

    def disconnect(self, ref: str, container: str) -> None:
        body = {"Container": check_container_ref(container), "Force": False}
        self._t.request("POST", ["networks", check_network_ref(ref), "disconnect"], json=body)
