"""The operations the panel runs on hosting containers, on the engine.

A hosting container has a port area on the host, memory and CPU limits, a named volume
`dockerlink-<name>-www` at /var/www that is removed with it unless asked otherwise, the
restart policy `unless-stopped`, and a start command that execs the image's keep-alive
process while the site's starter script and commands run beside it (`commands`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

from .. import __version__
from ..access import Access
from ..config import Config
from ..engine import (
    BadRequest,
    ContainerDetails,
    ContainerSpec,
    Engine,
    EngineError,
    EngineInfo,
    InvalidReference,
    NotFound,
    PortBinding,
    ServerError,
)
from ..errors import Conflicting, InvalidInput, from_engine
from ..events.journal import Journal, oom_counter
from ..isolation import ensure_site_network, is_isolated
from ..ownership import LABEL, LEGACY_PORTS_LABEL, ROOT_LABEL, is_owned, require_owned
from ..statefiles import StateFiles, locked
from ..timings import step
from .areas import AreaBook
from .commands import start_script
from .limits import CPU_PERIOD, NO_CPU_LIMIT, UNLIMITED, cpu_warning, host_protection, memory_warning
from .listing import DetailsCache
from .panel import describe, exit_fields, port_root
from .parsing import CreateRequest, Resize
from .ports import overlaps
from .privileges import site_privileges

__all__ = ["Hosting", "History", "QuotaBook", "WWW", "WORKDIR", "start_script", "volume_name"]

log = logging.getLogger("dockerlink.hosting")

WWW = "/var/www"
WORKDIR = "/var/www/html"
RESTART_POLICY = "unless-stopped"
INSPECT_CONCURRENCY = 8
# "Bind for 0.0.0.0:41022 failed: port is already allocated" /
# "listen tcp4 0.0.0.0:41122: bind: address already in use"
_PORT_TAKEN = re.compile(r"(?:Bind for|listen \w+) \S*?:(\d+)(?: failed)?:? .*(?:already allocated|already in use)")


class History(Protocol):
    """What the operations need of the stats store: a deleted container's history goes."""

    def forget(self, container_id: str) -> None: ...


def volume_name(container_name: str) -> str:
    return f"dockerlink-{container_name}-www"


def _limit(value: int) -> int | None:
    """A create's limit: no limit is the engine's default, so nothing is sent."""
    return None if value == UNLIMITED else value


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


class QuotaBook(Protocol):
    """Where disk quotas are kept (`dockerlink.backups.disk.Quotas`; the disk meter reads them)."""

    def set(self, container_id: str, gib: float | None) -> None: ...


class Hosting:
    """Operations on hosting containers; only dockerlink's own are ever changed."""

    def __init__(
        self,
        engine: Engine,
        config: Config,
        store: History,
        before_remove: Callable[[ContainerDetails], Any] | None = None,
        *,
        cache: DetailsCache | None = None,
        quotas: QuotaBook | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.engine = engine
        self.journal = journal  # the events journal (Services.journal): stop notes, OOM counts
        self.config = config
        self.store = store
        self.before_remove = before_remove  # the final backup (dockerlink.backups): raises to keep the site
        self._info: EngineInfo | None = None
        self.access = Access(engine, config)
        self._create_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=INSPECT_CONCURRENCY, thread_name_prefix="dockerlink-inspect")
        self._cache = cache
        self._cache_lock = threading.Lock()
        self._quotas = quotas
        self._site_network_checked = False

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
        if not ids:
            return {"error": {}, "success": {d.id: self._entry(d) for d in self._listing(running)}}
        errors: dict[str, str] = {}
        found: dict[str, Any] = {}
        ids = list(dict.fromkeys(ids))  # one engine call per distinct id: the answer is keyed by id
        for ref, result in zip(ids, self._pool.map(self._inspect_or_missing, ids), strict=True):
            if isinstance(result, ContainerDetails):
                found[ref] = self._entry(result)
            else:
                errors[ref] = str(result)
        return {"error": errors, "success": found}

    def sites(self) -> list[ContainerDetails]:
        """dockerlink's own containers, running or not, described through the listing's cache."""
        return [d for d in self._listing(None) if is_owned(d)]

    def _entry(self, c: ContainerDetails) -> dict[str, Any]:
        """The panel's entry, with the site's urls and TLS state for dockerlink's own."""
        entry = {**describe(c), **exit_fields(c, self._oom_kills(c))}
        if is_owned(c):
            entry.update(self.access.describe(c.name))
            entry["isolated"] = is_isolated(c, self.config.site_network)
        return entry

    def _oom_kills(self, c: ContainerDetails) -> int:
        """The cgroup OOM kills the collector last counted in this life of a running site."""
        if self.journal is None or not c.running or c.labels.get(LABEL) is None:
            return 0
        try:
            return self.journal.counter(c.id, oom_counter(c.started_at)) or 0
        except Exception:  # noqa: BLE001 - a detail of the listing; never fail it
            log.warning("could not read the event journal", exc_info=True)
            return 0

    def note_request(self, container_id: str, action: str) -> None:
        """Before a stop/restart/delete reaches the engine: the journal's `stopped` then says
        `by: dockerlink`. A journal that cannot be written never fails the operation."""
        if self.journal is None:
            return
        try:
            self.journal.note_request(container_id, action)
        except Exception:  # noqa: BLE001 - the event's `by` is a detail; the stop is the job
            log.warning("could not note the %s of %s in the event journal", action, container_id[:12], exc_info=True)

    def _listing(self, running: bool | None) -> list[ContainerDetails]:
        """Every container (or the running ones, or the others) in the engine's order: one
        list call, and an inspect only for what the cache cannot vouch for (`listing`)."""
        cache = self._details_cache()
        listed = self.engine.containers.list(all=True)
        cache.retain(c.id for c in listed)
        wanted = [c for c in listed if running is None or (c.state == "running") == running]
        cached = {c.id: d for c in wanted if (d := cache.get(c)) is not None}
        missing = [c.id for c in wanted if c.id not in cached]
        mark = cache.mark()
        fetched = [d for d in self._pool.map(self._inspect_or_missing, missing) if isinstance(d, ContainerDetails)]
        cache.put(fetched, mark)  # a container removed since the list is left out
        cached.update((d.id, d) for d in fetched)
        return [cached[c.id] for c in wanted if c.id in cached]

    def _details_cache(self) -> DetailsCache:
        """Made and started at the first listing: in the gunicorn worker, after the fork."""
        with self._cache_lock:
            if self._cache is None:
                self._cache = DetailsCache(self.engine.system)
        self._cache.start()
        return self._cache

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
        with step("image, network, host"):
            keepalive = self._keepalive(req.image)
            network = self._site_network()
            warning = cpu_warning(req.cpu_quota, self.host.cpus)
        with self._exclusive():
            book = self._details_cache().areas
            mark = book.mark()
            with step("volume"):
                volume_existed = self._volume_exists(volume_name(req.name))
                volume_labels = {LABEL: __version__, "dockerlink.container": req.name}
                self.engine.volumes.create(volume_name(req.name), labels=volume_labels)
            try:
                with step("area check"):
                    self._check_area(req.host_port_root, book, volume_name(req.name), mark)
            except Exception:
                if not volume_existed:  # what this request made goes with it; a kept volume stays
                    self._remove_quietly(volume_name(req.name))
                raise
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
                network=network,
                memory=_limit(req.memory),
                memory_swap=_limit(req.memory),
                cpu_period=None if req.cpu_quota == UNLIMITED else CPU_PERIOD,
                cpu_quota=_limit(req.cpu_quota),
                restart_policy=RESTART_POLICY,
                **host_protection(self.config),
                **site_privileges(),
            )
            try:
                with step("container create"):
                    container_id, warnings = self._create_on_site_network(spec, req.name)
            except Exception:
                if not volume_existed:  # what this request made goes with it; a kept volume stays
                    self._remove_quietly(volume_name(req.name))
                raise
        try:
            with step("provision"):
                image_id = self.engine.containers.inspect(container_id).image_id  # what it was made from
                extra = self.access.provision(container_id, req.name, req.host_port_root, req.credentials, image_id)
        except Exception:
            # Login or nginx refused: nothing of this create is left (a volume it found stays).
            self.engine.containers.remove(container_id, force=True)
            if not volume_existed:
                self.engine.volumes.remove(volume_name(req.name))
            raise
        if start:
            try:
                with step("start"):
                    self._start(container_id)
            except Conflicting:
                # Not left half-made: the panel retries with another root under the same name.
                self.engine.containers.remove(container_id, force=True)
                self.access.remove_site(req.name)
                raise
        with step("disk quota"):
            self._set_quota(container_id, req.disk)
        return container_id, ([warning] if warning else []) + warnings, extra

    def _site_network(self, again: bool = False) -> str:
        """The site network's name, checked (and made if missing) once per process, or `again`."""
        if again or not self._site_network_checked:
            ensure_site_network(self.engine.networks, self.config.site_network, self.config.site_subnet)
            self._site_network_checked = True
        return self.config.site_network

    def _create_on_site_network(self, spec: ContainerSpec, name: str) -> tuple[str, list[str]]:
        """Create; a site network removed since it was checked is made again, once."""
        try:
            return self.engine.containers.create(spec, name=name)
        except NotFound as exc:
            if "network" not in exc.message:
                raise
            self._site_network(again=True)
            return self.engine.containers.create(spec, name=name)

    def isolate(self, ref: str) -> dict[str, Any]:
        """Move a site made before the site network (on the engine's default bridge) onto
        it: joined first, then taken off every other network. Its id, data, ports and limits
        stay; a running site gets a new address on the site network (its published ports
        follow it). Already isolated: nothing changes."""
        c = self.owned(ref)
        if is_isolated(c, self.config.site_network):
            return {"id": c.id, "isolated": True, "moved": False}
        network = self._site_network(again=True)
        if network not in c.networks:
            self.engine.networks.connect(network, c.id)
        for other in c.networks:
            if other != network:
                self.engine.networks.disconnect(other, c.id)
        return {"id": c.id, "isolated": True, "moved": True}

    def _volume_exists(self, name: str) -> bool:
        try:
            self.engine.volumes.inspect(name)
        except NotFound:
            return False
        return True

    def _remove_quietly(self, volume: str) -> None:
        try:
            self.engine.volumes.remove(volume)
        except EngineError as exc:
            log.warning("could not remove volume %s after a failed create: %s", volume, exc)

    def _keepalive(self, image: str) -> tuple[str, ...]:
        try:
            info = self.engine.images.inspect(image)
        except (NotFound, BadRequest) as exc:  # BadRequest: e.g. a name over 255 characters
            raise from_engine(exc, field="image") from None
        argv = info.entrypoint + info.cmd
        if not argv:
            raise InvalidInput("image", f"{image} has no command to keep the container running")
        return argv

    def _check_area(self, root: int, book: AreaBook, volume: str, mark: int) -> None:
        """No other dockerlink container's port area overlaps `root`'s. The worker's book
        answers when it vouches for being as true as a list made now (its stream delivered
        the event of `volume`, created after `mark`: see `areas`); otherwise, or to confirm
        a conflict it found, one list of every dockerlink container, which seeds the book."""
        size = self.config.port_area_size
        if book.vouches(volume, mark) and book.overlapping(root, size) is None:
            return
        mark = book.mark()
        listed = self.engine.containers.list(all=True, filters={"label": [LABEL]})
        book.seed(listed, mark)
        for summary in listed:
            other = port_root(summary.labels)
            if other is not None and overlaps(root, other, size):
                raise Conflicting(
                    f"host_port_root {root}: port area overlaps that of container {summary.name} "
                    f"(root {other}, area size {size})"
                )

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Area check and create as one step, across threads and gunicorn workers."""
        with self._create_lock, locked(StateFiles.of(self.config).path("create_lock")):
            yield

    # -- changing --------------------------------------------------------------------------

    def delete(self, ref: str, volumes: bool = True) -> None:
        """Stop and remove, with the /var/www volume unless `volumes` is False: a name given
        later to another user must not hand them the previous owner's files."""
        with step("inspect"):
            c = self.owned(ref)
        if volumes and self.before_remove and c.volumes.get(WWW):
            with step("final backup"):
                self.before_remove(c)  # raises, and nothing is deleted, when it fails
        with step("journal note"):
            self.note_request(c.id, "delete")
        with step("remove"):
            self.engine.containers.remove(c.id, force=True)
        with step("site file"):
            self.access.remove_site(c.name)
        if volumes and c.volumes.get(WWW):
            with step("volume remove"):
                try:
                    self.engine.volumes.remove(c.volumes[WWW])
                except NotFound:
                    pass
        with step("history"):
            self.store.forget(c.id)

    def resize(self, ref: str, resize: Resize) -> list[str]:
        """Change limits live; 0 removes the CPU limit and sets the host's memory (the
        engine cannot remove a memory limit: see `limits`). A disk quota given is set after."""
        c = self.owned(ref)
        warnings = self._update_limits(c.id, resize) if resize.sets_limits else []
        if resize.sets_disk:
            self._set_quota(c.id, resize.disk)
        return warnings

    def _update_limits(self, container_id: str, resize: Resize) -> list[str]:
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
                container_id,
                memory=memory,
                memory_swap=memory,  # the engine refuses a Memory above the current MemorySwap
                cpu_period=period,
                cpu_quota=quota,
            )
        except ServerError as exc:
            if memory is not None and "memory limit" in exc.message:
                raise Conflicting(f"memory: {exc.message}") from None
            raise

    def _set_quota(self, container_id: str, quota: float | None) -> None:
        if self._quotas is not None:
            self._quotas.set(container_id, quota)
        elif quota is not None:
            raise InvalidInput("disk", "this service keeps no disk quotas")

    def start(self, ref: str) -> bool:
        return self._start(self.owned(ref).id)

    def _start(self, container_id: str) -> bool:
        """Start a container already known to be ours (no inspect)."""
        with _port_conflicts():
            return self.engine.containers.start(container_id)

    def stop(self, ref: str, t: int) -> bool:
        c = self.owned(ref)
        self.note_request(c.id, "stop")
        return self.engine.containers.stop(c.id, t=t)

    def restart(self, ref: str, t: int) -> None:
        c = self.owned(ref)
        self.note_request(c.id, "restart")
        with _port_conflicts():
            self.engine.containers.restart(c.id, t=t)
