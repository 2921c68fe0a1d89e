"""A real dockerlink under gunicorn on a free loopback port, for end-to-end tests and benches."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workers_peak_rss_mib(master: int) -> float:
    """Peak RSS (VmHWM) of the largest gunicorn worker of `master` (the collector excluded)."""
    peak = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if int(stat.rsplit(")", 1)[1].split()[1]) != master or b"dockerlink.collector" in cmdline:
                continue
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except (OSError, ValueError, IndexError):
            continue
    return peak / 1024


def wait_until(predicate, seconds: float, what: str):  # noqa: ANN001, ANN201
    """Poll `predicate` until it returns a truthy value (the suite never asserts on time:
    the bound only keeps a broken run from hanging)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


def is_open(s: socket.socket) -> bool:
    """Still connected: no EOF or reset waiting to be read."""
    s.setblocking(False)
    try:
        return s.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


class LiveService:
    def __init__(self, url: str, process: subprocess.Popen, log: Path, env: dict[str, str]) -> None:
        self.url = url
        self.process = process
        self.log = log
        self.env = env
        self.session = requests.Session()
        # A fresh connection per request: a kept-alive one that the server closed while the
        # test was busy elsewhere (its keep-alive timeout) fails the next call for nothing.
        self.session.headers["Connection"] = "close"
        token = env.get("api_token")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 120)
        return self.session.request(method, self.url + path, **kw)

    def get(self, path: str, **kw) -> requests.Response:
        return self.request("GET", path, **kw)


#: Where the service listens with no `bind` set, as the panels call it.
DEFAULT_PORT = 7200


@contextmanager
def live_service(
    tmp_dir: Path,
    *,
    default_bind: bool = False,
    listen: tuple[str, int] | None = None,
    prefix: tuple[str, ...] = (),
    **settings: str,
):
    """Start gunicorn with dockerlink's config and `settings` as environment; stop it after.

    On a free loopback port; with `default_bind`, with `bind` unset (both loopbacks, port
    7200: the caller makes sure no other test holds it) and reached at `[::1]`, as a client
    that resolves `localhost` to ::1 first; with `listen`, on that address and port, run
    under `prefix` (e.g. `nsenter --net=…`: a second host in its own network namespace)."""
    port = DEFAULT_PORT if default_bind else listen[1] if listen else free_port()
    host = listen[0] if listen else "127.0.0.1"
    env = {k: v for k, v in os.environ.items() if k not in ("api_token", "bind")}
    if not default_bind:
        env["bind"] = f"{host}:{port}"
    env.update(
        {
            # This checkout's code, not whichever one the venv's editable install points at
            # (a worktree sharing another checkout's venv would serve that one's code).
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
            "stats_db": str(tmp_dir / "stats.sqlite3"),
            "backup_dir": str(tmp_dir / "backups"),  # final backups before deletes stay with the test
            "DOCKERLINK_WORKERS": "2",
            "DOCKERLINK_LOGLEVEL": "warning",
        }
    )
    env.update(settings)
    log = tmp_dir / "gunicorn.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
            cwd=tmp_dir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    service = LiveService(f"http://[::1]:{port}" if default_bind else f"http://{host}:{port}", proc, log, env)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({proc.returncode}): {log.read_text()[-2000:]}")
            try:
                if requests.get(service.url + "/v1/health", timeout=2).status_code in (200, 503):
                    break
            except (requests.ConnectionError, requests.Timeout):  # still booting, or a loaded machine
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not answer within 30 s: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield service
    finally:
        if proc.poll() is not None:  # it died under the tests: say why, in the failing tests' output
            print(
                f"gunicorn exited by itself ({proc.returncode}); its log ends:\n{log.read_text()[-4000:]}",
                file=sys.stderr,
            )
        else:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        service.session.close()
