"""What the operator page's browser tests (and bench/ui_requests.py) drive: a real HTTP
server over `create_app` with the fake engine and a stats store holding a day of history,
and Debian's chromium, headless, driven over the DevTools protocol (websocket-client).

The token is typed into the page through the protocol (Input.insertText), never put in a
URL or in chromium's argv."""

from __future__ import annotations

import base64
import itertools
import json
import math
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import websocket

from dockerlink.app import create_app
from dockerlink.config import Config
from dockerlink.stats.samples import Reading, derive
from dockerlink.stats.store import StatsStore
from tests.fakes import FakeEngine

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--window-size=1400,900",
)


# -- the service --------------------------------------------------------------------------


def fill_history(store: StatsStore, ids: list[str], now: float, hours: float = 24, step: float = 120) -> None:
    """`hours` of samples every `step` seconds for each of `ids` (a daily wave of CPU and
    memory, some traffic), then the store's roll-up as the collector would do it."""
    previous: dict[str, Reading] = {}
    start = now - hours * 3600
    for k in itertools.count():
        ts = start + k * step
        if ts > now:
            break
        entries = []
        for i, cid in enumerate(ids):
            wave = 1 + math.sin(ts / 7200 + i)
            prev = previous.get(cid)
            cpu_ns = (prev.cpu_ns if prev else 0) + int(step * 1e9 * 0.05 * (i + 1) * wave)
            net = (prev.net_rx if prev else 0) + int(2000 * wave * step)
            r = Reading(cid, ts, True, cpu_ns, int((64 + 32 * wave) * 2**20), 2**30, 100000, 100000, net, net // 3)
            entries.append((r, derive(prev, r, ts)))
            previous[cid] = r
        store.record_round(ts, entries, host_cpus=2)
    store.maintain(now)


def fake_host(tmp: Path, token: str, sites: int = 3, stats_interval: float = 10.0, history_step: float = 120):
    """(app, engine, store): `sites` running dockerlink sites with a day of history each, and
    one container that is not dockerlink's."""
    engine = FakeEngine()
    added = [
        engine.containers.add(
            f"site{i + 1}", labels={"dockerlink": "0.1.0", "dockerlink.host_port_root": str(10000 + 10 * i)}
        )
        for i in range(sites)
    ]
    engine.containers.add("postgres")
    store = StatsStore(str(tmp / "stats.sqlite3"))
    fill_history(store, [c.id for c in added], time.time(), step=history_step)
    config = Config(stats_db=store.path, api_token=token, stats_interval=stats_interval)
    return create_app(config, engine=engine, store=store), engine, store


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serve(app: Any, port: int = 0) -> Iterator[str]:
    """The app on 127.0.0.1 (`port`, or a free one) in a thread; yields its base URL."""
    server = make_server("127.0.0.1", port, app, server_class=_Threading, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


# -- the browser --------------------------------------------------------------------------


class Browser:
    """One headless chromium with a fresh profile, and one page driven over CDP."""

    def __init__(self, profile: Path) -> None:
        self.profile = profile
        self.events: list[dict] = []
        self._ids = itertools.count(1)
        self._proc = subprocess.Popen(
            [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            port = self._port()
            pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
            url = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
            self._ws = websocket.create_connection(url, timeout=30, suppress_origin=True)
        except BaseException:
            self.close()
            raise
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.send("Network.enable")

    def _port(self) -> int:
        marker = self.profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self._proc.returncode}")
            if marker.exists() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            time.sleep(0.1)
        raise RuntimeError("chromium did not open its debugging port in 30 s")

    def send(self, method: str, **params: Any) -> dict:
        msg_id = next(self._ids)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Polls `expression` until it is truthy (a wide liveness bound, not a timing claim)."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"not true after {timeout} s: {expression}")
            time.sleep(0.1)

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def type_token(self, token: str) -> None:
        """Types into the page's token field and submits, as an operator would."""
        self.wait_for("!document.querySelector('#login').hidden")
        self.evaluate("document.querySelector('#token').focus()")
        self.send("Input.insertText", text=token)
        self.evaluate("document.querySelector('#login button[type=submit]').click()")

    def requests(self) -> list[dict]:
        """Every request the page sent so far (CDP Network.requestWillBeSent), in order."""
        return [e["params"]["request"] for e in self.events if e.get("method") == "Network.requestWillBeSent"]

    def wait_for_requests(self, predicate: Any, timeout: float = 30.0) -> list[dict]:
        """Reads the protocol's events until `predicate(self.requests())` is true: a request's
        event may come after the answer to an evaluation that saw its effect."""
        deadline = time.monotonic() + timeout
        while not predicate(self.requests()):
            if time.monotonic() > deadline:
                raise AssertionError(f"no such requests after {timeout} s")
            self.evaluate("1")
            time.sleep(0.05)
        return self.requests()

    def pump(self, seconds: float) -> None:
        """Reads the protocol's events for `seconds` (the page keeps running meanwhile)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.evaluate("1")
            time.sleep(0.1)

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        ws = getattr(self, "_ws", None)
        if ws is not None:
            ws.close()
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def chromium_available() -> bool:
    return os.access(CHROMIUM, os.X_OK)
