"""Record the Docker engine's answers into fixtures/engine/, for the unit tests.

    .venv/bin/python scripts/record_fixtures.py [--socket /var/run/docker.sock]
        [--image dockerlink/base:latest] [--out fixtures/engine]

Needs a running dockerd and the base image. It talks to the engine with a raw `http.client`
connection over the unix socket, not with `dockerlink.engine`, so the fixtures say what the
engine does, not what our client believes it does; and it sends every path exactly as
written (`..` included) and never follows a redirect.

It creates its own throw-away objects (containers named `dltest-rec-…` and labelled
`dockerlink.test=1`, one volume `dltest-rec-…-www`), records 40 exchanges (ping, version,
image inspect, container create/list/inspect/start/stop/restart/update/stats/remove with
their 304, 404, 409 and 500 answers, execs with their framed output, the 301 the engine
answers to a path holding `..`, volumes) and removes everything it created, even on failure.

What it writes, in `--out`:
- `index.json`: one entry per exchange, in recording order: method, path (as sent on the
  wire, percent-encoding included), query (list of pairs), request body, status,
  content type, Location, and the body file;
- `<name>.json` for JSON bodies, `<name>.txt` for plain text, `<name>.bin` for exec streams
  (raw bytes: a text round-trip would corrupt the 8-byte frame headers).

Fields that change between runs are scrubbed, consistently across all files, so that
re-recording gives a small diff: container, exec and image ids and every other 64-hex id
become fixed fake ids (`sha256("<role>")`), the random name part becomes `fixture`,
timestamps, pids, addresses and the published host port become constants. Stats counters
(CPU time, memory, network bytes) are kept as measured: they are what the tests read.
Exec stream bodies are never rewritten (the commands print nothing run-specific).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import re
import secrets
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

API = "/v1.41"
TEST_LABEL = {"dockerlink.test": "1"}
MIB = 1024 * 1024

# Output the same on every run (exec bodies are kept byte for byte); the sleeps keep the
# engine from coalescing the lines of one stream into one frame, so frames interleave.
OUT_ERR_EXIT_3 = [
    "sh",
    "-c",
    "echo out-1; sleep 0.1; echo err-1 >&2; sleep 0.1; echo out-2; sleep 0.1; echo err-2 >&2; exit 3",
]


class UnixConnection(http.client.HTTPConnection):
    """http.client over a unix socket: the request line goes out exactly as given."""

    def __init__(self, socket_path: str, timeout: float = 60.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


@dataclass
class Exchange:
    """One recorded request and the engine's answer, before scrubbing."""

    name: str
    method: str
    path: str
    query: list[list[str]]
    request: Any
    status: int
    content_type: str
    location: str | None
    body: bytes


def path(*segments: str) -> str:
    """A versioned engine path, each segment percent-encoded with nothing kept safe."""
    return API + "/" + "/".join(quote(s, safe="") for s in segments)


class Recorder:
    """Sends raw requests; `record()` keeps the exchange for the fixtures, `call()` does not."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.exchanges: list[Exchange] = []

    def send(
        self,
        method: str,
        target: str,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        timeout: float = 60.0,
    ) -> tuple[int, http.client.HTTPResponse, bytes]:
        """One request on a fresh connection (an exec start hijacks and closes its own)."""
        conn = UnixConnection(self.socket_path, timeout)
        try:
            url = target + ("?" + urlencode(list(query)) if query else "")
            data = json.dumps(body).encode() if body is not None else None
            headers = {"Content-Type": "application/json"} if data is not None else {}
            conn.request(method, url, body=data, headers=headers)
            resp = conn.getresponse()
            content = resp.read()
            return resp.status, resp, content
        finally:
            conn.close()

    def record(
        self,
        name: str,
        method: str,
        target: str,
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        expect: int | None = None,
        timeout: float = 60.0,
    ) -> bytes:
        """Send, check the status is the one the fixture is meant to show, keep the exchange."""
        status, resp, content = self.send(method, target, query, body, timeout)
        if expect is not None and status != expect:
            raise RuntimeError(f"{name}: expected HTTP {expect}, engine answered {status}: {content[:300]!r}")
        self.exchanges.append(
            Exchange(
                name=name,
                method=method,
                path=target,
                query=[[k, v] for k, v in query],
                request=body,
                status=status,
                content_type=(resp.getheader("Content-Type") or "").split(";")[0],
                location=resp.getheader("Location"),
                body=content,
            )
        )
        return content

    def call(self, method: str, target: str, query: Sequence[tuple[str, str]] = (), body: Any = None) -> Any:
        """An unrecorded helper call that must succeed; returns its JSON body (or None)."""
        status, _, content = self.send(method, target, query, body)
        if status >= 300:
            raise RuntimeError(f"{method} {target}: HTTP {status}: {content[:300]!r}")
        return json.loads(content) if content.strip() else None


def fake_id(role: str) -> str:
    """A stable, realistic-looking 64-hex id for `role`."""
    return hashlib.sha256(role.encode()).hexdigest()


_HEX64 = re.compile(r"[0-9a-f]{64}")
_ZERO_TIME = "0001-01-01T00:00:00Z"
# Key → constant for values that change on every run (zero times and zero pids are kept).
_CONSTANTS: dict[str, Any] = {
    "Created": "2024-01-01T00:00:00.000000000Z",
    "StartedAt": "2024-01-01T00:00:01.000000000Z",
    "FinishedAt": "2024-01-01T00:00:02.000000000Z",
    "preread": "2024-01-01T00:00:03.000000000Z",
    "read": "2024-01-01T00:00:04.000000000Z",
    "CreatedAt": "2024-01-01T00:00:00Z",
    "LastTagTime": "2024-01-01T00:00:00.000000000Z",
    "Pid": 4242,
    "IPAddress": "172.17.0.2",
    "MacAddress": "02:42:ac:11:00:02",
    "SandboxKey": "/var/run/docker/netns/0123456789ab",
    "HostPort": "18080",
    "PublicPort": 18080,
}
_LIST_CREATED = 1704067200  # the container list's `Created` is unix seconds


@dataclass
class Scrubber:
    """Rewrites run-specific values to constants, the same way in every file."""

    replacements: dict[str, str] = field(default_factory=dict)
    generic: dict[str, str] = field(default_factory=dict)

    def add_id(self, real: str, role: str) -> None:
        fake = fake_id(role)
        self.replacements[real] = fake
        self.replacements[real[:12]] = fake[:12]  # short ids: hostnames, netns names

    def text(self, value: str) -> str:
        for real in sorted(self.replacements, key=len, reverse=True):
            value = value.replace(real, self.replacements[real])
        return _HEX64.sub(self._generic, value)

    def _generic(self, m: re.Match[str]) -> str:
        real = m[0]
        if real in self.replacements.values():
            return real
        return self.generic.setdefault(real, fake_id(f"other-{len(self.generic) + 1}"))

    def value(self, value: Any, key: str | None = None) -> Any:
        if key == "Status" and isinstance(value, str) and value.startswith(("Up ", "Exited ")):
            return value.split(" ", 1)[0] + " 2 seconds"  # the list's human-readable age
        if key in _CONSTANTS and value not in (None, "", 0, _ZERO_TIME):
            if key == "Created" and isinstance(value, int):
                return _LIST_CREATED
            return _CONSTANTS[key]
        if isinstance(value, dict):
            return {self.text(k): self.value(v, k) for k, v in value.items()}
        if isinstance(value, list):
            items = [self.value(v) for v in value]
            if key == "Ports":  # the container list's ports come in Go map order
                items.sort(key=lambda p: (p.get("PrivatePort", 0), p.get("Type", ""), p.get("IP", "")))
            return items
        if isinstance(value, str):
            return self.text(value)
        return value


def record_all(rec: Recorder, image: str, scrub: Scrubber, created: list[str]) -> None:
    """Every exchange, in an order that leaves the engine as it found it; the ids of the
    containers it makes go into `created` as soon as they exist, for clean-up."""
    token = secrets.token_hex(4)
    name = f"dltest-rec-{token}"
    volume = f"{name}-www"
    scrub.replacements[token] = "fixture"

    rec.record("ping", "GET", "/_ping", expect=200)
    rec.record("version", "GET", "/version", expect=200)
    image_json = json.loads(rec.record("image_inspect", "GET", path("images", *image.split("/"), "json"), expect=200))
    scrub.add_id(image_json["Id"].removeprefix("sha256:"), "image")
    rec.record("image_inspect_missing", "GET", path("images", "dltest-rec-missing:latest", "json"), expect=404)

    rec.record(
        "volume_create",
        "POST",
        path("volumes", "create"),
        body={"Name": volume, "Driver": "local", "Labels": TEST_LABEL},
        expect=201,
    )
    rec.record("volume_inspect", "GET", path("volumes", volume), expect=200)

    spec = {
        "Image": image,
        "Labels": TEST_LABEL,
        "WorkingDir": "/var/www/html",
        "ExposedPorts": {"22/tcp": {}, "80/tcp": {}},
        "HostConfig": {
            "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(free_port())}]},
            "Mounts": [{"Type": "volume", "Source": volume, "Target": "/var/www"}],
            "Memory": 256 * MIB,
            "MemorySwap": 256 * MIB,
            "CpuPeriod": 100000,
            "CpuQuota": 50000,
            "RestartPolicy": {"Name": "unless-stopped"},
        },
    }
    body = rec.record("container_create", "POST", path("containers", "create"), [("name", name)], body=spec, expect=201)
    cid = json.loads(body)["Id"]
    created.append(cid)
    scrub.add_id(cid, "container")
    rec.record(
        "container_create_name_in_use",
        "POST",
        path("containers", "create"),
        [("name", name)],
        body=spec,
        expect=409,
    )
    rec.record("container_inspect_created", "GET", path("containers", cid, "json"), expect=200)

    rec.record("container_start", "POST", path("containers", cid, "start"), expect=204)
    rec.record("container_start_again", "POST", path("containers", cid, "start"), expect=304)
    rec.record(
        "container_list",
        "GET",
        path("containers", "json"),
        [("all", "1"), ("filters", json.dumps({"name": [f"^/{name}$"]}))],
        expect=200,
    )
    rec.record("container_inspect_running", "GET", path("containers", cid, "json"), expect=200)
    rec.record(
        "container_stats_running",
        "GET",
        path("containers", cid, "stats"),
        [("stream", "false"), ("one-shot", "true")],
        expect=200,
    )
    rec.record(
        "container_update",
        "POST",
        path("containers", cid, "update"),
        body={"Memory": 512 * MIB, "MemorySwap": 512 * MIB, "CpuPeriod": 100000, "CpuQuota": 100000},
        expect=200,
    )
    rec.record("container_restart", "POST", path("containers", cid, "restart"), [("t", "1")], expect=204)
    rec.record(
        "container_remove_running",
        "DELETE",
        path("containers", cid),
        [("force", "0"), ("v", "0")],
        expect=409,
    )
    rec.record("volume_remove_in_use", "DELETE", path("volumes", volume), [("force", "0")], expect=409)

    exec_body = {"Cmd": OUT_ERR_EXIT_3, "AttachStdin": False, "AttachStdout": True, "AttachStderr": True, "Tty": False}
    eid = json.loads(rec.record("exec_create", "POST", path("containers", cid, "exec"), body=exec_body, expect=201))
    scrub.add_id(eid["Id"], "exec-1")
    start_body = {"Detach": False, "Tty": False}
    rec.record("exec_start", "POST", path("exec", eid["Id"], "start"), body=start_body, expect=200)
    rec.record("exec_inspect", "GET", path("exec", eid["Id"], "json"), expect=200)

    workdir_body = {**exec_body, "Cmd": ["true"], "WorkingDir": "/nonexistent"}
    eid = json.loads(
        rec.record("exec_workdir_create", "POST", path("containers", cid, "exec"), body=workdir_body, expect=201)
    )
    scrub.add_id(eid["Id"], "exec-2")
    rec.record("exec_workdir_start", "POST", path("exec", eid["Id"], "start"), body=start_body, expect=200)
    rec.record("exec_workdir_inspect", "GET", path("exec", eid["Id"], "json"), expect=200)
    rec.record("exec_inspect_missing", "GET", path("exec", fake_id("no-such-exec"), "json"), expect=404)

    rec.record(
        "container_logs",
        "GET",
        path("containers", cid, "logs"),
        [("stdout", "1"), ("stderr", "1"), ("timestamps", "1"), ("tail", "5")],
        expect=200,
    )
    rec.record("container_stop", "POST", path("containers", cid, "stop"), [("t", "1")], expect=204, timeout=30)
    rec.record("container_stop_again", "POST", path("containers", cid, "stop"), [("t", "1")], expect=304)
    rec.record("container_inspect_stopped", "GET", path("containers", cid, "json"), expect=200)
    rec.record(
        "container_stats_stopped",
        "GET",
        path("containers", cid, "stats"),
        [("stream", "false"), ("one-shot", "true")],
        expect=200,
    )
    rec.record("exec_create_stopped", "POST", path("containers", cid, "exec"), body=exec_body, expect=409)
    rec.record("container_inspect_missing", "GET", path("containers", "dltest-rec-missing", "json"), expect=404)
    rec.record("container_start_missing", "POST", path("containers", "dltest-rec-missing", "start"), expect=404)

    # A second container, target of the `..` paths: the engine cleans the path and answers
    # 301 to the *other* container; sent raw, never followed.
    other = rec.call(
        "POST", path("containers", "create"), [("name", f"{name}-b")], {"Image": image, "Labels": TEST_LABEL}
    )
    created.append(other["Id"])
    scrub.add_id(other["Id"], "container-b")
    dotdot = f"{API}/containers/{cid}/../{other['Id']}"
    rec.record("container_inspect_dotdot", "GET", dotdot + "/json", expect=301)
    rec.record("container_remove_dotdot", "DELETE", dotdot, [("force", "1"), ("v", "0")], expect=301)
    rec.record(
        "container_inspect_encoded_dotdot", "GET", path("containers", f"{cid}/../{other['Id']}", "json"), expect=301
    )

    prefix = provoke_ambiguous_prefix(rec, image, name, created)
    if prefix is not None:
        scrub.replacements[f"/containers/{prefix}/"] = "/containers/f/"
        scrub.replacements[f"prefix: {prefix}"] = "prefix: f"

    rec.record("container_remove", "DELETE", path("containers", cid), [("force", "0"), ("v", "0")], expect=204)
    created.remove(cid)
    rec.record("container_inspect_removed", "GET", path("containers", cid, "json"), expect=404)
    rec.record("volume_remove", "DELETE", path("volumes", volume), [("force", "0")], expect=204)
    rec.record("volume_inspect_missing", "GET", path("volumes", volume), expect=404)


def provoke_ambiguous_prefix(rec: Recorder, image: str, name: str, created: list[str]) -> str | None:
    """Create containers until one's first hex digit is shared by another container on the
    host (at most 17 by the pigeonhole principle), then ask for that one-digit prefix."""
    for n in range(20):
        body = rec.call(
            "POST", path("containers", "create"), [("name", f"{name}-amb{n}")], {"Image": image, "Labels": TEST_LABEL}
        )
        created.append(body["Id"])
        others = [c["Id"] for c in rec.call("GET", path("containers", "json"), [("all", "1")]) if c["Id"] != body["Id"]]
        prefix = body["Id"][0]
        if any(i.startswith(prefix) for i in others):
            status, _, _ = rec.send("GET", path("containers", prefix, "json"))
            if status == 500:
                rec.record("container_inspect_ambiguous", "GET", path("containers", prefix, "json"), expect=500)
                return prefix
    print("record_fixtures: could not provoke an ambiguous prefix; fixture skipped", file=sys.stderr)
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_up(rec: Recorder, ids: Sequence[str]) -> None:
    """Remove what this run (or an interrupted earlier one) left behind."""
    stale = rec.call(
        "GET", path("containers", "json"), [("all", "1"), ("filters", json.dumps({"name": ["dltest-rec-"]}))]
    )
    for cid in {*ids, *(c["Id"] for c in stale or [])}:
        rec.send("DELETE", path("containers", cid), [("force", "1"), ("v", "1")])
    volumes = rec.call("GET", path("volumes")) or {}
    for v in volumes.get("Volumes") or []:
        if v["Name"].startswith("dltest-rec-"):
            rec.send("DELETE", path("volumes", v["Name"]), [("force", "1")])


def write(out: Path, exchanges: Sequence[Exchange], scrub: Scrubber) -> None:
    out.mkdir(parents=True, exist_ok=True)
    index_file = out / "index.json"
    if index_file.exists():  # drop the files of the previous recording, and only those
        for entry in json.loads(index_file.read_text()).values():
            if entry.get("body"):
                (out / entry["body"]).unlink(missing_ok=True)
    index: dict[str, Any] = {}
    for ex in exchanges:
        body_file = None
        # Logs come framed with no content type at all.
        if ex.content_type == "application/vnd.docker.raw-stream" or ex.path.endswith("/logs"):
            body_file = f"{ex.name}.bin"
            (out / body_file).write_bytes(ex.body)  # never rewritten: frame headers hold lengths
        elif ex.body.strip() and ex.content_type == "application/json":
            body_file = f"{ex.name}.json"
            data = scrub.value(json.loads(ex.body))
            (out / body_file).write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        elif ex.body:
            body_file = f"{ex.name}.txt"
            (out / body_file).write_text(scrub.text(ex.body.decode()))
        index[ex.name] = {
            "method": ex.method,
            "path": scrub.text(ex.path),
            "query": [[k, scrub.text(v)] for k, v in ex.query],
            "request": scrub.value(ex.request),
            "status": ex.status,
            "content_type": ex.content_type,
            "location": scrub.text(ex.location) if ex.location else None,
            "body": body_file,
        }
    index_file.write_text(json.dumps(index, indent=2, ensure_ascii=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--socket", default="/var/run/docker.sock")
    parser.add_argument("--image", default="dockerlink/base:latest")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "fixtures" / "engine")
    args = parser.parse_args(argv)
    rec = Recorder(args.socket.removeprefix("unix://"))
    scrub = Scrubber()
    created: list[str] = []
    clean_up(rec, [])
    try:
        record_all(rec, args.image, scrub, created)
    finally:
        clean_up(rec, created)
    write(args.out, rec.exchanges, scrub)
    print(f"record_fixtures: {len(rec.exchanges)} exchanges written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
