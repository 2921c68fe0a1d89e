"""System endpoints: ping, info, version, events."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from .models import EngineEvent, EngineInfo, EngineVersion
from .transport import Transport, encode_filters

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

    def volume_usage(self) -> dict[str, int]:
        """Bytes used by each local volume (`/system/df`; -1 where the engine has not
        measured it). The engine walks every volume to answer: call it rarely."""
        r = self._t.request("GET", ["system", "df"], params={"type": "volume"}, timeout=(3.0, 300.0))
        usage = {}
        for v in (r.json() or {}).get("Volumes") or []:
            usage[v["Name"]] = int((v.get("UsageData") or {}).get("Size", -1))
        return usage

    def events(
        self, since: float, until: float, filters: Mapping[str, Sequence[str]] | None = None
    ) -> list[EngineEvent]:
        """Events between two past instants (unix seconds): the engine answers at once and
        closes the stream (an `until` in the future would hold the call open until then)."""
        params = {"since": f"{since:.9f}", "until": f"{until:.9f}"}
        if filters:
            params["filters"] = encode_filters(filters)
        r = self._t.request("GET", ["events"], params=params)
        return [EngineEvent.from_api(json.loads(line)) for line in r.content.splitlines() if line.strip()]
