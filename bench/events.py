"""Events bench: how long from the engine's event to the webhook and to a waiting
`GET /v1/events`, and what 50 parked long-polls cost.

    .venv/bin/python bench/events.py [--cycles 20]

Starts its own dockerlink under gunicorn (DOCKERLINK_THREADS=32, so 2 workers park 56
waits) with a webhook receiver on loopback, stops and starts one bench container `cycles`
times, and reads each event's engine time (the journal's `time`) against its arrival.
The CPU of 50 parked waits is the workers' over `--cpu-seconds` with them parked, beside
as long idle just before; the collector's is shown apart. One clock tick is 10 ms of CPU:
the windows must be long for a difference of a tenth of a percent to show.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import BENCH_LABEL  # noqa: E402
from dockerlink.engine import ContainerSpec, Engine  # noqa: E402
from tests.integration.live import free_port, live_service  # noqa: E402

SECRET = "bench-webhook-secret-0123"


def _receiver(arrivals: dict[int, float]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            arrivals.setdefault(json.loads(body)["seq"], time.time())
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _children_cpu(master: int) -> tuple[float, float]:
    """CPU seconds (user + system) of the gunicorn master's children: (the workers, the
    collector). The parked waits are the workers'; the collector samples every dockerlink
    container on the host, other benches' included, so it is counted apart."""
    workers = collector = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            argv = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == master:
            ticks = int(fields[11]) + int(fields[12])
            if b"dockerlink.collector" in argv:
                collector += ticks
            else:
                workers += ticks
    tick = os.sysconf("SC_CLK_TCK")
    return workers / tick, collector / tick


def _cpu_rate(master: int, seconds: float) -> tuple[float, float]:
    """(workers, collector) CPU over the next `seconds`, in cores."""
    (w0, c0), t0 = _children_cpu(master), time.monotonic()
    time.sleep(seconds)
    (w1, c1), took = _children_cpu(master), time.monotonic() - t0
    return (w1 - w0) / took, (c1 - c0) / took


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def _ms(values: list[float]) -> str:
    median, p99 = statistics.median(values) * 1000, _pct(values, 99) * 1000
    return f"median {median:7.1f} ms   p99 {p99:7.1f} ms   (n={len(values)})"


def _health_ms(service, n: int = 30) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        service.get("/v1/env", timeout=30)
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench/events.py")
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument(
        "--cpu-seconds", type=float, default=25.0, help="each CPU window, idle and parked (at most 27: a wait is 30 s)"
    )
    args = parser.parse_args(argv)
    if not 0 < args.cpu_seconds <= 27:
        parser.error("--cpu-seconds: more than 0, at most 27 (the waits park 30 s, from 2 s before the window)")
    arrivals: dict[int, float] = {}
    server = _receiver(arrivals)
    engine = Engine()
    name = f"dlbench-events-{uuid.uuid4().hex[:6]}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        live_service(
            Path(tmp),
            webhook_url=f"http://127.0.0.1:{server.server_address[1]}/hook",
            webhook_secret=SECRET,
            DOCKERLINK_THREADS="32",
        ) as service,
    ):
        cid, _ = engine.containers.create(
            ContainerSpec(
                image="dockerlink/base:latest",
                entrypoint=("sleep", "infinity"),
                labels={"dockerlink": "bench", BENCH_LABEL: "1"},
            ),
            name=name,
        )
        try:
            engine.containers.start(cid)
            time.sleep(3)
            waited: dict[int, float] = {}
            stop = threading.Event()
            since = service.get("/v1/health").json()["events"]["last_seq"]

            def waiter() -> None:  # one panel long-polling this container's events
                nonlocal since
                while not stop.is_set():
                    r = service.get("/v1/events", params={"since": str(since), "id": cid, "wait": "30"}, timeout=60)
                    now = time.time()
                    page = r.json()
                    for e in page["events"]:
                        waited.setdefault(e["seq"], now)
                    since = page["next"]

            threading.Thread(target=waiter, daemon=True).start()
            time.sleep(1)
            for _ in range(args.cycles):
                engine.containers.stop(cid, t=0)
                time.sleep(0.5)
                engine.containers.start(cid)
                time.sleep(0.5)
            time.sleep(5)
            stop.set()
            events = service.get("/v1/events", params={"id": cid, "limit": "1000"}).json()["events"]
            measured = [e for e in events if e["seq"] in waited]
            to_wait = [waited[e["seq"]] - e["time"] for e in measured]
            to_hook = [arrivals[e["seq"]] - e["time"] for e in events if e["seq"] in arrivals]
            print(f"events bench: {args.cycles} stop/start cycles of one container, {len(events)} events journaled")
            print(f"engine event -> waiting GET /v1/events   {_ms(to_wait)}")
            print(f"engine event -> webhook received        {_ms(to_hook)}")

            # 50 parked waits: CPU of the service's processes and the latency of another endpoint.
            idle_ms = _health_ms(service)
            master = service.process.pid
            idle_cpu, idle_collector = _cpu_rate(master, args.cpu_seconds)
            parked_answers: list[int] = []

            def park() -> None:
                r = requests.get(
                    service.url + "/v1/events",
                    params={"since": str(10**9), "type": "nothing_comes", "wait": "30"},
                    timeout=60,
                )
                parked_answers.append(r.status_code)

            threads = [threading.Thread(target=park) for _ in range(50)]
            for t in threads:
                t.start()
            time.sleep(2)
            parked_cpu, parked_collector = _cpu_rate(master, args.cpu_seconds)
            parked_ms = _health_ms(service)
            for t in threads:
                t.join()
            print(
                f"50 parked waits: workers' CPU {parked_cpu * 100:.2f} % of a core "
                f"(idle: {idle_cpu * 100:.2f} %, the waits: {(parked_cpu - idle_cpu) * 100:+.2f} %; "
                f"the collector meanwhile {parked_collector * 100:.2f} %, idle {idle_collector * 100:.2f} %); "
                f"GET /v1/env median {parked_ms:.1f} ms while parked "
                f"(idle: {idle_ms:.1f} ms); answers {sorted(set(parked_answers))}"
            )
        finally:
            engine.containers.remove(cid, force=True)
            server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
