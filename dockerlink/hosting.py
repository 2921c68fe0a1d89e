"""What a hosting container is, and the operations the panel runs on them.

A hosting container has a port area on the host, hard memory and CPU limits, a named
volume `dockerlink-<name>-www` at /var/www that outlives it unless asked otherwise, the
restart policy `unless-stopped`, and a start command that runs the site's starter script
and the panel's commands before exec-ing the image's keep-alive process.
"""

from __future__ import annotations

import fcntl
import logging
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .config import Config
from .engine import (
    ContainerDetails,
    ContainerSpec,
    Engine,
    EngineAPIError,
    EngineError,
    InvalidReference,
    NotFound,
    PortBinding,
    ServerError,
    check_image_ref,
)
from .errors import Conflicting, InvalidInput, from_engine
from .limits import CPU_PERIOD, cpu_quota, memory_bytes
from .ownership import LABEL, LEGACY_PORTS_LABEL, ROOT_LABEL, is_owned, require_owned
from .ports import ContainerPort, check_root, overlaps, parse_ports

__all__ = [
    "NAME_PATTERN",
    "CreateRequest",
    "Resize",
    "Hosting",
    "describe",
    "parse_create",
    "parse_resize",
    "port_root",
    "start_script",
    "volume_name",
]

log = logging.getLogger("dockerlink.hosting")

#: A new container's name; also valid as an ECMA-262 pattern, for the OpenAPI document.
NAME_PATTERN = r"[a-zA-Z0-9][a-zA-Z0-9_.-]{1,127}"
_NAME = re.compile(NAME_PATTERN)
WWW = "/var/www"
WORKDIR = "/var/www/html"
RESTART_POLICY = "unless-stopped"
MAX_COMMANDS = 64
INSPECT_CONCURRENCY = 8
MAX_COMMAND_LENGTH = 8192
# "Bind for 0.0.0.0:41022 failed: port is already allocated" /
# "listen tcp4 0.0.0.0:41122: bind: address already in use"
_PORT_TAKEN = re.compile(r"(?:Bind for|listen \w+) \S*?:(\d+)(?: failed)?:? .*(?:already allocated|already in use)")


def volume_name(container_name: str) -> str:
    return f"dockerlink-{container_name}-www"


def start_script(commands: Sequence[str]) -> str:
    """The `sh -c` script of a hosting container; the keep-alive argv follows as "$@".

    A failing command does not stop the keep-alive: the site's SSH stays reachable so its
    owner can repair it, instead of a restart loop under `unless-stopped`."""
    parts = [f"[ -f {WWW}/starter.sh ] && sh {WWW}/starter.sh"]
    if commands:
        parts.append("{ " + " && ".join(commands) + "; }")
    parts.append('exec "$@"')
    return "; ".join(parts)


@dataclass(frozen=True)
class CreateRequest:
    name: str
    host_port_root: int
    memory: int
    cpu_quota: int
    ports: tuple[ContainerPort, ...]
    image: str
    commands: tuple[str, ...]


@dataclass(frozen=True)
class Resize:
    memory: int | None
    cpu_quota: int | None


def _commands(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise InvalidInput("commands", "expected a list of shell commands (strings)")
    if len(value) > MAX_COMMANDS:
        raise InvalidInput("commands", f"at most {MAX_COMMANDS} commands")
    for c in value:
        if not c.strip() or len(c) > MAX_COMMAND_LENGTH or "\0" in c:
            raise InvalidInput("commands", f"each command must be non-empty text under {MAX_COMMAND_LENGTH} characters")
    return tuple(value)


def parse_create(body: dict[str, Any], config: Config, host_cpus: int) -> CreateRequest:
    """Validate a create body (SPEC §3) before the engine sees any of it."""
    for field in ("name", "host_port_root", "memory", "cpulimit"):
        if field not in body:
            raise InvalidInput(field, "is required")
    name = body["name"]
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput("name", "expected [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most 128 characters")
    image = body.get("image")
    if image is None:
        image = config.base_image
    if not isinstance(image, str) or not image:
        raise InvalidInput("image", "expected a non-empty image reference")
    try:
        check_image_ref(image)
    except InvalidReference as exc:
        raise from_engine(exc, field="image") from None
    return CreateRequest(
        name=name,
        host_port_root=check_root(body["host_port_root"], config.port_area_size),
        memory=memory_bytes(body["memory"]),
        cpu_quota=cpu_quota(body["cpulimit"], host_cpus),
        ports=parse_ports(body.get("ports"), config.port_area_size),
        image=image,
        commands=_commands(body.get("commands")),
    )


def parse_resize(body: dict[str, Any], host_cpus: int) -> Resize:
    if body.get("memory") is None and body.get("cpulimit") is None:
        raise InvalidInput("body", "give cpulimit, memory or both")
    return Resize(
        memory=None if body.get("memory") is None else memory_bytes(body["memory"]),
        cpu_quota=None if body.get("cpulimit") is None else cpu_quota(body["cpulimit"], host_cpus),
    )


def port_root(labels: Mapping[str, str]) -> int | None:
    """The host port root of a dockerlink container (ours, or the original's `ports` label)."""
    for key in (ROOT_LABEL, LEGACY_PORTS_LABEL):
        raw = labels.get(key)
        if raw is not None and raw.strip().isdigit():
            return int(raw)
    return None


def describe(c: ContainerDetails) -> dict[str, Any]:
    """A container as the panel sees it (SPEC §3, GET /v1/container)."""
    owned = is_owned(c)
    entry: dict[str, Any] = {
        "id": c.id,
        "name": c.name,
        "host_port_root": port_root(c.labels) if owned else None,
        "dockerlink": c.labels[LABEL] if owned else "not_dockerlink",
        "ports": {p: {} for p in c.exposed_ports},
        "state": c.state,
    }
    if c.running:
        entry["started_at"] = c.started_at
    else:
        entry["exit_code"] = c.exit_code
    return entry


@contextmanager
def _port_conflicts() -> Iterator[None]:
    """An engine 500 "port is already allocated / in use" becomes Conflicting, naming the
    port; any other ServerError goes on as it is."""
    try:
        yield
    except ServerError as exc:
        m = _PORT_TAKEN.search(exc.message)
        if m:
            raise Conflicting(f"host port {m[1]} is already in use on this host") from None
        raise exc from None


class Hosting:
    """Operations on hosting containers; only dockerlink's own are ever changed."""

    def __init__(self, engine: Engine, config: Config, store: Any) -> None:
        self.engine = engine
        self.config = config
        self.store = store
        self._host_cpus: int | None = None
        self._create_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=INSPECT_CONCURRENCY, thread_name_prefix="dockerlink-inspect")
        self._lock_path = Path(config.stats_db).with_name(Path(config.stats_db).name + ".create.lock")

    @property
    def host_cpus(self) -> int:
        if self._host_cpus is None:
            self._host_cpus = self.engine.system.info().cpus
        return self._host_cpus

    # -- reading ---------------------------------------------------------------------------

    def describe_many(self, ids: Sequence[str], running_only: bool) -> dict[str, dict[str, Any]]:
        """`{"error": {id: message}, "success": {id: entry}}`; one bad id never fails the others.

        Inspects run concurrently: each is a round trip to the engine, and a host holds
        hundreds of sites."""
        listing = not ids
        refs = [c.id for c in self.engine.containers.list(all=not running_only)] if listing else list(ids)
        errors: dict[str, str] = {}
        found: dict[str, Any] = {}
        for ref, result in zip(refs, self._pool.map(self._inspect_or_error, refs), strict=True):
            if isinstance(result, ContainerDetails):
                found[ref] = describe(result)
            elif not (listing and isinstance(result, NotFound)):  # gone between list and inspect
                errors[ref] = str(result)
        return {"error": errors, "success": found}

    def _inspect_or_error(self, ref: str) -> ContainerDetails | EngineError:
        try:
            return self.engine.containers.inspect(ref)
        except (InvalidReference, EngineAPIError) as exc:
            return exc

    def owned(self, ref: str) -> ContainerDetails:
        return require_owned(self.engine.containers.inspect(ref))

    # -- creating --------------------------------------------------------------------------

    def create(self, req: CreateRequest, start: bool = False) -> tuple[str, list[str]]:
        """Create (and optionally start) a hosting container; returns its id and warnings."""
        keepalive = self._keepalive(req.image)
        with self._exclusive():
            self._check_area(req.host_port_root)
            volume_labels = {LABEL: __version__, "dockerlink.container": req.name}
            self.engine.volumes.create(volume_name(req.name), labels=volume_labels)
            spec = ContainerSpec(
                image=req.image,
                entrypoint=("/bin/sh", "-c", start_script(req.commands), "dockerlink-start"),
                cmd=keepalive,
                working_dir=WORKDIR,
                labels={LABEL: __version__, ROOT_LABEL: str(req.host_port_root)},
                port_bindings=tuple(
                    PortBinding(p.port, p.protocol, self.config.publish_ip, req.host_port_root + p.port)
                    for p in req.ports
                ),
                volumes={volume_name(req.name): WWW},
                memory=req.memory,
                memory_swap=req.memory,
                cpu_period=CPU_PERIOD,
                cpu_quota=req.cpu_quota,
                restart_policy=RESTART_POLICY,
            )
            container_id, warnings = self.engine.containers.create(spec, name=req.name)
        if start:
            try:
                self._start(container_id)
            except Conflicting:
                # Not left half-made: the panel retries with another root under the same name.
                self.engine.containers.remove(container_id, force=True)
                raise
        return container_id, warnings

    def _keepalive(self, image: str) -> tuple[str, ...]:
        try:
            info = self.engine.images.inspect(image)
        except NotFound as exc:
            raise from_engine(exc, field="image") from None
        argv = info.entrypoint + info.cmd
        if not argv:
            raise InvalidInput("image", f"{image} has no command to keep the container running")
        return argv

    def _check_area(self, root: int) -> None:
        size = self.config.port_area_size
        for summary in self.engine.containers.list(all=True, filters={"label": [LABEL]}):
            other = port_root(summary.labels)
            if other is not None and overlaps(root, other, size):
                raise Conflicting(
                    f"host_port_root {root}: port area overlaps that of container {summary.name} "
                    f"(root {other}, area size {size})"
                )

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Area check and create as one step, across threads and gunicorn workers."""
        with self._create_lock, open(self._lock_path, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    # -- changing --------------------------------------------------------------------------

    def delete(self, ref: str, volumes: bool = False) -> None:
        """Stop and remove; the /var/www volume is kept unless `volumes`."""
        c = self.owned(ref)
        self.engine.containers.remove(c.id, force=True)
        if volumes and c.volumes.get(WWW):
            try:
                self.engine.volumes.remove(c.volumes[WWW])
            except NotFound:
                pass
        self.store.forget(c.id)

    def resize(self, ref: str, resize: Resize) -> list[str]:
        c = self.owned(ref)
        try:
            return self.engine.containers.update(
                c.id,
                memory=resize.memory,
                memory_swap=resize.memory,  # the engine refuses a Memory above the current MemorySwap
                cpu_period=CPU_PERIOD if resize.cpu_quota is not None else None,
                cpu_quota=resize.cpu_quota,
            )
        except ServerError as exc:
            if resize.memory is not None and "memory limit" in exc.message:
                raise Conflicting(f"memory: {exc.message}") from None
            raise

    def start(self, ref: str) -> bool:
        return self._start(self.owned(ref).id)

    def _start(self, container_id: str) -> bool:
        """Start a container already known to be ours (no inspect)."""
        with _port_conflicts():
            return self.engine.containers.start(container_id)

    def stop(self, ref: str, t: int) -> bool:
        return self.engine.containers.stop(self.owned(ref).id, t=t)

    def restart(self, ref: str, t: int) -> None:
        c = self.owned(ref)
        with _port_conflicts():
            self.engine.containers.restart(c.id, t=t)
