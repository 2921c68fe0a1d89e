"""Container endpoints: list, inspect, create, start/stop/restart, remove, update, stats, logs."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from .errors import EngineError, InvalidReference
from .frames import FrameDecoder
from .models import ContainerDetails, ContainerSpec, ContainerSummary, StatsSnapshot
from .refs import check_container_ref
from .transport import DEFAULT_TIMEOUT, Response, Stream, Transport, encode_filters

__all__ = ["Containers"]

_ONE_SHOT = {"stream": "false", "one-shot": "true"}
_GRACE = 15.0  # seconds the engine may need beyond a stop's `t` before it answers
#: An archive may pause between chunks while the engine reads a big tree or a slow disk.
_ARCHIVE_TIMEOUT = (DEFAULT_TIMEOUT[0], 600.0)


class Containers:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(self, all: bool = True, filters: Mapping[str, Sequence[str]] | None = None) -> list[ContainerSummary]:
        params: dict[str, str] = {"all": "1" if all else "0"}
        if filters:
            params["filters"] = encode_filters(filters)
        r = self._t.request("GET", ["containers", "json"], params=params)
        return [ContainerSummary.from_api(c) for c in r.json() or []]

    def inspect(self, ref: str) -> ContainerDetails:
        r = self._t.request("GET", ["containers", check_container_ref(ref), "json"])
        return ContainerDetails.from_api(r.json())

    def create(self, spec: ContainerSpec, name: str | None = None) -> tuple[str, list[str]]:
        """Create (not start) a container; returns its full id and the engine's warnings."""
        params = {"name": check_container_ref(name)} if name else None
        r = self._t.request("POST", ["containers", "create"], params=params, json=spec.to_api())
        body = r.json() or {}
        return body["Id"], list(body.get("Warnings") or [])

    def start(self, ref: str) -> bool:
        """Start; False when it was already running (the engine's 304)."""
        r = self._t.request("POST", ["containers", check_container_ref(ref), "start"], ok=(204, 304))
        return r.status == 204

    def stop(self, ref: str, t: int | None = None) -> bool:
        """Stop, killing after `t` seconds; False when it was already stopped (304)."""
        params = {"t": str(t)} if t is not None else None
        r = self._t.request(
            "POST",
            ["containers", check_container_ref(ref), "stop"],
            params=params,
            ok=(204, 304),
            timeout=_long(t),
        )
        return r.status == 204

    def restart(self, ref: str, t: int | None = None) -> None:
        params = {"t": str(t)} if t is not None else None
        self._t.request("POST", ["containers", check_container_ref(ref), "restart"], params=params, timeout=_long(t))

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """Remove; `volumes` drops anonymous volumes only (named ones are removed by name)."""
        params = {"force": _flag(force), "v": _flag(volumes)}
        self._t.request("DELETE", ["containers", check_container_ref(ref)], params=params, timeout=_long(None))

    def update(
        self,
        ref: str,
        *,
        memory: int | None = None,
        memory_swap: int | None = None,
        cpu_period: int | None = None,
        cpu_quota: int | None = None,
    ) -> list[str]:
        """Change resource limits live; returns the engine's warnings (never None)."""
        body = {
            k: v
            for k, v in (
                ("Memory", memory),
                ("MemorySwap", memory_swap),
                ("CpuPeriod", cpu_period),
                ("CpuQuota", cpu_quota),
            )
            if v is not None
        }
        r = self._t.request("POST", ["containers", check_container_ref(ref), "update"], json=body)
        return list((r.json() or {}).get("Warnings") or [])

    @contextmanager
    def get_archive(self, ref: str, path: str) -> Iterator[tuple[dict, Stream]]:
        """A tar of `path` in the container (running or not), streamed: the engine's stat of
        `path` (from its X-Docker-Container-Path-Stat header) and the answer to read."""
        with self._t.stream(
            "GET", ["containers", check_container_ref(ref), "archive"], params={"path": path}, timeout=_ARCHIVE_TIMEOUT
        ) as stream:
            yield _path_stat(stream.headers.get("X-Docker-Container-Path-Stat", "")), stream

    def put_archive(self, ref: str, path: str, tar: Iterable[bytes]) -> None:
        """Extract a tar stream (plain, gzip, bzip2 or xz) under `path`, an existing directory
        of the container (running or not); owners and modes are the archive's."""
        with self._t.stream(
            "PUT",
            ["containers", check_container_ref(ref), "archive"],
            params={"path": path},
            body=tar,
            headers={"Content-Type": "application/x-tar"},
            timeout=_ARCHIVE_TIMEOUT,
        ):
            pass

    def wait(self, ref: str, timeout: float = 600.0) -> int:
        """Wait until the container stops; its exit code."""
        r = self._t.request(
            "POST", ["containers", check_container_ref(ref), "wait"], timeout=(DEFAULT_TIMEOUT[0], timeout)
        )
        return int((r.json() or {}).get("StatusCode", -1))

    def stats(self, ref: str) -> StatsSnapshot:
        """One-shot stats (no streaming, no second sample)."""
        r = self._t.request(
            "GET",
            ["containers", check_container_ref(ref), "stats"],
            params=_ONE_SHOT,
        )
        return _snapshot(r)

    def logs(
        self, ref: str, *, tail: int | None = None, since: float | None = None, timestamps: bool = True
    ) -> Iterator[tuple[int, bytes]]:
        """The container's logged output as (stream, payload) frames as they are read
        (1 stdout, 2 stderr), oldest first; each payload is one log line, prefixed with its
        RFC 3339 time and a space when `timestamps`. A tty container's raw output comes
        as stdout."""
        params = {"stdout": "1", "stderr": "1", "timestamps": _flag(timestamps)}
        if tail is not None:
            params["tail"] = str(tail)
        if since is not None:
            params["since"] = f"{since:.9f}"
        decoder = FrameDecoder()
        with self._t.stream("GET", ["containers", check_container_ref(ref), "logs"], params=params) as answer:
            for chunk in answer.chunks(1 << 16):
                yield from decoder.feed(chunk)
        yield from decoder.close()

    def stats_many(
        self, refs: Sequence[str], *, inspect: Sequence[str] = (), timeout: float = 30.0
    ) -> tuple[list[StatsSnapshot | EngineError], list[ContainerDetails | EngineError]]:
        """One-shot stats of every ref, all in flight together from this thread, and an
        inspect of each of `inspect` in the same fan-out (they answer while the stats wait
        for the daemon's tick). Each item is its result or its error, never raised."""
        stats_refs = [_checked(ref) for ref in refs]
        inspect_refs = [_checked(ref) for ref in inspect]
        calls: list[tuple[list[str], Mapping[str, str] | None]] = []
        calls += [(["containers", ref, "stats"], _ONE_SHOT) for ref in stats_refs if isinstance(ref, str)]
        calls += [(["containers", ref, "json"], None) for ref in inspect_refs if isinstance(ref, str)]
        answers = iter(self._t.get_many(calls, timeout=timeout))  # in the order of the valid refs
        snapshots: list[StatsSnapshot | EngineError] = []
        for ref in stats_refs:
            answer = ref if isinstance(ref, InvalidReference) else next(answers)
            snapshots.append(answer if isinstance(answer, EngineError) else _snapshot(answer))
        details: list[ContainerDetails | EngineError] = []
        for ref in inspect_refs:
            answer = ref if isinstance(ref, InvalidReference) else next(answers)
            details.append(answer if isinstance(answer, EngineError) else ContainerDetails.from_api(answer.json()))
        return snapshots, details


def _path_stat(header: str) -> dict:
    """The engine's stat of an archived path (base64 JSON), or {} when absent or unreadable."""
    try:
        return json.loads(base64.b64decode(header)) if header else {}
    except ValueError:
        return {}


def _checked(ref: str) -> str | InvalidReference:
    """The checked ref, or its error to hand back in its place (it is never sent)."""
    try:
        return check_container_ref(ref)
    except InvalidReference as exc:
        return exc


def _snapshot(r: Response) -> StatsSnapshot:
    return StatsSnapshot.from_api(r.json() or {})  # an empty body: the container just went away


def _flag(value: bool) -> str:
    return "1" if value else "0"


def _long(t: int | None) -> tuple[float, float]:
    return (DEFAULT_TIMEOUT[0], DEFAULT_TIMEOUT[1] + (t or 10) + _GRACE)
