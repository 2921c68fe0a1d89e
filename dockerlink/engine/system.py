"""System endpoints: ping, info, version, events."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping, Sequence

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

    def follow(
        self,
        since: float,
        until: float | None = None,
        filters: Mapping[str, Sequence[str]] | None = None,
    ) -> Iterator[EngineEvent]:
        """Events from `since` on, each as soon as it happens, until `until` (unix seconds,
        usually in the future: the engine holds the stream open till then) or, without it,
        until the connection breaks or the iterator is closed. Raises EngineUnavailable when
        the stream breaks."""
        params = {"since": f"{since:.9f}"}
        if until is not None:
            params["until"] = f"{until:.9f}"
        if filters:
            params["filters"] = encode_filters(filters)
        # The read timeout is per read: the stream may be silent for the whole window (or forever).
        timeout = (3.0, None if until is None else max(0.0, until - time.time()) + 30.0)
        pending = b""
        with self._t.stream("GET", ["events"], params=params, timeout=timeout) as answer:
            for chunk in answer.chunks(4096):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        yield EngineEvent.from_api(json.loads(line))
        if pending.strip():
            yield EngineEvent.from_api(json.loads(pending))
