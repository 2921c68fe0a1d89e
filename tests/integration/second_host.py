"""A second host on this machine: its own network namespace, its own dockerd, its own
dockerlink, reached over a veth pair on a private /30 (10.203.0.0/30 for slot 0: this host is .1, the
second one .2), as a real second host would be reached over the network.

The namespace's dockerd is started with `nsenter --net=` (not `ip netns exec`, which
remounts /sys and hides the cgroup mounts dockerd needs), with its own data root, exec root
(and so its own containerd), pid file and socket; its default bridge on 10.204.0.0/24 and
its site network on 10.205.0.0/24, ranges nothing on the host uses (and, in their own
namespace, routed nowhere else). The base image is copied in with `docker save | docker
load`. Everything made here is removed at the end: dockerlink, the daemon, its data root,
the namespace and the veth pair.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from dockerlink.engine import Engine, EngineError

from .live import LiveService, live_service

SERVICE_PORT = 7200


@dataclass(frozen=True)
class Net:
    """The namespace, veth pair and ranges of second host number `slot` (the tests use 0,
    the bench 1, so both can run at once)."""

    slot: int = 0

    @property
    def netns(self) -> str:
        return f"dltest-xfer{self.slot or ''}"

    @property
    def veth(self) -> tuple[str, str]:
        return f"dlxfer{self.slot}a", f"dlxfer{self.slot}b"

    @property
    def host_ip(self) -> str:
        return f"10.203.0.{4 * self.slot + 1}"

    @property
    def ns_ip(self) -> str:
        return f"10.203.0.{4 * self.slot + 2}"

    @property
    def bridge_ip(self) -> str:
        return f"10.204.{self.slot}.1/24"

    @property
    def site_subnet(self) -> str:
        return f"10.205.{self.slot}.0/24"

    @property
    def nsenter(self) -> tuple[str, ...]:
        return ("nsenter", f"--net=/run/netns/{self.netns}")


NETNS, NS_IP = Net().netns, Net().ns_ip
TOOLS = ("ip", "nsenter", "dockerd", "docker")


@dataclass
class SecondHost:
    root: Path
    sock: str
    engine: Engine
    net: Net
    service: LiveService | None = None
    started_in: float = 0.0


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=check)


def missing_tools() -> list[str]:
    return [t for t in TOOLS if shutil.which(t) is None]


def _network(net: Net) -> None:
    _teardown_network(net)  # a namespace a killed run left behind
    outside, inside = net.veth
    _run("ip", "netns", "add", net.netns)
    _run("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
    _run("ip", "link", "set", inside, "netns", net.netns)
    _run("ip", "addr", "add", f"{net.host_ip}/30", "dev", outside)
    _run("ip", "link", "set", outside, "up")
    _run(*net.nsenter, "ip", "addr", "add", f"{net.ns_ip}/30", "dev", inside)
    _run(*net.nsenter, "ip", "link", "set", inside, "up")
    _run(*net.nsenter, "ip", "link", "set", "lo", "up")


def _teardown_network(net: Net) -> None:
    _run("ip", "link", "del", net.veth[0], check=False)  # its peer goes with it
    _run("ip", "netns", "del", net.netns, check=False)


def _start_dockerd(root: Path, net: Net) -> tuple[subprocess.Popen, str]:
    sock = f"unix://{root}/docker.sock"
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115 - kept open for the daemon's life
    proc = subprocess.Popen(
        [
            *net.nsenter,
            "dockerd",
            "--data-root",
            str(root / "data"),
            "--exec-root",
            str(root / "exec"),
            "--pidfile",
            str(root / "docker.pid"),
            "-H",
            sock,
            "--bip",
            net.bridge_ip,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    return proc, sock


def _wait_engine(engine: Engine, proc: subprocess.Popen, root: Path) -> None:
    end = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the second dockerd exited: {(root / 'dockerd.log').read_text()[-2000:]}")
        try:
            engine.system.ping()
            return
        except EngineError:
            if time.monotonic() > end:
                raise RuntimeError("the second dockerd did not answer within 60 s") from None
            time.sleep(0.2)


def _remove_containers(engine: Engine) -> None:
    with contextlib.suppress(EngineError):
        for c in engine.containers.list(all=True):
            with contextlib.suppress(EngineError):
                engine.containers.remove(c.id, force=True)


def _stop_dockerd(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def second_host(root: Path, base_image: str, net: Net = Net(), **settings: str) -> Iterator[SecondHost]:  # noqa: B008
    """The second host, its dockerlink listening on `net.ns_ip`:SERVICE_PORT with `settings`."""
    began = time.monotonic()
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o711)
    _network(net)
    proc = None
    engine = None
    try:
        proc, sock = _start_dockerd(root, net)
        engine = Engine(sock)
        _wait_engine(engine, proc, root)
        save = subprocess.Popen(["docker", "save", base_image], stdout=subprocess.PIPE)
        _run_load = subprocess.run(
            ["docker", "-H", sock, "load"], stdin=save.stdout, capture_output=True, timeout=300, check=False
        )
        save.stdout.close()  # type: ignore[union-attr]
        if save.wait(timeout=300) != 0 or _run_load.returncode != 0:
            raise RuntimeError(f"docker save | docker load failed: {_run_load.stderr[-500:]!r}")
        host = SecondHost(root, sock, engine, net)
        state = root / "state"
        state.mkdir()
        with live_service(
            state,
            listen=(net.ns_ip, SERVICE_PORT),
            prefix=net.nsenter,
            docker_sock=sock,
            publish_ip=net.ns_ip,
            site_subnet=net.site_subnet,
            create_lock=str(state / "create.lock"),
            **settings,
        ) as service:
            host.service = service
            host.started_in = time.monotonic() - began
            yield host
    finally:
        if engine is not None:
            _remove_containers(engine)  # killed now: dockerd would give each 10 s to stop
            engine.close()
        if proc is not None:
            _stop_dockerd(proc)
        _teardown_network(net)
        shutil.rmtree(root, ignore_errors=True)
