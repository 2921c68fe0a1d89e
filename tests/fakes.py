"""In-memory doubles of the engine and the stats store, for service and resource tests.

The fake engine keeps the engine's observable rules that dockerlink relies on: ids,
unique prefixes and names resolve; 304 on start/stop is `False`; a Memory above the
current MemorySwap is a Conflict; a host port published twice fails at start with the
engine's 500 text; exec in a stopped container is a Conflict.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import itertools
import queue
import tarfile
from dataclasses import dataclass, field

from dockerlink.engine import (
    AmbiguousReference,
    AnswerTooLarge,
    Conflict,
    ContainerDetails,
    ContainerSpec,
    ContainerSummary,
    EngineEvent,
    EngineInfo,
    EngineUnavailable,
    EngineVersion,
    ExecResult,
    ImageInfo,
    NetworkInfo,
    NotFound,
    ServerError,
    VolumeInfo,
    check_container_ref,
)


@dataclass
class FakeStore:
    forgotten: list[str] = field(default_factory=list)
    last: float | None = None
    round: list[dict] = field(default_factory=list)  # the rows `latest_round` gives

    def latest_round(self) -> list[dict]:
        return self.round

    def last_sample_time(self) -> float | None:
        return self.last

    def forget(self, container_id: str) -> bool:
        self.forgotten.append(container_id)
        return True

    def last_reset(self) -> dict | None:
        return None


def _dir_info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info


class _FakeStream:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def chunks(self, size: int = 1 << 20):  # noqa: ANN201
        yield self._body


class FakeContainers:
    def __init__(self, engine: FakeEngine) -> None:
        self._e = engine
        self.by_id: dict[str, ContainerDetails] = {}
        self.inspected: list[str] = []
        self.logged: dict[str, list[tuple[int, bytes]]] = {}  # id -> (stream, line) frames, oldest first
        self._ids = itertools.count(1)  # per engine: ids do not depend on which tests ran before

    def _resolve(self, ref: str) -> ContainerDetails:
        self._e.check()
        check_container_ref(ref)
        if ref in self.by_id:
            return self.by_id[ref]
        named = [c for c in self.by_id.values() if c.name == ref]
        if named:
            return named[0]
        matches = [c for c in self.by_id.values() if c.id.startswith(ref)]
        if len(matches) > 1:
            raise AmbiguousReference(500, f"Multiple IDs found with provided prefix: {ref}")
        if not matches:
            raise NotFound(404, f"No such container: {ref}")
        return matches[0]

    def add(self, name: str, labels: dict[str, str] | None = None, running: bool = True, **kw) -> ContainerDetails:
        """Put a container in place directly (one the panel did not create, say)."""
        c = ContainerDetails(
            id=hashlib.sha256(f"{name}-{next(self._ids)}".encode()).hexdigest(),
            name=name,
            image="some/image:latest",
            state="running" if running else "exited",
            running=running,
            exit_code=None if running else 0,
            started_at=1_700_000_000 if running else None,
            pid=4242 if running else 0,
            labels=dict(labels or {}),
            exposed_ports=kw.pop("exposed_ports", ()),
            port_bindings=(),
            working_dir=kw.pop("working_dir", "/var/www/html"),
            memory=0,
            memory_swap=0,
            cpu_period=0,
            cpu_quota=0,
            nano_cpus=0,
            restart_policy="",
            volumes={},
        )
        c = dataclasses.replace(c, **kw)
        self.by_id[c.id] = c
        self._e.emit("create", c.id)
        return c

    def list(self, all: bool = True, filters=None) -> list[ContainerSummary]:  # noqa: A002, ANN001
        self._e.check()
        out = []
        for c in self.by_id.values():
            if not all and not c.running:
                continue
            if filters and "label" in filters and any(lbl not in c.labels for lbl in filters["label"]):
                continue
            published = c.port_bindings if c.running else ()
            out.append(
                ContainerSummary(
                    id=c.id, name=c.name, image=c.image, state=c.state, labels=dict(c.labels), published=published
                )
            )
        return out

    def inspect(self, ref: str) -> ContainerDetails:
        self.inspected.append(ref)
        return self._resolve(ref)

    def create(self, spec: ContainerSpec, name: str | None = None) -> tuple[str, list[str]]:
        self._e.check()
        if any(c.name == name for c in self.by_id.values()):
            raise Conflict(409, f'Conflict. The container name "/{name}" is already in use')
        body = spec.to_api()
        self.last_create = body
        c = self.add(
            name or "anon",
            labels=spec.labels,
            running=False,
            state="created",
            image=spec.image,
            exposed_ports=tuple(sorted(body.get("ExposedPorts", {}))),
            port_bindings=spec.port_bindings,
            memory=spec.memory or 0,
            memory_swap=spec.memory_swap or 0,
            cpu_period=spec.cpu_period or 0,
            cpu_quota=spec.cpu_quota or 0,
            restart_policy=spec.restart_policy or "",
            volumes={dest: vol for vol, dest in spec.volumes.items()},
            exit_code=0,
            networks=(spec.network or "bridge",),
        )
        return c.id, []

    def _set(self, c: ContainerDetails, action: str, **kw) -> None:
        self.by_id[c.id] = dataclasses.replace(c, **kw)
        self._e.emit(action, c.id)

    def rename(self, ref: str, name: str) -> None:
        """What `docker rename` does behind dockerlink's back (not an engine client call)."""
        self._set(self._resolve(ref), "rename", name=name)

    def start(self, ref: str) -> bool:
        c = self._resolve(ref)
        if c.running:
            return False
        taken = {
            b.host_port for o in self.by_id.values() if o.running and o.id != c.id for b in o.port_bindings
        } | self._e.host_ports_in_use
        for b in c.port_bindings:
            if b.host_port in taken:
                raise ServerError(
                    500,
                    f"driver failed programming external connectivity on endpoint {c.name} (x): "
                    f"Bind for 0.0.0.0:{b.host_port} failed: port is already allocated",
                )
        self._set(c, "start", running=True, state="running", exit_code=None, started_at=1_700_000_100, pid=999)
        return True

    def stop(self, ref: str, t: int | None = None) -> bool:
        c = self._resolve(ref)
        if not c.running:
            return False
        self._set(c, "die", running=False, state="exited", exit_code=0, started_at=None, pid=0)
        return True

    def restart(self, ref: str, t: int | None = None) -> None:
        c = self._resolve(ref)
        self._set(
            c,
            "restart",
            running=True,
            state="running",
            exit_code=None,
            started_at=(c.started_at or 1_700_000_100) + 100,
            pid=1000,
        )

    @contextlib.contextmanager
    def get_archive(self, ref: str, path: str):  # noqa: ANN201
        """A tar of an empty `www/` (or `archive_error`, raised as the engine would)."""
        self._resolve(ref)
        if getattr(self, "archive_error", None):
            raise self.archive_error
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.addfile(_dir_info("www"))
        yield {}, _FakeStream(buf.getvalue())

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        c = self._resolve(ref)
        if c.running and not force:
            raise Conflict(409, "You cannot remove a running container")
        del self.by_id[c.id]
        self._e.emit("destroy", c.id, {**c.labels, "name": c.name})

    def update(self, ref: str, *, memory=None, memory_swap=None, cpu_period=None, cpu_quota=None) -> list[str]:  # noqa: ANN001
        c = self._resolve(ref)
        if memory is not None and memory_swap is None and c.memory_swap and memory > c.memory_swap:
            raise Conflict(409, "Memory limit should be smaller than already set memoryswap limit")
        if memory is not None and memory < self._e.memory_in_use.get(c.id, 0):
            raise ServerError(
                500, f"Cannot update container {c.id}: unable to set memory limit to {memory} (current usage: 1)"
            )
        changes = {
            k: v
            for k, v in (
                ("memory", memory),
                ("memory_swap", memory_swap),
                ("cpu_period", cpu_period),
                ("cpu_quota", cpu_quota),
            )
            if v is not None
        }
        self._set(c, "update", **changes)
        return []

    def logs(self, ref: str, *, tail=None, since=None, timestamps=True):  # noqa: ANN001, ANN201
        frames = self.logged.get(self._resolve(ref).id, [])
        return iter(frames[-tail:] if tail else [] if tail == 0 else frames)


class FakeVolumes:
    def __init__(self, engine: FakeEngine) -> None:
        self._e = engine
        self.names: dict[str, dict[str, str]] = {}

    def create(self, name: str, labels=None) -> VolumeInfo:  # noqa: ANN001
        self._e.check()
        self.names.setdefault(name, dict(labels or {}))
        self._e.emit("create", name, {"driver": "local"}, kind="volume")  # also when it exists, as the engine does
        return VolumeInfo(name=name, driver="local", mountpoint=f"/v/{name}", labels=self.names[name])

    def inspect(self, name: str) -> VolumeInfo:
        self._e.check()
        if name not in self.names:
            raise NotFound(404, f"get {name}: no such volume")
        return VolumeInfo(name=name, driver="local", mountpoint=f"/v/{name}", labels=self.names[name])

    def remove(self, name: str, force: bool = False) -> None:
        if name not in self.names:
            raise NotFound(404, f"get {name}: no such volume")
        del self.names[name]


class FakeImages:
    def __init__(self, engine: FakeEngine) -> None:
        self._e = engine
        self.known = {
            "dockerlink/base:latest": ImageInfo(
                id="sha256:" + "b" * 64,
                tags=("dockerlink/base:latest",),
                cmd=("/usr/local/bin/dockerlink-keepalive",),
                entrypoint=(),
                working_dir="/var/www/html",
                exposed_ports=("22/tcp",),
            )
        }

    def inspect(self, ref: str) -> ImageInfo:
        self._e.check()
        if ref not in self.known:
            raise NotFound(404, f"No such image: {ref}")
        return self.known[ref]


class FakeExecs:
    """Records each run in `calls` and answers with `handler(argv, env=, workdir=, timeout=)`.

    The default handler answers the queued `results` in order, then success with no output."""

    def __init__(self, engine: FakeEngine) -> None:
        self._e = engine
        self.calls: list[dict] = []
        self.results: list[ExecResult] = []
        self.handler = self._next_result

    def _next_result(self, argv, **kw) -> ExecResult:  # noqa: ANN001
        return self.results.pop(0) if self.results else ExecResult(0, b"", b"")

    def run(
        self, container: str, argv, *, env=None, workdir=None, user=None, timeout=None, max_output=None
    ) -> ExecResult:  # noqa: ANN001, E501
        c = self._e.containers._resolve(container)
        if not c.running:
            raise Conflict(409, f"Container {c.id} is not running")
        call = {"container": c.id, "argv": list(argv), "env": env, "workdir": workdir, "timeout": timeout, "user": user}
        self.calls.append(call)
        return self.handler(list(argv), env=env, workdir=workdir, timeout=timeout)

    def inspect(self, exec_id: str):  # noqa: ANN201 - the fake keeps no exec once it answered
        raise NotFound(404, f"No such exec instance: {exec_id}")


BASE_PASSWD = "root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000::/var/www:/bin/bash\n"
BASE_SHADOW = "root:*:20000:0:99999:7:::\nadmin:*:20000:0:99999:7:::\n"


class FakeArchives:
    """Files of containers, as the archive endpoint reads and writes them: `files[(id, path)]`
    is (bytes, mode, uid, gid). A container has the base image's passwd and shadow unless
    `without_admin` holds its id."""

    def __init__(self, engine: FakeEngine) -> None:
        self._e = engine
        self.files: dict[tuple[str, str], tuple[bytes, int, int, int]] = {}
        self.without_admin: set[str] = set()

    def _file(self, cid: str, path: str) -> tuple[bytes, int, int, int]:
        if (cid, path) in self.files:
            return self.files[(cid, path)]
        if path == "/etc/passwd":
            text = BASE_PASSWD if cid not in self.without_admin else BASE_PASSWD.splitlines()[0] + "\n"
            return text.encode(), 0o644, 0, 0
        if path == "/etc/shadow":
            return BASE_SHADOW.encode(), 0o640, 0, 42
        raise NotFound(404, f"Could not find the file {path} in container {cid}")

    def get(self, ref: str, path: str, max_bytes: int = 1 << 20) -> bytes:
        cid = self._e.containers._resolve(ref).id
        data, mode, uid, gid = self._file(cid, path)
        if len(data) + 1024 > max_bytes:  # a tar's header and end blocks, at the least
            raise AnswerTooLarge(f"the archive of {path} is over {max_bytes} bytes")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(path.rsplit("/", 1)[-1])
            info.size, info.mode, info.uid, info.gid = len(data), mode, uid, gid
            tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    def put(self, ref: str, directory: str, tar: bytes) -> None:
        cid = self._e.containers._resolve(ref).id
        with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
            for m in archive.getmembers():
                data = archive.extractfile(m).read() if m.isfile() else b""  # type: ignore[union-attr]
                self.files[(cid, f"{directory.rstrip('/')}/{m.name}")] = (data, m.mode, m.uid, m.gid)

    def text(self, ref: str, path: str) -> str:
        return self._file(self._e.containers._resolve(ref).id, path)[0].decode()


class FakeSystem:
    """`follow` has no stream unless a test sets `stream` (a queue of events; None ends it):
    without one, the listing's cache is never used and every listing inspects."""

    def __init__(self, engine: FakeEngine) -> None:
        self._e = engine
        self.stream: queue.Queue[EngineEvent | None] | None = None
        self.root_dir = "/var/lib/docker"

    def events(self, since: float, until: float, filters=None) -> list[EngineEvent]:  # noqa: ANN001
        self._e.check()
        return []

    def follow(self, since: float, until: float | None = None, filters=None):  # noqa: ANN001, ANN201
        self._e.check()
        if self.stream is None:
            raise EngineUnavailable("the fake engine has no event stream")
        while (event := self.stream.get()) is not None:
            yield event

    def ping(self) -> bool:
        self._e.check()
        return True

    def info(self) -> EngineInfo:
        self._e.check()
        return EngineInfo(
            cpus=4, memory_total=8 << 30, cgroup_version="1", cgroup_driver="cgroupfs", root_dir=self.root_dir
        )

    def version(self) -> EngineVersion:
        self._e.check()
        return EngineVersion("20.10.24-fake", "1.41", "1.12", "linux", "amd64", "6.0")


class FakeNetworks:
    """Bridge networks by name; connect/disconnect change the container's `networks`."""

    def __init__(self, engine: FakeEngine) -> None:
        self._e = engine
        self.by_name: dict[str, NetworkInfo] = {}
        self._ids = itertools.count(1)

    def inspect(self, ref: str) -> NetworkInfo:
        self._e.check()
        if ref not in self.by_name:
            raise NotFound(404, f"network {ref} not found")
        return self.by_name[ref]

    def create(self, name: str, *, labels=None, options=None, subnet=None) -> str:  # noqa: ANN001
        self._e.check()
        if name in self.by_name:
            raise Conflict(409, f"network with name {name} already exists")
        net_id = hashlib.sha256(f"net-{name}-{next(self._ids)}".encode()).hexdigest()
        subnets = (subnet or "172.18.0.0/16",)
        gateway = subnets[0].rsplit(".", 1)[0] + ".1"
        self.by_name[name] = NetworkInfo(
            net_id, name, "bridge", dict(labels or {}), dict(options or {}), subnets, (gateway,)
        )
        return net_id

    def remove(self, ref: str) -> None:
        self.inspect(ref)
        del self.by_name[ref]

    def connect(self, ref: str, container: str) -> None:
        self.inspect(ref)
        c = self._e.containers._resolve(container)
        self._e.containers.by_id[c.id] = dataclasses.replace(c, networks=tuple(sorted({*c.networks, ref})))

    def disconnect(self, ref: str, container: str) -> None:
        c = self._e.containers._resolve(container)
        if ref not in c.networks:
            raise ServerError(500, f"container {c.id[:12]} is not connected to network {ref}")
        self._e.containers.by_id[c.id] = dataclasses.replace(c, networks=tuple(n for n in c.networks if n != ref))


class FakeEngine:
    def __init__(self) -> None:
        self.up = True
        self.host_ports_in_use: set[int] = set()
        self.memory_in_use: dict[str, int] = {}
        self.containers = FakeContainers(self)
        self.volumes = FakeVolumes(self)
        self.images = FakeImages(self)
        self.execs = FakeExecs(self)
        self.system = FakeSystem(self)
        self.archives = FakeArchives(self)
        self.networks = FakeNetworks(self)
        self.address = "/fake.sock"

    def emit(
        self, action: str, container_id: str, attributes: dict[str, str] | None = None, kind: str = "container"
    ) -> None:
        """An event on the stream, when a test follows one (`system.stream`); a container's
        carries its labels and name, as the engine's do."""
        if self.system.stream is None:
            return
        c = self.containers.by_id.get(container_id) if kind == "container" else None
        if attributes is None:
            attributes = {**c.labels, "name": c.name} if c is not None else {}
        self.system.stream.put(EngineEvent(kind, action, container_id, 0.0, attributes))

    def check(self) -> None:
        if not self.up:
            raise EngineUnavailable("the Docker engine at /fake.sock is unreachable")

    def close(self) -> None:
        pass
