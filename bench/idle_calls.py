"""Bench what an idle dockerlink asks of the engine at N sites: every background job's calls.

    .venv/bin/python bench/idle_calls.py [N] [--seconds 120] [--settle 150] [--keep]

A real dockerlink under gunicorn (2 workers and its collector, with the site firewall on a
site network of its own: `dltest-bench-idle-net`, 10.234.0.0/24) reaches the engine through
a logging proxy (`socat -v`), with N cheap running sites (bench/scale.py's fleet, reused
when a run with `--keep` left it). Once the start has settled (the first rounds inspect
each site once, to find its cgroup), it counts the engine calls over a window and prints
them per minute by method and path, dockerd's CPU over that window, and what the largest
call costs the engine on its own (a whole listing of the sites through the raw socket).
Nothing is timed in dockerlink itself: the figure is what the engine pays while no one
asks dockerlink for anything. The sites are removed at the end unless `--keep`.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import median_ms  # noqa: E402
from bench.rawsocket import RawEngine  # noqa: E402
from bench.scale import FLEET, make_sites, remove_fleet  # noqa: E402
from dockerlink.config import Config  # noqa: E402
from dockerlink.engine import Engine, EngineError  # noqa: E402
from dockerlink.isolation import Iptables  # noqa: E402
from dockerlink.isolation.keeper import Keeper  # noqa: E402
from tests.integration.live import live_service  # noqa: E402

NETWORK = "dltest-bench-idle-net"
SUBNET = "10.234.0.0/24"
TOKEN = "bench-idle-token-0123456789"
ENGINE_SOCKET = "/var/run/docker.sock"
_ID = re.compile(r"[0-9a-f]{64}")
_REQUEST = re.compile(r"^(GET|POST|PUT|DELETE|HEAD) (\S+) HTTP/", re.M)  # socat -v writes a CR as the text \r


def dockerd_cpu_seconds() -> float:
    pid = subprocess.run(["pgrep", "-xo", "dockerd"], capture_output=True, text=True, check=True).stdout.split()[0]
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def call_kind(target: str) -> str:
    """A request's method and path, its ids and query values folded, so calls group."""
    path, _, query = target.partition("?")
    path = re.sub(r"^/v1\.\d+", "", _ID.sub("<id>", path))
    keys = sorted({kv.split("=", 1)[0] for kv in query.split("&") if kv})
    return path + (f"?{'&'.join(keys)}" if keys else "")


def tally(log: bytes) -> collections.Counter[str]:
    """The requests in `socat -v`'s log of the client's side."""
    return collections.Counter(
        f"{m.group(1)} {call_kind(m.group(2))}" for m in _REQUEST.finditer(log.decode("latin-1"))
    )


def whole_listing() -> tuple[float, float]:
    """A whole listing of dockerlink's containers through the raw socket: the median wall
    ms of 5, and dockerd's CPU ms per listing over 10 more (its CPU counts in 10 ms ticks)."""
    raw = RawEngine(ENGINE_SOCKET)
    query = {"all": "1", "filters": json.dumps({"label": ["dockerlink"]})}
    wall = median_ms(lambda: raw.call("GET", "/containers/json", query=query), 5)
    cpu0 = dockerd_cpu_seconds()
    for _ in range(10):
        raw.call("GET", "/containers/json", query=query)
    cpu = (dockerd_cpu_seconds() - cpu0) * 100  # ms per listing: s * 1000 / 10
    raw.close()
    return wall, cpu


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=1000)
    ap.add_argument("--seconds", type=float, default=120.0, help="the window the calls are counted in")
    ap.add_argument("--settle", type=float, default=150.0, help="seconds after the start before the window")
    ap.add_argument("--keep", action="store_true", help=f"keep the N sites ({FLEET}<i>) for next time")
    args = ap.parse_args()
    if shutil.which("socat") is None:
        print("socat is needed (Debian's socat: scripts/bootstrap.sh installs it)", file=sys.stderr)
        return 2
    engine = Engine()
    tmp = Path(tempfile.mkdtemp(prefix="dltest-bench-idle-"))
    proxy_log = tmp / "socat.log"
    proxy: subprocess.Popen[bytes] | None = None
    try:
        t0 = time.monotonic()
        make_sites(engine, args.n, FLEET)
        print(f"{args.n} running sites ready in {time.monotonic() - t0:.0f} s")
        sock = tmp / "engine.sock"
        with open(proxy_log, "wb") as log:
            proxy = subprocess.Popen(
                ["socat", "-v", f"UNIX-LISTEN:{sock},fork", f"UNIX-CONNECT:{ENGINE_SOCKET}"], stderr=log
            )
        while not sock.exists():
            time.sleep(0.05)
        settings = {"docker_sock": f"unix://{sock}", "site_network": NETWORK, "site_subnet": SUBNET}
        with live_service(tmp, api_token=TOKEN, **settings):
            time.sleep(args.settle)
            mark, cpu0, w0 = proxy_log.stat().st_size, dockerd_cpu_seconds(), time.monotonic()
            time.sleep(args.seconds)
            end, cpu1, span = proxy_log.stat().st_size, dockerd_cpu_seconds(), time.monotonic() - w0
        with open(proxy_log, "rb") as f:
            f.seek(mark)
            calls = tally(f.read(end - mark))
        load = os.getloadavg()[0]
        window = f"{span:.0f} s window, load {load:.1f}"
        print(f"\nengine calls of an idle dockerlink with {args.n} sites, per minute ({window}):")
        for kind, count in sorted(calls.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {count * 60 / span:7.1f}  {kind}")
        print(f"  {sum(calls.values()) * 60 / span:7.1f}  in all")
        share = (cpu1 - cpu0) / span * 100
        print(f"dockerd's CPU over the window: {share:.2f} % of a core (any other client's calls included)")
        wall, cpu = whole_listing()
        print(f"a whole listing of the {args.n} sites on its own: {wall:.1f} ms, dockerd CPU {cpu:.1f} ms")
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait()
        try:
            Iptables().remove(Keeper(engine, Config.from_mapping({"site_network": NETWORK})).current_plan())
            engine.networks.remove(NETWORK)
        except EngineError as exc:
            print(f"could not remove {NETWORK}: {exc}")
        if not args.keep:
            remove_fleet(engine)
        shutil.rmtree(tmp, ignore_errors=True)
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
