"""What a hosting container is, and the operations the panel runs on them.

A hosting container has a port area on the host, hard memory and CPU limits, a named
volume `dockerlink-<name>-www` at /var/www that is removed with it unless asked otherwise, the
restart policy `unless-stopped`, and a start command that runs the site's starter script
and the panel's commands before exec-ing the image's keep-alive process.
"""

from __future__ import annotations

import fcntl
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .access import Access, Credentials, check_site_name, parse_credentials
from .config import Config
from .engine import (
    ContainerDetails,
    ContainerSpec,
    Engine,
    EngineInfo,
    InvalidReference,
    NotFound,
    PortBinding,
    ServerError,
    check_image_ref,
)
from .errors import Conflicting, InvalidInput, from_engine
from .limits import CPU_PERIOD, NO_CPU_LIMIT, UNLIMITED, cpu_quota, cpu_warning, memory_bytes, memory_warning
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
    credentials: Credentials = Credentials()  # the site owner's login (SPEC §6.1)


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


def parse_create(body: dict[str, Any], config: Config) -> CreateRequest:
    """Validate a create body (SPEC §3) before the engine sees any of it."""
    for field in ("name", "host_port_root", "memory", "cpulimit"):
        if field not in body:
            raise InvalidInput(field, "is required")
    name = body["name"]
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidInput("name", "expected [a-zA-Z0-9][a-zA-Z0-9_.-]+, at most 128 characters")
    check_site_name(name, config)
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
        cpu_quota=cpu_quota(body["cpulimit"]),
        ports=parse_ports(body.get("ports"), config.port_area_size),
        image=image,
        commands=_commands(body.get("commands")),
        credentials=parse_credentials(body, generate=True),
    )


def parse_resize(body: dict[str, Any]) -> Resize:
    """Validate a resize body; 0 (no limit) stays 0 here, `Hosting.resize` says what it means."""
    if body.get("memory") is None and body.get("cpulimit") is None:
        raise InvalidInput("body", "give cpulimit, memory or both")
    return Resize(
        memory=None if body.get("memory") is None else memory_bytes(body["memory"]),
        cpu_quota=None if body.get("cpulimit") is None else cpu_quota(body["cpulimit"]),
    )


def _limit(value: int) -> int | None:
    """A create's limit: no limit is the engine's default, so nothing is sent."""
    return None if value == UNLIMITED else value


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
        "name": "/" + c.name,  # Docker's form, as the original: the PHP panel cuts the first character
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

    def __init__(
        self, engine: Engine, config: Config, store: Any, before_remove: Callable[[ContainerDetails], Any] | None = None
    ) -> None:
        self.engine = engine
        self.config = config
        self.store = store
        self.before_remove = before_remove  # the final backup (dockerlink.backups): raises to keep the site
        self._info: EngineInfo | None = None
        self.access = Access(engine, config)
        self._create_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=INSPECT_CONCURRENCY, thread_name_prefix="dockerlink-inspect")
        self._lock_path = Path(config.stats_db).with_name(Path(config.stats_db).name + ".create.lock")

    @property
    def host(self) -> EngineInfo:
        """The engine's host (cores, memory), asked once: it does not change under us."""
        if self._info is None:
            self._info = self.engine.system.info()
        return self._info

    # -- reading ---------------------------------------------------------------------------

    def describe_many(self, ids: Sequence[str], running: bool | None = None) -> dict[str, dict[str, Any]]:
        """`{"error": {id: message}, "success": {id: entry}}`; one unknown id never fails the others.

        `running`: True lists only running containers, False only the others, None all
        (ignored with `ids`). Only an id that does not (or cannot) exist lands in `error`:
        the PHP panel deletes every key of `error` from its database, so any other failure
        (the engine down, a 500, a timeout) fails the whole request instead.

        Inspects run concurrently: each is a round trip to the engine, and a host holds
        hundreds of sites."""
        listing = not ids
        if listing:
            listed = self.engine.containers.list(all=True)
            refs = [c.id for c in listed if running is None or (c.state == "running") == running]
        else:
            refs = list(ids)
        errors: dict[str, str] = {}
        found: dict[str, Any] = {}
        for ref, result in zip(refs, self._pool.map(self._inspect_or_missing, refs), strict=True):
            if isinstance(result, ContainerDetails):
                found[ref] = describe(result)
                if is_owned(result):
                    found[ref].update(self.access.describe(result.name))
            elif not listing:  # when listing, it was removed between list and inspect
                errors[ref] = str(result)
        return {"error": errors, "success": found}

    def _inspect_or_missing(self, ref: str) -> ContainerDetails | NotFound | InvalidReference:
        """The details, or the error saying there is no such container; any other error raises."""
        try:
            return self.engine.containers.inspect(ref)
        except (InvalidReference, NotFound) as exc:
            return exc

    def owned(self, ref: str) -> ContainerDetails:
        return require_owned(self.engine.containers.inspect(ref))

    # -- creating --------------------------------------------------------------------------

    def create(self, req: CreateRequest, start: bool = False) -> tuple[str, list[str], dict[str, Any]]:
        """Create (and optionally start) a hosting container; returns its id, warnings and the
        extra fields of the answer (a generated password, once)."""
        keepalive = self._keepalive(req.image)
        warning = cpu_warning(req.cpu_quota, self.host.cpus)
        with self._exclusive():
            self._check_area(req.host_port_root)
            volume_existed = self._volume_exists(volume_name(req.name))
            volume_labels = {LABEL: __version__, "dockerlink.container": req.name}
            self.engine.volumes.create(volume_name(req.name), labels=volume_labels)
            spec = ContainerSpec(
                image=req.image,
                entrypoint=("/bin/sh", "-c", start_script(req.commands), "dockerlink-start"),
                cmd=keepalive,
                working_dir=WORKDIR,
                # The original's `ports` label too, so the original service could still manage it.
                labels={
                    LABEL: __version__,
                    ROOT_LABEL: str(req.host_port_root),
                    LEGACY_PORTS_LABEL: str(req.host_port_root),
                },
                port_bindings=tuple(
                    PortBinding(p.port, p.protocol, self.config.publish_ip, req.host_port_root + p.port)
                    for p in req.ports
                )
                + (self.access.terminal_binding(req.host_port_root),),
                volumes={volume_name(req.name): WWW},
                memory=_limit(req.memory),
                memory_swap=_limit(req.memory),
                cpu_period=None if req.cpu_quota == UNLIMITED else CPU_PERIOD,
                cpu_quota=_limit(req.cpu_quota),
                restart_policy=RESTART_POLICY,
            )
            container_id, warnings = self.engine.containers.create(spec, name=req.name)
        try:
            extra = self.access.provision(container_id, req.name, req.host_port_root, req.credentials)
        except Exception:
            # Login or nginx refused: nothing of this create is left (a volume it found stays).
            self.engine.containers.remove(container_id, force=True)
            if not volume_existed:
                self.engine.volumes.remove(volume_name(req.name))
            raise
        if start:
            try:
                self._start(container_id)
            except Conflicting:
                # Not left half-made: the panel retries with another root under the same name.
                self.engine.containers.remove(container_id, force=True)
                self.access.remove_site(req.name)
                raise
        return container_id, ([warning] if warning else []) + warnings, extra

    def _volume_exists(self, name: str) -> bool:
        try:
            self.engine.volumes.inspect(name)
        except NotFound:
            return False
        return True

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

    def delete(self, ref: str, volumes: bool = True) -> None:
        """Stop and remove, with the /var/www volume unless `volumes` is False: a name given
        later to another user must not hand them the previous owner's files."""
        c = self.owned(ref)
        if volumes and self.before_remove and c.volumes.get(WWW):
            self.before_remove(c)
        self.engine.containers.remove(c.id, force=True)
        self.access.remove_site(c.name)
        if volumes and c.volumes.get(WWW):
            try:
                self.engine.volumes.remove(c.volumes[WWW])
            except NotFound:
                pass
        self.store.forget(c.id)

    def resize(self, ref: str, resize: Resize) -> list[str]:
        """Change limits live; 0 removes the CPU limit and sets the host's memory (the
        engine cannot remove a memory limit: see `limits`)."""
        c = self.owned(ref)
        warnings: list[str] = []
        memory, quota, period = resize.memory, resize.cpu_quota, None
        if memory == UNLIMITED:
            memory = self.host.memory_total
            warnings.append(memory_warning(memory))
        if quota == UNLIMITED:
            quota = NO_CPU_LIMIT
        elif quota is not None:
            period = CPU_PERIOD
            warning = cpu_warning(quota, self.host.cpus)
            warnings += [warning] if warning else []
        try:
            return warnings + self.engine.containers.update(
                c.id,
                memory=memory,
                memory_swap=memory,  # the engine refuses a Memory above the current MemorySwap
                cpu_period=period,
                cpu_quota=quota,
            )
        except ServerError as exc:
            if memory is not None and "memory limit" in exc.message:
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
