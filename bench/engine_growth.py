"""Bench where the engine's own time goes as it holds more containers (issue 27, part 4).

    .venv/bin/python bench/engine_growth.py [N] [--repeat 10] [--keep]

No dockerlink: the raw socket (`bench/rawsocket.py`) does a site's engine work step by step
(volume, container with four published ports on a network of the bench's own, start,
inspect, stop, remove, volume remove) on the engine as it is, then again once N cheap
sites run (bench/scale.py's fleet, reused when a run with `--keep` left it), and prints
each step's median beside what grows with N on this host:
- the host's mount table (`/proc/self/mountinfo`): runc and dockerd read it whole at each
  start and remove, and each running container adds its root and its /dev/shm;
- dockerd's open files: each fork dockerd makes copies its table of them, and a start
  forks iptables, docker-proxy and runc (the execs during one start are counted with
  strace when it is installed);
- a fork and exec of /bin/true from a process holding that many files;
- the containerd shims' CPU while every site idles (one shim per container).
The sites are removed at the end unless `--keep`.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BENCH_LABEL, median_ms  # noqa: E402
from bench.rawsocket import RawEngine  # noqa: E402
from bench.scale import FLEET, make_sites, remove_fleet  # noqa: E402
from dockerlink.engine import Engine  # noqa: E402

IMAGE = os.environ.get("base_image", "dockerlink/base:latest")
NETWORK = "dltest-bench-growth-net"
SUBNET = "10.235.0.0/24"
PREFIX = "dltest-bench-growth-"
PORT_ROOT = 62700  # bench scale's area, 62000-62999: its last part
PORTS = (22, 80, 443, 499)
STEPS = ("volume create", "container create", "start", "inspect", "stop", "remove", "volume remove")


def site_body() -> dict[str, object]:
    """A site's container as dockerlink makes it, for the engine's part: four published
    ports on loopback, on the bench's network."""
    return {
        "Image": IMAGE,
        "Cmd": ["sleep", "infinity"],
        "Labels": {BENCH_LABEL: "1"},
        "ExposedPorts": {f"{p}/tcp": {} for p in PORTS},
        "HostConfig": {
            "PortBindings": {f"{p}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(PORT_ROOT + p)}] for p in PORTS},
            "NetworkMode": NETWORK,
        },
    }


def site_steps(raw: RawEngine, repeat: int) -> dict[str, float]:
    """Each engine step of a site's life, median ms over `repeat` sites made one after another."""
    times: dict[str, list[float]] = collections.defaultdict(list)

    def timed(step: str, method: str, path: str, body: object = None, query: dict[str, str] | None = None) -> bytes:
        t0 = time.perf_counter()
        out = raw.call(method, path, body, query)
        times[step].append((time.perf_counter() - t0) * 1000)
        return out

    for k in range(repeat):
        name = f"{PREFIX}{os.getpid()}-{k}"
        body = site_body()
        body["HostConfig"]["Mounts"] = [{"Type": "volume", "Source": f"{name}-www", "Target": "/var/www"}]  # type: ignore[index]
        timed("volume create", "POST", "/volumes/create", {"Name": f"{name}-www"})
        cid = json.loads(timed("container create", "POST", "/containers/create", body, {"name": name}))["Id"]
        timed("start", "POST", f"/containers/{cid}/start")
        timed("inspect", "GET", f"/containers/{cid}/json")
        timed("stop", "POST", f"/containers/{cid}/stop", query={"t": "0"})
        timed("remove", "DELETE", f"/containers/{cid}")
        timed("volume remove", "DELETE", f"/volumes/{name}-www")
    return {step: statistics.median(times[step]) for step in STEPS}


def dockerd_pid() -> int:
    return int(
        subprocess.run(["pgrep", "-xo", "dockerd"], capture_output=True, text=True, check=True).stdout.split()[0]
    )


def cpu_ticks(comm: str) -> dict[str, int]:
    """utime + stime of each process named `comm`, by pid."""
    ticks = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.index("(") + 1 : stat.rindex(")")] == comm:
            fields = stat.rsplit(")", 1)[1].split()
            ticks[pid] = int(fields[11]) + int(fields[12])
    return ticks


def shims_cpu(seconds: float = 10.0) -> float:
    """The containerd shims' CPU over `seconds`, in % of a core (the shims there all along)."""
    before = cpu_ticks("containerd-shim")
    time.sleep(seconds)
    after = cpu_ticks("containerd-shim")
    used = sum(after[pid] - ticks for pid, ticks in before.items() if pid in after)
    return used / os.sysconf("SC_CLK_TCK") / seconds * 100


def fork_ms(open_files: int) -> float:
    """A fork and exec of /bin/true from this process while it holds `open_files` files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, open_files + 100)), hard))
    held = [os.open("/dev/null", os.O_RDONLY) for _ in range(open_files)]
    try:
        return median_ms(lambda: subprocess.run(["/bin/true"], close_fds=False, check=True), 50, warmup=5)
    finally:
        for fd in held:
            os.close(fd)


def execs_during_start(raw: RawEngine) -> collections.Counter[str] | None:
    """The programs dockerd and containerd exec while one site starts (strace -f)."""
    if shutil.which("strace") is None:
        return None
    name = f"{PREFIX}{os.getpid()}-traced"
    cid = raw.json("POST", "/containers/create", site_body(), query={"name": name})["Id"]
    pids = [
        str(dockerd_pid()),
        subprocess.run(["pgrep", "-xo", "containerd"], capture_output=True, text=True).stdout.strip(),
    ]
    with tempfile.NamedTemporaryFile(prefix="dltest-bench-growth-", suffix=".strace") as out:
        argv = ["strace", "-f", "-qq", "-e", "trace=execve", "-o", out.name]
        tracer = subprocess.Popen([*argv, *(a for p in pids if p for a in ("-p", p))], stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # attached to every thread
        try:
            raw.call("POST", f"/containers/{cid}/start")
            time.sleep(0.5)
        finally:
            tracer.terminate()
            tracer.wait()
            raw.call("DELETE", f"/containers/{cid}", query={"force": "1"})
        text = Path(out.name).read_text(errors="replace")
    return collections.Counter(os.path.basename(m) for m in re.findall(r'execve\("([^"]+)"', text))


def host_figures(raw: RawEngine) -> dict[str, object]:
    with open("/proc/self/mountinfo") as f:
        mounts = sum(1 for _ in f)
    fds = len(os.listdir(f"/proc/{dockerd_pid()}/fd"))
    return {
        "host mount table, lines": mounts,
        "dockerd's open files": fds,
        "fork + exec with that many files open, ms": round(fork_ms(fds), 2),
        "containerd shims' CPU while idle, % of a core": round(shims_cpu(), 1),
        "execs during one start": execs_during_start(raw),
    }


def settle(most: float = 240.0, load: float = 2.0) -> None:
    """Wait (at most `most` s) for the 1-minute load average to fall under `load`: making or
    removing 1000 containers leaves the engine busy for a minute or two after."""
    deadline = time.monotonic() + most
    while os.getloadavg()[0] >= load and time.monotonic() < deadline:
        time.sleep(5)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=1000)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--keep", action="store_true", help=f"keep the N sites ({FLEET}<i>) for next time")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    engine, raw = Engine(), RawEngine(timeout=600)
    raw.json(
        "POST",
        "/networks/create",
        {"Name": NETWORK, "Labels": {BENCH_LABEL: "1"}, "IPAM": {"Config": [{"Subnet": SUBNET}]}},
    )
    try:
        settle()
        running = len(raw.json("GET", "/containers/json"))
        print(f"# {running} containers running now (load {os.getloadavg()[0]:.1f})")
        before_steps, before = site_steps(raw, args.repeat), host_figures(raw)
        t0 = time.monotonic()
        make_sites(engine, args.n, FLEET)
        print(f"# {args.n} sites made (or found) and running in {time.monotonic() - t0:.0f} s")
        settle()
        running_n = len(raw.json("GET", "/containers/json"))
        print(f"# {running_n} containers running now (load {os.getloadavg()[0]:.1f})")
        after_steps, after = site_steps(raw, args.repeat), host_figures(raw)
        print(
            f"\n| a site's engine step, median ms of {args.repeat} | {running} running | {running_n} running | ratio |"
        )
        print("|---|---|---|---|")
        for step in STEPS:
            ms0, ms1 = before_steps[step], after_steps[step]
            print(f"| {step} | {ms0:.1f} | {ms1:.1f} | {ms1 / ms0:.2f}× |")
        total0, total1 = sum(before_steps.values()), sum(after_steps.values())
        print(f"| all | {total0:.1f} | {total1:.1f} | {total1 / total0:.2f}× |")
        print(f"\n| on this host | {running} running | {running_n} running |")
        print("|---|---|---|")
        for what in before:
            print(f"| {what} | {_shown(before[what])} | {_shown(after[what])} |")
    finally:
        raw.call("DELETE", f"/networks/{NETWORK}")
        if not args.keep:
            remove_fleet(engine)
        raw.close()
        engine.close()
    return 0


def _shown(value: object) -> str:
    if isinstance(value, collections.Counter):
        return ", ".join(f"{prog} {count}" for prog, count in value.most_common()) or "none"
    return "strace not installed" if value is None else str(value)


if __name__ == "__main__":
    sys.exit(main())
