"""Events, webhooks, logs and the host's limits against the real engine, end to end under
gunicorn (the collector process follows the engine and sends the webhooks).

One service for the module, with a webhook receiver on loopback that fails its first 3
deliveries, and small limits (pids, log size) so the tests stay quick.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from dockerlink.engine import ContainerSpec, Engine, EngineError, EngineEvent
from dockerlink.events.follower import Follower, Translator
from dockerlink.events.journal import Journal
from dockerlink.events.oom import OomCounter, OomWatch
from dockerlink.events.webhooks import verify

from .dockerd import dockerd_pid, ensure_dockerd, stop_dockerd
from .live import free_port, live_service

SECRET = "integration-webhook-secret"
LABELS = {"dockerlink": "test", "dockerlink.test": "1"}
PIDS_LIMIT = 64
MIB = 1 << 20


class Receiver:
    """A webhook receiver on 127.0.0.1 that answers 500 to its first `fail` deliveries and
    can be taken down and brought back on the same port."""

    def __init__(self, fail: int) -> None:
        self.port = free_port()
        self.fail = fail
        self.accepted: list[tuple[int, dict, bool]] = []  # (seq, event, signature ok)
        self.tries = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with receiver._lock:
                    receiver.tries += 1
                    if receiver.fail > 0:
                        receiver.fail -= 1
                        self.send_response(500)
                        self.end_headers()
                        return
                    ok = verify(
                        SECRET, self.headers["X-Dockerlink-Timestamp"], body, self.headers["X-Dockerlink-Signature"]
                    )
                    event = json.loads(body)
                    ok = ok and self.headers["X-Dockerlink-Delivery"] == str(event["seq"])
                    receiver.accepted.append((event["seq"], event, ok))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail=3)
    r.up()
    yield r
    r.down()


@pytest.fixture(scope="module")
def events_service(engine, receiver, tmp_path_factory):
    with live_service(
        tmp_path_factory.mktemp("events"),
        stats_interval="1",
        publish_ip="127.0.0.1",
        port_area_size="500",  # small areas, clear of the other modules' sites still running
        webhook_url=f"http://127.0.0.1:{receiver.port}/hook",
        webhook_secret=SECRET,
        pids_limit=str(PIDS_LIMIT),
        log_max_size="1m",
        log_max_files="2",
    ) as s:
        yield s


def until(check: Callable[[], object], timeout: float = 60.0, what: str = "") -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.2)


def journal(service, cid: str, types: str | None = None) -> list[dict]:
    params = {"id": cid, "limit": "1000"}
    if types:
        params["type"] = types
    r = service.get("/v1/events", params=params)
    assert r.status_code == 200, r.text
    return r.json()["events"]


def wait_for(service, cid: str, type_: str, timeout: float = 60.0, **detail) -> dict:
    def found() -> dict | None:
        return next(
            (e for e in journal(service, cid, type_) if all(e["detail"].get(k) == v for k, v in detail.items())),
            None,
        )

    return until(found, timeout, f"{type_} {detail} for {cid[:12]}")  # type: ignore[return-value]


def labelled(engine: Engine, name: str, base_image: str, **spec) -> str:
    cid, _ = engine.containers.create(ContainerSpec(image=base_image, labels=LABELS, **spec), name=name)
    return cid


def test_a_child_killed_by_the_oom_killer_is_an_event_and_shows_in_the_listing(
    events_service, engine, unique_name, base_image
):
    cid = labelled(
        engine, unique_name, base_image, entrypoint=("sleep", "infinity"), memory=32 * MIB, memory_swap=32 * MIB
    )
    engine.containers.start(cid)
    # A child holds 100 MiB in a pipe's reader; the kernel kills it, PID 1 lives on.
    engine.execs.run(cid, ["sh", "-c", "head -c 100000000 /dev/zero | tail > /dev/null"], timeout=60)
    assert engine.containers.inspect(cid).running
    oom = wait_for(events_service, cid, "oom")
    assert oom["detail"]["source"] in ("engine", "cgroup")

    def listed() -> dict | None:
        entry = events_service.get("/v1/container", params={"id": cid}).json()["success"][cid]
        return entry if entry["oom_kills"] >= 1 else None

    entry = until(listed, 30, "the listing counts the kill")
    assert entry["state"] == "running"

    def sampled() -> dict | None:
        r = events_service.get("/v1/container/stats", params={"id": cid, "scale": "instant"})
        last = list(r.json().values())[-1] if r.status_code == 200 and r.json() else None
        return last if last and last.get("oom_kills", 0) >= 1 else None

    sample = until(sampled, 30, "the stats count the kill")
    assert sample["pids"] >= 1
    # The cgroup's own counter saw the kill too (what catches a kill the engine does not report).
    counts = {c.container_id: c.count for c in OomWatch(engine.containers).counts()}
    assert counts.get(cid, 0) >= 1
    # The counter is a job of its own, with its own health line.
    assert events_service.get("/v1/health").json()["jobs"]["oom"]["state"] == "running"


class _Listed:
    """The engine's containers, with each listing counted."""

    def __init__(self, engine: Engine) -> None:
        self._containers = engine.containers
        self.lists = 0

    def list(self, all: bool = True, filters=None):  # noqa: A002, ANN001, ANN201
        self.lists += 1
        return self._containers.list(all=all, filters=filters)

    def inspect(self, ref: str):  # noqa: ANN201
        return self._containers.inspect(ref)


def test_the_oom_counter_learns_of_a_started_site_from_the_engines_events_not_a_listing(
    engine, unique_name, base_image, tmp_path
):
    """The real engine's `start` and `die` reach the OOM counter through the follower: after
    one listing, a site started later is read and a stopped one dropped, with no listing."""
    journal = Journal(str(tmp_path / "events.sqlite3"))
    containers = _Listed(engine)
    watch = OomWatch(containers)
    counter = OomCounter(watch.counts, journal, running=watch.running)
    follower = Follower(engine.system, Translator(journal, engine.containers), journal, consumers=[counter], window=1)
    follower.window_once()  # following
    watch.counts()
    assert containers.lists == 1
    cid = labelled(engine, unique_name, base_image, entrypoint=("sleep", "infinity"))
    engine.containers.start(cid)
    until(lambda: follower.window_once() >= 0 and cid in {c.container_id for c in watch.counts()}, 30, "started")
    engine.containers.stop(cid, t=1)
    until(lambda: follower.window_once() >= 0 and cid not in {c.container_id for c in watch.counts()}, 30, "died")
    assert containers.lists == 1
    journal.close()


def test_a_main_process_exiting_3_is_a_crash_then_a_restart_by_policy(events_service, engine, unique_name, base_image):
    cid = labelled(
        engine,
        unique_name,
        base_image,
        entrypoint=("sh", "-c", "sleep 1; exit 3"),
        restart_policy="on-failure",
    )
    engine.containers.start(cid)
    died = wait_for(events_service, cid, "died", exit_code=3)
    assert died["detail"]["crash"] is True
    restarted = wait_for(events_service, cid, "restarted")
    assert restarted["detail"]["count"] >= 1 and restarted["seq"] > died["seq"]
    engine.containers.remove(cid, force=True)
    entry_gone = wait_for(events_service, cid, "deleted")
    assert entry_gone["seq"] > restarted["seq"]


def test_docker_stop_from_outside_is_no_crash_and_a_stop_through_dockerlink_says_so(
    events_service, engine, unique_name, base_image
):
    cid = labelled(engine, unique_name, base_image, entrypoint=("sleep", "infinity"))
    engine.containers.start(cid)
    subprocess.run(["docker", "stop", "-t", "1", cid], check=True, capture_output=True, timeout=60)
    died = wait_for(events_service, cid, "died")
    assert died["detail"]["crash"] is False
    assert wait_for(events_service, cid, "stopped")["detail"]["by"] == "other"
    engine.containers.start(cid)
    assert events_service.request("POST", "/v1/container/stop", params={"id": cid, "t": "1"}).status_code == 204
    wait_for(events_service, cid, "stopped", by="dockerlink")


def _collector_pid(service) -> int | None:
    master = service.process.pid
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == master and b"dockerlink.collector" in cmdline:
            return int(entry.name)
    return None


EXPECTED = {"create": "created", "start": "started", "die": "died", "stop": "stopped", "destroy": "deleted"}


def test_a_collector_killed_and_restarted_loses_and_doubles_nothing(events_service, engine, unique_name, base_image):
    since = time.time() - 1
    cid = labelled(engine, unique_name, base_image, entrypoint=("sleep", "infinity"))
    engine.containers.start(cid)
    wait_for(events_service, cid, "started")
    old = until(lambda: _collector_pid(events_service), 10, "a collector under the gunicorn master")
    os.kill(old, signal.SIGKILL)  # mid-stream: the next events happen while it is gone
    for _ in range(2):
        engine.containers.stop(cid, t=0)
        engine.containers.start(cid)
    until(lambda: _collector_pid(events_service) not in (None, old), 30, "the collector restarted")
    engine.containers.remove(cid, force=True)
    wait_for(events_service, cid, "deleted")
    engine_log = engine.system.events(
        since, time.time(), {"type": ["container"], "container": [cid], "event": list(EXPECTED)}
    )
    expected = [EXPECTED[e.action] for e in engine_log]
    got = [e["type"] for e in journal(events_service, cid) if e["type"] in EXPECTED.values()]
    assert got == expected


def test_fork_bomb_stops_at_pids_limit_while_the_service_answers(events_service, engine, unique_name):
    r = events_service.request(
        "PUT",
        "/v1/container",
        params={"start": "true"},
        json={"name": unique_name, "host_port_root": 57000, "memory": 0.25, "cpulimit": 0.5},
    )
    assert r.status_code == 200, r.text
    cid = r.json()["Id"]
    assert engine.containers.inspect(cid).pids_limit == PIDS_LIMIT
    bomb = threading.Thread(
        target=engine.execs.run,
        args=(cid, ["sh", "-c", "for i in $(seq 300); do sleep 30 >/dev/null 2>&1 & done; sleep 5"]),
        kwargs={"timeout": 60},
    )
    bomb.start()
    time.sleep(2)
    assert events_service.get("/v1/health", timeout=10).status_code == 200
    counted = engine.execs.run(cid, ["sh", "-c", "ls /proc | grep -c '^[0-9]'"], timeout=30)
    bomb.join()
    # Either the count ran (at or under the limit) or the limit refused even its fork.
    assert counted.exit_code != 0 or int(counted.stdout.split()[0]) <= PIDS_LIMIT
    r = events_service.request("PATCH", "/v1/container", params={"id": cid}, json={"memory": 0.5})
    assert r.status_code == 200
    assert engine.containers.inspect(cid).pids_limit == PIDS_LIMIT  # a resize keeps it
    events_service.request("DELETE", "/v1/container", params={"id": cid})


def test_50_mib_of_output_leaves_at_most_the_rotated_logs_on_disk(events_service, engine, unique_name):
    r = events_service.request(
        "PUT",
        "/v1/container",
        params={"start": "true"},
        json={
            "name": unique_name,
            "host_port_root": 57500,
            "memory": 0.25,
            "cpulimit": 1,
            "commands": ["head -c 52428800 /dev/zero | tr '\\0' a | fold -w 1000"],
        },
    )
    assert r.status_code == 200, r.text
    cid = r.json()["Id"]
    log_path = Path(engine.transport.request("GET", ["containers", cid, "json"]).json()["LogPath"])

    def on_disk() -> int:
        return sum(p.stat().st_size for p in log_path.parent.glob(log_path.name + "*") if p.exists())

    def written() -> bool:  # sshd starts once the commands are done
        return engine.execs.run(cid, ["sh", "-c", "pgrep -x sshd >/dev/null"], timeout=30).exit_code == 0

    until(written, 120, "the 50 MiB were written")
    assert on_disk() <= 2 * MIB + 64 * 1024  # log_max_size x log_max_files (+ the file being written)
    logs = events_service.get("/v1/container/logs", params={"id": cid, "tail": "20"})
    assert logs.status_code == 200 and logs.headers["content-type"].startswith("text/plain")
    lines = logs.text.splitlines()
    assert len(lines) <= 20 and "a" * 1000 in lines  # the end of the output, sshd's lines after it
    events_service.request("DELETE", "/v1/container", params={"id": cid})


def test_webhooks_reach_a_receiver_that_failed_and_was_down_once_each_in_order(
    events_service, engine, receiver, unique_name, base_image
):
    cid = labelled(engine, unique_name, base_image, entrypoint=("sleep", "infinity"))
    engine.containers.start(cid)
    wait_for(events_service, cid, "started")
    until(lambda: receiver.tries >= 4, 60, "3 failed tries and a success")
    receiver.down()
    engine.containers.stop(cid, t=0)
    wait_for(events_service, cid, "stopped")
    time.sleep(3)  # down a while: more failed tries, a longer back-off
    receiver.up()
    back = len(receiver.accepted)
    engine.containers.remove(cid, force=True)
    last = wait_for(events_service, cid, "deleted")["seq"]
    until(lambda: receiver.accepted and receiver.accepted[-1][0] >= last, 90, "the backlog delivered")
    seqs = [seq for seq, _, _ in receiver.accepted]
    # At least once: a collector killed between a delivery and its note (the test above
    # kills one) sends that event again, right away; otherwise each once, in order.
    assert all(b >= a for a, b in zip(seqs, seqs[1:], strict=False))
    assert seqs[back:] == sorted(set(seqs[back:]))  # once each after the receiver was down
    seqs = sorted(set(seqs))
    assert all(ok for _, _, ok in receiver.accepted)
    journal_seqs: list[int] = []
    cursor = seqs[0] - 1
    while cursor < seqs[-1]:
        page = events_service.get("/v1/events", params={"since": str(cursor), "limit": "1000"}).json()
        journal_seqs += [e["seq"] for e in page["events"] if e["seq"] <= seqs[-1]]
        cursor = page["next"]
    assert seqs == journal_seqs  # none missing
    health = events_service.get("/v1/health").json()
    assert health["webhooks"]["backlog"] >= 0


def test_a_dockerd_restart_loses_and_doubles_nothing_the_engine_reports(
    events_service, engine, unique_name, base_image
):
    """Runs last in the module: every container of the engine stops with dockerd."""
    if os.geteuid() != 0 or dockerd_pid() is None:
        pytest.fail("this test restarts dockerd: it needs root and a dockerd process (scripts/test.sh starts one)")
    since = time.time() - 1
    cid = labelled(engine, unique_name, base_image, restart_policy="unless-stopped")  # sshd: stops on SIGTERM
    engine.containers.start(cid)
    engine.containers.stop(cid, t=5)
    engine.containers.start(cid)
    until(lambda: len(journal(events_service, cid, "started")) == 2, 30, "both starts journalled")
    filters = {"type": ["container"], "container": [cid], "event": list(EXPECTED)}
    before: list[EngineEvent] = []  # the old daemon's events, followed to its end (its log dies with it)

    def follow_old_daemon() -> None:
        with contextlib.suppress(EngineError):
            before.extend(engine.system.follow(since, None, filters))

    follower = threading.Thread(target=follow_old_daemon, daemon=True)
    follower.start()
    until(lambda: len(before) >= 5, 10, "the old daemon's events so far")  # create, start, die, stop, start
    stop_dockerd()
    try:
        follower.join(30)
        time.sleep(2)  # the collector meets the outage
    finally:
        ensure_dockerd()
    until(lambda: engine_running(engine, cid), 60, "the site restarted by its policy")
    engine.containers.stop(cid, t=5)
    engine.containers.start(cid)
    engine.containers.remove(cid, force=True)
    wait_for(events_service, cid, "deleted")
    after = engine.system.events(since, time.time(), filters)  # the new daemon's, from its start
    expected = [EXPECTED[e.action] for e in [*before, *after]]
    got = [e["type"] for e in journal(events_service, cid) if e["type"] in EXPECTED.values()]
    assert got == expected, [(e["type"], e["detail"]) for e in journal(events_service, cid)]


def engine_running(engine: Engine, cid: str) -> bool:
    try:
        return engine.containers.inspect(cid).running
    except Exception:  # noqa: BLE001 - not answering yet is "not yet"
        return False
