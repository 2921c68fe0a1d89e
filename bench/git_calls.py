"""Bench: `GET /v1/git/head` through gunicorn against a raw exec round trip on the engine
socket and against `docker exec <c> git -c safe.directory=* log -1`, in one run, as ratios of medians.

    .venv/bin/python bench/git_calls.py [-n 40]

It makes one dockerlink-labelled container from the base image with a volume at /var/www,
as a site has (removed at the end), the same one-commit repository in /var/www/html and in
/srv/repo, and a live gunicorn on a free port. The head of /var/www/html is read on this
host and answered again while unchanged (dockerlink/git/heads.py); /srv/repo is in no
mount, so every head of it runs git through the exec: the row to compare with the raw
round trip, which is the three engine calls dockerlink makes (exec create, start, inspect)
with the same argv over a bare `http.client` connection: what is left is dockerlink's cost.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import median_ms  # noqa: E402
from bench.rawsocket import RawEngine  # noqa: E402
from dockerlink.engine import KILL_AFTER, ContainerSpec, Engine  # noqa: E402
from dockerlink.git import GIT_ENV, container_argv  # noqa: E402
from tests.integration.live import live_service  # noqa: E402

SOCKET = "/var/run/docker.sock"
IMAGE = os.environ.get("base_image", "dockerlink/base:latest")
GIT_TIMEOUT = 120
INSTANCE = "dlbench/127.0.0.1:0"  # the mark the raw round trip passes, as dockerlink passes its own
SETUP = (
    "set -e; for d in /var/www/html /srv/repo; do mkdir -p $d; cd $d; git init -q; echo hi > index.html;"
    " git -c safe.directory='*' add index.html;"
    " git -c safe.directory='*' -c user.email=bench@example.invalid -c user.name=bench commit -qm 'bench commit'; done"
)


def raw_exec(raw: RawEngine, container: str) -> int:
    """exec create, start (the framed output, read whole), inspect: as dockerlink does."""
    argv = ["timeout", "-k", str(KILL_AFTER), str(GIT_TIMEOUT), *container_argv(INSTANCE, "log", "-1")]
    body = {
        "Cmd": argv,
        "AttachStdout": True,
        "AttachStderr": True,
        "Tty": False,
        "Env": [f"{k}={v}" for k, v in GIT_ENV.items()],
        "WorkingDir": "/srv/repo",
    }
    exec_id = raw.json("POST", f"/containers/{container}/exec", body)["Id"]
    raw.call("POST", f"/exec/{exec_id}/start", {"Detach": False, "Tty": False})
    return raw.json("GET", f"/exec/{exec_id}/json")["ExitCode"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=40, help="timed calls per method (default 40)")
    args = parser.parse_args()

    engine = Engine(SOCKET)
    # Not `dltest-`/`dockerlink.test`: a test session running meanwhile would sweep it away.
    name = f"dlbench-{uuid.uuid4().hex[:8]}"
    labels = {"dockerlink": "bench", "dockerlink.bench": "1"}
    volume = f"{name}-www"
    spec = ContainerSpec(image=IMAGE, labels=labels, volumes={volume: "/var/www"})
    cid, _ = engine.containers.create(spec, name=name)
    try:
        engine.containers.start(cid)
        setup = engine.execs.run(cid, ["sh", "-c", SETUP])
        assert setup.exit_code == 0, setup.output
        with tempfile.TemporaryDirectory() as tmp, live_service(Path(tmp), git_timeout=str(GIT_TIMEOUT)) as service:

            def through_dockerlink() -> None:
                r = service.get("/v1/git/head", params={"id": name, "path": "/srv/repo"})
                assert r.status_code == 200 and "bench commit" in r.text, r.text

            def unchanged_site() -> None:
                r = service.get("/v1/git/head", params={"id": name})
                assert r.status_code == 200 and "bench commit" in r.text, r.text

            engine_socket = RawEngine(SOCKET)

            def raw() -> None:
                assert raw_exec(engine_socket, cid) == 0

            def cli() -> None:
                argv = ["docker", "exec", "-w", "/srv/repo", name, "git", "-c", "safe.directory=*", "log", "-1"]
                subprocess.run(argv, check=True, capture_output=True)

            results = {
                "GET /v1/git/head (gunicorn)": median_ms(through_dockerlink, args.n),
                "same, /var/www/html unchanged": median_ms(unchanged_site, args.n),
                "raw exec round trip (socket)": median_ms(raw, args.n),
                "docker exec <c> git log -1": median_ms(cli, args.n),
            }
            engine_socket.close()
    finally:
        engine.containers.remove(cid, force=True, volumes=True)
        engine.volumes.remove(volume, force=True)
        engine.close()

    ours = results["GET /v1/git/head (gunicorn)"]
    print(f"git head, median of {args.n} calls each")
    print(f"{'method':<32} {'median ms':>10} {'dockerlink / this':>18}")
    for label, ms in results.items():
        print(f"{label:<32} {ms:>10.1f} {ours / ms:>18.2f}")


if __name__ == "__main__":
    main()
