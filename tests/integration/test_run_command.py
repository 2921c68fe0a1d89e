"""The README's run command, as a new user runs it: in a terminal, on a host where no engine
was running, then stopped with Ctrl-C. The service stops; the engine and the sites do not
(issue 19: dockerd used to share the terminal's process group and shut down with it).

It stops dockerd first to reach the "had to start it" case: run it under the integration
lock only. dockerd is back (started by the run command itself) when it ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading

import pytest
import requests

from dockerlink.engine import ContainerSpec

from .dockerd import dockerd_pid, ensure_dockerd, stop_dockerd
from .live import ROOT, free_port, wait_until

CTRL_C = b"\x03"
DOCKERD_LOG = "/var/log/dockerlink-dockerd.log"  # ensure_dockerd.sh's default


def answers(url: str) -> int | None:
    try:
        return requests.get(url, timeout=2).status_code
    except requests.RequestException:
        return None


class Terminal:
    """`argv` run with a pseudo-terminal as its controlling terminal (and stdin/out/err),
    in its own session, as a login shell would run it; its output is drained meanwhile."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.master, slave = os.openpty()
        # setsid --ctty: a new session whose controlling terminal is stdin (the pty), so the
        # command is the terminal's foreground process group and ^C reaches all of it.
        self.process = subprocess.Popen(
            ["setsid", "--ctty", *argv], stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT
        )
        os.close(slave)
        self.output = bytearray()
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO once every holder of the terminal is gone
                return
            if not chunk:
                return
            self.output += chunk

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def tail(self) -> str:
        return bytes(self.output[-3000:]).decode(errors="replace")

    def close(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        os.close(self.master)


@pytest.fixture
def site(engine, unique_name, base_image):
    """A running site that dockerd restarts by itself (restart policy unless-stopped)."""
    spec = ContainerSpec(image=base_image, cmd=("sleep", "infinity"), restart_policy="unless-stopped")
    cid, _ = engine.containers.create(spec, name=unique_name)
    engine.containers.start(cid)
    yield cid
    ensure_dockerd()
    engine.containers.remove(cid, force=True)


def test_ctrl_c_on_the_run_command_stops_the_service_but_not_dockerd_nor_the_sites(engine, site, tmp_path):
    if os.geteuid() != 0:
        pytest.fail("this test stops and starts dockerd: it needs root")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("api_token", "bind", "VIRTUAL_ENV")}
    env.update(bind=f"127.0.0.1:{port}", stats_db=str(tmp_path / "stats.sqlite3"), DOCKERLINK_WORKERS="1")
    health = f"http://127.0.0.1:{port}/v1/health"

    stop_dockerd()  # the case of the issue: the run command has to start the engine itself
    terminal = Terminal(["bash", "scripts/run.sh"], env)
    try:
        wait_until(lambda: answers(health) == 200 or terminal.process.poll() is not None, 240, "the service")
        assert answers(health) == 200, terminal.tail()
        engine_pid = dockerd_pid()
        assert engine_pid is not None
        wait_until(lambda: engine.containers.inspect(site).running, 60, "dockerd to restart the site")
        site_pid = engine.containers.inspect(site).pid
        log_offset = os.path.getsize(DOCKERD_LOG)

        terminal.type(CTRL_C)
        assert terminal.process.wait(timeout=60) is not None
        assert answers(health) is None, "the service stopped"
        assert os.getsid(engine_pid) != terminal.process.pid, "dockerd is not in the terminal's session"
        # dockerd logs a signal the moment it gets one, then keeps answering while it stops
        # every container (10 s and more): its log, not a ping, says whether it was told to go.
        with open(DOCKERD_LOG, "rb") as log:
            log.seek(log_offset)
            assert b"Processing signal" not in log.read(), "dockerd got no signal from the Ctrl-C"
        assert dockerd_pid() == engine_pid and engine.system.ping()
        after = engine.containers.inspect(site)
        assert after.running and after.pid == site_pid, "the site kept running, untouched"
    finally:
        terminal.close()
        ensure_dockerd()
