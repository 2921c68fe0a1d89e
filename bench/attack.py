"""Issue 29's attacks on the serving layer, with authorised GET /v1/env probes meanwhile.

    .venv/bin/python bench/attack.py [negative] [trickle] [idle]

Starts dockerlink under gunicorn as the integration tests do (2 workers x 8 threads, a
token) and runs each named attack (all three by default), probing /v1/env every 0.5 s:

negative  4 connections send a chunked POST whose first chunk size is -6
trickle   24 connections send 1 MiB of one-byte chunks each ("1\\r\\nx\\r\\n"), 60 per send,
          then the last chunk
idle      2500 connections that connect and send nothing

Prints, per attack, the probes' count, median, max, how many took over 1 s or never
answered (10 s), and what the attacking connections were answered.
"""

from __future__ import annotations

import multiprocessing
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.live import live_service  # noqa: E402

TOKEN = "attack-bench-token-0123456789abc"
mp = multiprocessing.get_context("fork")
PROBE_TIMEOUT = 10.0
NEGATIVE = b"POST /v1/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-6\r\n"
TRICKLE_HEAD = b"POST /v1/health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"


def probe(url: str, stop, waits, min_probes: int) -> None:  # noqa: ANN001 - multiprocessing's
    """In a process of its own: the attack's threads do not hold the probe's GIL."""
    n = 0
    while not stop.is_set() or n < min_probes:
        started = time.monotonic()
        try:
            requests.get(f"{url}/v1/env", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=PROBE_TIMEOUT)
            waits.put(time.monotonic() - started)
        except requests.RequestException:
            waits.put(float("inf"))
        n += 1
        time.sleep(0.5)
    waits.put(None)


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def first_line(s: socket.socket) -> str:
    try:
        s.settimeout(PROBE_TIMEOUT)
        return s.recv(200).split(b"\r\n", 1)[0].decode("latin-1") or "closed"
    except OSError as exc:
        return type(exc).__name__


def negative(url: str) -> list[str]:
    sockets = [connect(url) for _ in range(4)]
    for s in sockets:
        s.sendall(NEGATIVE)
    answers = [first_line(s) for s in sockets]
    time.sleep(4)  # let the probes run on after the answers
    for s in sockets:
        s.close()
    return answers


def trickle(url: str) -> list[str]:
    piece = b"1\r\nx\r\n" * 60

    def send(s: socket.socket) -> None:
        s.sendall(TRICKLE_HEAD)
        sent = 0
        while sent <= 1 << 20:
            try:
                s.sendall(piece)
            except OSError:
                return
            sent += len(piece)
            time.sleep(0.001)
        s.sendall(b"0\r\n\r\n")

    sockets = [connect(url) for _ in range(24)]
    threads = [threading.Thread(target=send, args=(s,)) for s in sockets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    answers = [first_line(s) for s in sockets]  # POST on /v1/health: a 405
    for s in sockets:
        s.close()
    return answers


def idle(url: str) -> list[str]:
    sockets = []
    for _ in range(2500):
        try:
            sockets.append(connect(url))
        except OSError as exc:
            return [f"connect failed after {len(sockets)}: {exc}"]
    time.sleep(15)  # the probes run while they are all open
    answered: dict[str, int] = {}
    for s in sockets:
        s.setblocking(False)
        try:
            line = s.recv(200).split(b"\r\n", 1)[0].decode("latin-1") or "closed"
        except BlockingIOError:
            line = "open, nothing received"
        except OSError as exc:
            line = type(exc).__name__
        answered[line] = answered.get(line, 0) + 1
        s.close()
    return [f"{n} of 2500: {line}" for line, n in answered.items()]


ATTACKS = {"negative": negative, "trickle": trickle, "idle": idle}


def main() -> int:
    names = sys.argv[1:] or list(ATTACKS)
    with tempfile.TemporaryDirectory() as tmp:
        with live_service(Path(tmp), api_token=TOKEN, stats_interval="5") as svc:
            for name in names:
                stop, queue = mp.Event(), mp.Queue()
                prober = mp.Process(target=probe, args=(svc.url, stop, queue, 8))
                prober.start()
                started = time.monotonic()
                answers = ATTACKS[name](svc.url)
                took = time.monotonic() - started
                stop.set()
                waits = list(iter(queue.get, None))
                prober.join()
                done = [w for w in waits if w != float("inf")]
                print(
                    f"{name}: attack {took:.1f} s; {len(waits)} probes, "
                    f"median {statistics.median(done) * 1000 if done else float('nan'):.0f} ms, "
                    f"max {max(done) * 1000 if done else float('nan'):.0f} ms, "
                    f"{sum(w > 1 for w in done)} over 1 s, {len(waits) - len(done)} unanswered in {PROBE_TIMEOUT:g} s"
                )
                print(f"  attack connections answered: {sorted(set(answers))[:5]}")
                time.sleep(3)
    return 0


if __name__ == "__main__":
    sys.exit(main())
