"""Typed results and requests of the engine client; Docker's PascalCase stays in here."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "ContainerSummary",
    "ContainerDetails",
    "PortBinding",
    "ContainerSpec",
    "ExecInfo",
    "ExecResult",
    "StatsSnapshot",
    "VolumeInfo",
    "NetworkInfo",
    "ImageInfo",
    "EngineInfo",
    "EngineVersion",
    "EngineEvent",
    "memory_used",
    "unix_time",
]


_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)")


def unix_time(stamp: str | None) -> float | None:
    """Engine timestamps are RFC 3339 with nanoseconds; the zero time means 'never'."""
    m = _STAMP.fullmatch(stamp or "")
    if not m or m[1].startswith("0001-"):
        return None
    zone = "+00:00" if m[3] == "Z" else m[3]
    return datetime.fromisoformat(m[1] + zone).timestamp() + float("0" + (m[2] or ""))


def _int_or_none(value: float | None) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class PortBinding:
    """Container port `port/protocol` published on `host_ip:host_port`."""

    port: int
    protocol: str
    host_ip: str
    host_port: int

    @property
    def key(self) -> str:
        return f"{self.port}/{self.protocol}"


@dataclass(frozen=True)
class ContainerSummary:
    id: str
    name: str
    image: str
    state: str
    labels: dict[str, str]
    published: tuple[PortBinding, ...] = ()  # what is published now (a running container's)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ContainerSummary:
        names = data.get("Names") or []
        name = names[0].lstrip("/") if names else ""
        return cls(
            id=data["Id"],
            name=name,
            image=data.get("Image", ""),
            state=data.get("State", ""),
            labels=dict(data.get("Labels") or {}),
            published=tuple(
                PortBinding(int(p["PrivatePort"]), p.get("Type") or "tcp", p.get("IP") or "", int(p["PublicPort"]))
                for p in data.get("Ports") or []
                if p.get("PublicPort")
            ),
        )


@dataclass(frozen=True)
class ContainerDetails:
    id: str
    name: str
    image: str
    state: str
    running: bool
    exit_code: int | None
    started_at: int | None
    pid: int
    labels: dict[str, str]
    exposed_ports: tuple[str, ...]
    port_bindings: tuple[PortBinding, ...]
    working_dir: str
    memory: int
    memory_swap: int
    cpu_period: int
    cpu_quota: int
    nano_cpus: int
    restart_policy: str
    volumes: dict[str, str]  # mount destination -> volume name (named volumes only)
    exec_ids: tuple[str, ...] = ()  # execs the engine still knows (running or not yet reaped)
    restart_count: int = 0  # restarts by the restart policy since the last start asked for
    oom_killed: bool = False  # the last exit was the OOM killer's
    finished_at: float | None = None  # unix seconds of the last exit; None if it never exited
    last_exit_code: int | None = None  # that exit's code, running or not
    pids_limit: int | None = None
    mounts: dict[str, str] = field(default_factory=dict)  # mount destination -> source on the engine's host
    networks: tuple[str, ...] = ()  # names of the networks it is attached to
    entrypoint: tuple[str, ...] = ()
    image_id: str = ""  # the id of the image it was created from (`image` is the name asked)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ContainerDetails:
        state = data.get("State") or {}
        config = data.get("Config") or {}
        host = data.get("HostConfig") or {}
        bindings = []
        for key, binds in (host.get("PortBindings") or {}).items():
            port, _, proto = key.partition("/")
            for b in binds or []:
                bindings.append(
                    PortBinding(int(port), proto or "tcp", b.get("HostIp") or "", int(b.get("HostPort") or 0))
                )
        running = bool(state.get("Running"))
        return cls(
            id=data["Id"],
            name=(data.get("Name") or "").lstrip("/"),
            image=config.get("Image", ""),
            state=state.get("Status", ""),
            running=running,
            exit_code=None if running else state.get("ExitCode"),
            started_at=_int_or_none(unix_time(state.get("StartedAt"))) if running else None,
            pid=int(state.get("Pid") or 0),
            labels=dict(config.get("Labels") or {}),
            exposed_ports=tuple(sorted((config.get("ExposedPorts") or {}).keys())),
            port_bindings=tuple(sorted(bindings, key=lambda b: (b.protocol, b.port))),
            working_dir=config.get("WorkingDir") or "",
            memory=int(host.get("Memory") or 0),
            memory_swap=int(host.get("MemorySwap") or 0),
            cpu_period=int(host.get("CpuPeriod") or 0),
            cpu_quota=int(host.get("CpuQuota") or 0),
            nano_cpus=int(host.get("NanoCpus") or 0),
            restart_policy=(host.get("RestartPolicy") or {}).get("Name") or "",
            volumes={
                m["Destination"]: m["Name"]
                for m in data.get("Mounts") or []
                if m.get("Type") == "volume" and m.get("Name")
            },
            exec_ids=tuple(data.get("ExecIDs") or ()),
            restart_count=int(data.get("RestartCount") or 0),
            oom_killed=bool(state.get("OOMKilled")),
            finished_at=unix_time(state.get("FinishedAt")),
            last_exit_code=state.get("ExitCode") if unix_time(state.get("FinishedAt")) is not None else None,
            pids_limit=int(host["PidsLimit"]) if host.get("PidsLimit") else None,
            mounts={m["Destination"]: m["Source"] for m in data.get("Mounts") or [] if m.get("Source")},
            networks=tuple(sorted(((data.get("NetworkSettings") or {}).get("Networks") or {}).keys())),
            entrypoint=tuple(config.get("Entrypoint") or ()),
            image_id=data.get("Image") or "",
        )


@dataclass(frozen=True)
class ContainerSpec:
    """What `containers.create` sends; only the fields dockerlink needs."""

    image: str
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    env: dict[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    port_bindings: tuple[PortBinding, ...] = ()
    volumes: dict[str, str] = field(default_factory=dict)  # volume name -> mount destination
    # What root in the container may do: capabilities dropped, then added back (Docker's
    # order), and security options such as "no-new-privileges:true".
    cap_drop: tuple[str, ...] = ()
    cap_add: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    network: str | None = None  # the network it joins at create (the engine's default bridge if None)
    memory: int | None = None
    memory_swap: int | None = None
    cpu_period: int | None = None
    cpu_quota: int | None = None
    restart_policy: str | None = None
    pids_limit: int | None = None
    log_driver: str | None = None
    log_options: dict[str, str] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        host: dict[str, Any] = {}
        if self.port_bindings:
            pb: dict[str, list[dict[str, str]]] = {}
            for b in self.port_bindings:
                pb.setdefault(b.key, []).append({"HostIp": b.host_ip, "HostPort": str(b.host_port)})
            host["PortBindings"] = pb
        if self.volumes:
            host["Mounts"] = [{"Type": "volume", "Source": name, "Target": dest} for name, dest in self.volumes.items()]
        if self.network:
            host["NetworkMode"] = self.network
        for key, value in (
            ("Memory", self.memory),
            ("MemorySwap", self.memory_swap),
            ("CpuPeriod", self.cpu_period),
            ("CpuQuota", self.cpu_quota),
            ("PidsLimit", self.pids_limit),
        ):
            if value is not None:
                host[key] = value
        for key, values in (("CapDrop", self.cap_drop), ("CapAdd", self.cap_add), ("SecurityOpt", self.security_opt)):
            if values:
                host[key] = list(values)
        if self.log_driver:
            host["LogConfig"] = {"Type": self.log_driver, "Config": dict(self.log_options)}
        if self.restart_policy:
            host["RestartPolicy"] = {"Name": self.restart_policy}
        body: dict[str, Any] = {"Image": self.image, "Labels": dict(self.labels), "HostConfig": host}
        if self.cmd is not None:
            body["Cmd"] = list(self.cmd)
        if self.entrypoint is not None:
            body["Entrypoint"] = list(self.entrypoint)
        if self.env:
            body["Env"] = [f"{k}={v}" for k, v in self.env.items()]
        if self.working_dir:
            body["WorkingDir"] = self.working_dir
        if self.port_bindings:
            # The engine silently ignores a binding whose port is not exposed with its suffix.
            body["ExposedPorts"] = {b.key: {} for b in self.port_bindings}
        return body


@dataclass(frozen=True)
class ExecInfo:
    """An exec's state; `pid` is the process id on the engine's host (0 once it ended)."""

    id: str
    container_id: str
    running: bool
    exit_code: int | None
    pid: int
    argv: tuple[str, ...]

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ExecInfo:
        process = data.get("ProcessConfig") or {}
        return cls(
            id=data.get("ID", ""),
            container_id=data.get("ContainerID", ""),
            running=bool(data.get("Running")),
            exit_code=data.get("ExitCode"),
            pid=int(data.get("Pid") or 0),
            argv=(process.get("entrypoint") or "", *(process.get("arguments") or ())),
        )


@dataclass(frozen=True)
class ExecResult:
    """A command's outcome. `truncated`: its output passed the reader's limit and was cut
    there, unread past it (the command may still be running; `exit_code` is then -1)."""

    exit_code: int
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    truncated: bool = False
    exec_id: str = ""

    @property
    def output(self) -> str:
        """stdout then stderr as text (the engine does not keep their relative order)."""
        return (self.stdout + self.stderr).decode("utf-8", "replace")


def memory_used(usage: int, inactive_file: int) -> int:
    """Usage minus reclaimable page cache, exactly as `docker stats` computes it: the cache
    figure is subtracted only when it is below the usage (otherwise usage is kept whole)."""
    return usage - inactive_file if 0 < inactive_file < usage else usage


@dataclass(frozen=True)
class StatsSnapshot:
    """One-shot stats of a container; counters are cumulative since it started."""

    read_at: float | None
    running: bool
    cpu_total_ns: int
    memory_used: int  # usage minus inactive file cache, as `docker stats`
    memory_limit: int
    net_rx: int
    net_tx: int
    pids: int = 0  # processes in the container now

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> StatsSnapshot:
        cpu = (data.get("cpu_stats") or {}).get("cpu_usage") or {}
        mem = data.get("memory_stats") or {}
        stats = mem.get("stats") or {}
        inactive = stats.get("total_inactive_file", stats.get("inactive_file", 0)) or 0
        usage = int(mem.get("usage") or 0)
        nets = data.get("networks") or {}
        read_at = unix_time(data.get("read"))
        return cls(
            read_at=read_at,
            running=read_at is not None,
            cpu_total_ns=int(cpu.get("total_usage") or 0),
            memory_used=memory_used(usage, int(inactive)),
            memory_limit=int(mem.get("limit") or 0),
            net_rx=sum(int(n.get("rx_bytes") or 0) for n in nets.values()),
            net_tx=sum(int(n.get("tx_bytes") or 0) for n in nets.values()),
            pids=int((data.get("pids_stats") or {}).get("current") or 0),
        )


@dataclass(frozen=True)
class VolumeInfo:
    name: str
    driver: str
    mountpoint: str
    labels: dict[str, str]

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> VolumeInfo:
        return cls(
            name=data["Name"],
            driver=data.get("Driver", ""),
            mountpoint=data.get("Mountpoint", ""),
            labels=dict(data.get("Labels") or {}),
        )


@dataclass(frozen=True)
class NetworkInfo:
    """A network as dockerlink checks it: who made it, and whether its members reach each other."""

    id: str
    name: str
    driver: str
    labels: dict[str, str]
    options: dict[str, str]
    subnets: tuple[str, ...]
    gateways: tuple[str, ...]

    @property
    def bridge(self) -> str:
        """The Linux bridge of a bridge network: the one named in its options, else the engine's `br-<id[:12]>`."""
        return self.options.get("com.docker.network.bridge.name") or f"br-{self.id[:12]}"

    @property
    def icc(self) -> bool:
        """Whether containers on it may open connections to each other (the engine's default: yes)."""
        return self.options.get("com.docker.network.bridge.enable_icc", "true").lower() != "false"

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> NetworkInfo:
        pools = (data.get("IPAM") or {}).get("Config") or []
        return cls(
            id=data["Id"],
            name=data.get("Name", ""),
            driver=data.get("Driver", ""),
            labels=dict(data.get("Labels") or {}),
            options=dict(data.get("Options") or {}),
            subnets=tuple(p["Subnet"] for p in pools if p.get("Subnet")),
            gateways=tuple(p["Gateway"] for p in pools if p.get("Gateway")),
        )


@dataclass(frozen=True)
class ImageInfo:
    id: str
    tags: tuple[str, ...]
    cmd: tuple[str, ...]
    entrypoint: tuple[str, ...]
    working_dir: str
    exposed_ports: tuple[str, ...]

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> ImageInfo:
        config = data.get("Config") or {}
        return cls(
            id=data["Id"],
            tags=tuple(data.get("RepoTags") or ()),
            cmd=tuple(config.get("Cmd") or ()),
            entrypoint=tuple(config.get("Entrypoint") or ()),
            working_dir=config.get("WorkingDir") or "",
            exposed_ports=tuple(sorted((config.get("ExposedPorts") or {}).keys())),
        )


@dataclass(frozen=True)
class EngineInfo:
    """The host as the engine sees it: what limits may be planned against."""

    cpus: int
    memory_total: int
    cgroup_version: str
    cgroup_driver: str
    root_dir: str = ""  # DockerRootDir: where the engine keeps its volumes (on the engine's host)
    userns: bool = False  # user namespace remapping: a file's owner on the host is not the container's

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> EngineInfo:
        return cls(
            cpus=int(data.get("NCPU") or 0),
            memory_total=int(data.get("MemTotal") or 0),
            cgroup_version=str(data.get("CgroupVersion") or ""),
            cgroup_driver=str(data.get("CgroupDriver") or ""),
            root_dir=str(data.get("DockerRootDir") or ""),
            userns=any("name=userns" in str(o) for o in data.get("SecurityOptions") or ()),
        )


@dataclass(frozen=True)
class EngineEvent:
    """One entry of the engine's event log, e.g. a container's `start` or `die`."""

    type: str
    action: str
    actor_id: str
    time: float  # unix seconds
    attributes: dict[str, str]
    time_nano: int = 0  # the same instant, exact: a cursor to resume from

    @property
    def key(self) -> str:
        """Identifies this event in the engine's log (same instant, action and actor)."""
        return f"{self.time_nano}/{self.type}/{self.action}/{self.actor_id}"

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> EngineEvent:
        actor = data.get("Actor") or {}
        nano = data.get("timeNano")
        return cls(
            type=data.get("Type", ""),
            action=data.get("Action", ""),
            actor_id=actor.get("ID", ""),
            time=nano / 1e9 if nano else float(data.get("time") or 0),
            attributes=dict(actor.get("Attributes") or {}),
            time_nano=int(nano) if nano else int(data.get("time") or 0) * 1_000_000_000,
        )


@dataclass(frozen=True)
class EngineVersion:
    version: str
    api_version: str
    min_api_version: str
    os: str
    arch: str
    kernel: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> EngineVersion:
        return cls(
            version=data.get("Version", ""),
            api_version=data.get("ApiVersion", ""),
            min_api_version=data.get("MinAPIVersion", ""),
            os=data.get("Os", ""),
            arch=data.get("Arch", ""),
            kernel=data.get("KernelVersion", ""),
        )
