"""How much the engine client costs over the raw socket and against the docker CLI.

    .venv/bin/python bench/engine_calls.py [--containers 20] [--repeat 15] [--create-repeat 5]

For four operations it times, in one run and against the same daemon: our library
(`dockerlink.engine.Engine`), a minimal raw `http.client` client over the unix socket making
the same HTTP calls (the floor any Python client can reach), and the docker CLI. It prints
the median of each in ms and the ratios library/raw and library/CLI.

- inspect: one container's JSON (`docker inspect <id>`);
- list: all N labelled containers (`docker ps -a --filter label=…`);
- exec `true`: create, start, read the output, read the exit code (`docker exec <id> true`);
- create+start+stop+remove with `t=1` (`docker run -d` + `docker stop -t 1` + `docker rm`).

The containers run `sh` waiting on `wait` with a TERM trap, so a stop takes what the engine
takes, not the `t` seconds a PID 1 that ignores TERM would cost (the base image's keep-alive
script does, until it has exec'd sshd). Everything is labelled `dockerlink.bench=<run>`,
named `dlbench-…`, and removed at the end, even on failure.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import docker, median_ms, print_table  # noqa: E402
from bench.rawsocket import RawEngine  # noqa: E402
from dockerlink.engine import ContainerSpec, Engine, NotFound  # noqa: E402

#: A keep-alive that ends at once on TERM (sh as PID 1 would otherwise ignore it).
KEEPALIVE = ["sh", "-c", "trap 'exit 0' TERM; sleep infinity & wait"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--containers", type=int, default=20, help="containers for the list (default 20)")
    parser.add_argument("--repeat", type=int, default=15, help="runs per measure (default 15)")
    parser.add_argument("--create-repeat", type=int, default=5, help="runs of the create cycle (default 5)")
    parser.add_argument("--socket", default="/var/run/docker.sock")
    parser.add_argument("--image", default="dockerlink/base:latest")
    args = parser.parse_args()

    run = secrets.token_hex(4)
    label = f"dockerlink.bench={run}"
    labels = {"dockerlink.bench": run}
    spec = ContainerSpec(image=args.image, cmd=tuple(KEEPALIVE), labels=labels)
    cli_env = ["--host", f"unix://{args.socket}"]
    engine = Engine(args.socket)
    raw = RawEngine(args.socket)
    try:
        target, _ = engine.containers.create(spec, name=f"dlbench-{run}-target")
        engine.containers.start(target)
        for i in range(args.containers - 1):
            engine.containers.create(spec, name=f"dlbench-{run}-{i}")
        filters = {"label": [label]}
        raw_list_query = {"all": "1", "filters": json.dumps(filters)}
        assert len(engine.containers.list(all=True, filters=filters)) == args.containers

        def raw_exec() -> None:
            body = {"Cmd": ["true"], "AttachStdout": True, "AttachStderr": True, "Tty": False}
            exec_id = json.loads(raw.call("POST", f"/containers/{target}/exec", body=body))["Id"]
            raw.call("POST", f"/exec/{exec_id}/start", body={"Detach": False, "Tty": False})
            json.loads(raw.call("GET", f"/exec/{exec_id}/json"))

        def lib_cycle() -> None:
            cid, _ = engine.containers.create(spec, name=f"dlbench-{run}-cycle")
            engine.containers.start(cid)
            engine.containers.stop(cid, t=1)
            engine.containers.remove(cid)

        def raw_cycle() -> None:
            body = {"Image": args.image, "Cmd": KEEPALIVE, "Labels": labels}
            cid = json.loads(raw.call("POST", "/containers/create", body, query={"name": f"dlbench-{run}-cycle"}))["Id"]
            raw.call("POST", f"/containers/{cid}/start")
            raw.call("POST", f"/containers/{cid}/stop", query={"t": "1"})
            raw.call("DELETE", f"/containers/{cid}", query={"force": "0", "v": "0"})

        def cli_cycle() -> None:
            name = f"dlbench-{run}-cycle"
            docker(*cli_env, "run", "-d", "--name", name, "--label", label, args.image, *KEEPALIVE)
            docker(*cli_env, "stop", "-t", "1", name)
            docker(*cli_env, "rm", name)

        rows: list[tuple[str, float, float, float]] = []
        measures = [
            (
                "inspect",
                args.repeat,
                lambda: engine.containers.inspect(target),
                lambda: json.loads(raw.call("GET", f"/containers/{target}/json")),
                lambda: docker(*cli_env, "inspect", target),
            ),
            (
                f"list ({args.containers} containers)",
                args.repeat,
                lambda: engine.containers.list(all=True, filters=filters),
                lambda: json.loads(raw.call("GET", "/containers/json", query=raw_list_query)),
                lambda: docker(*cli_env, "ps", "-a", "--filter", f"label={label}"),
            ),
            (
                "exec `true`",
                args.repeat,
                lambda: engine.execs.run(target, ["true"]),
                raw_exec,
                lambda: docker(*cli_env, "exec", target, "true"),
            ),
            ("create+start+stop+remove", args.create_repeat, lib_cycle, raw_cycle, cli_cycle),
        ]
        for name, repeat, lib_fn, raw_fn, cli_fn in measures:
            rows.append((name, median_ms(lib_fn, repeat), median_ms(raw_fn, repeat), median_ms(cli_fn, repeat)))

        version = engine.system.version()
        print_table(
            f"engine {version.version} (API {version.api_version}), median of {args.repeat} runs "
            f"({args.create_repeat} for the create cycle), times in ms",
            rows,
        )
        return 0
    finally:
        raw.close()
        for c in engine.containers.list(all=True, filters={"label": [label]}):
            try:
                engine.containers.remove(c.id, force=True)
            except NotFound:
                pass
        engine.close()


if __name__ == "__main__":
    sys.exit(main())
