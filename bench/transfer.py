"""Bench a transfer's downtime: a site of `--mb` MB (1 MB files of random bytes: the worst
case for zstd) moved from this host to a second host in its own network namespace
(tests/integration/second_host.py), `--changed` percent of its files rewritten while the
first pass copies it. Prints the first pass (the whole tree, the site running), the
downtime (stop on A → running on B) and their ratio: the downtime a one-pass move
(stop, copy everything, start) would have is about the first pass's time.

    .venv/bin/python bench/transfer.py [--mb 1000] [--changed 1]   (as root)

Everything it makes is removed at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dockerlink.engine import Engine  # noqa: E402
from tests.integration.live import live_service  # noqa: E402
from tests.integration.second_host import SERVICE_PORT, Net, second_host  # noqa: E402

NAME = "dltest-bench-transfer"
ROOT = 49500  # beside the integration tests (46000-49000)
TOKEN = "bench-second-host-token-0123"
NET = Net(slot=1)  # beside the integration tests' second host
VOLUMES = Path("/var/lib/docker/volumes")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=1000)
    ap.add_argument("--changed", type=float, default=1.0)
    args = ap.parse_args()
    engine = Engine()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "a").mkdir()
        with (
            second_host(Path(tmp) / "b", "dockerlink/base:latest", NET, api_token=TOKEN, port_area_size="500") as b,
            live_service(Path(tmp) / "a", port_area_size="500", publish_ip="127.0.0.1") as a,
        ):
            r = a.request(
                "PUT",
                "/v1/container",
                params={"start": "true"},
                json={"name": NAME, "host_port_root": ROOT, "memory": 0.5, "cpulimit": 1},
            )
            r.raise_for_status()
            cid = r.json()["Id"]
            try:
                # Dated back: a site that has existed a while. Files written a moment before
                # the copy count as changed during it (within passes.SLACK of its start) and
                # the final pass rightly sends them again (a quiet host writes 1 GB in seconds).
                fill = (
                    f"mkdir -p /var/www/d && for i in $(seq 1 {args.mb}); do"
                    " head -c 1048576 /dev/urandom > /var/www/d/f$i; done"
                    " && find /var/www -exec touch -h -d '2020-01-01 00:00:00' {} +"
                )
                assert engine.execs.run(cid, ["sh", "-c", fill], timeout=1800).exit_code == 0
                changed = max(1, int(args.mb * args.changed / 100))
                minted = b.service.request("POST", "/v1/transfer/token", json={"name": NAME, "ttl": 3600})
                token = minted.json()["token"]
                began = time.monotonic()
                r = a.request(
                    "POST",
                    "/v1/container/transfer",
                    params={"id": NAME},
                    json={"to": f"http://{NET.ns_ip}:{SERVICE_PORT}", "token": token},
                )
                r.raise_for_status()
                marks: dict[str, float] = {}
                rewritten = False
                while True:
                    s = a.get("/v1/container/transfer", params={"id": NAME}).json()
                    marks.setdefault(s["phase"], time.monotonic())
                    if s["phase"] == "copying" and not rewritten:
                        # On the volume, from the host: the engine holds the container's lock
                        # while its archive is read, so an exec would wait for the pass's end.
                        data = VOLUMES / f"dockerlink-{NAME}-www" / "_data" / "d"
                        for i in range(1, changed + 1):
                            (data / f"f{i}").write_bytes(os.urandom(1 << 20))
                        rewritten = True
                    if s["state"] in ("done", "failed"):
                        break
                    time.sleep(0.2)
                if s["state"] != "done":
                    raise SystemExit(f"transfer failed: {s.get('error')}")
                first = marks.get("stopping", marks.get("final", 0)) - marks.get("copying", began)
                print(f"site {args.mb} MB, {changed} files ({args.changed:g} %) rewritten during the first pass")
                print(f"passes: {s['passes']}")
                print(f"first pass (site running)   {first:7.2f} s")
                print(f"downtime (stop → running B) {s['downtime']:7.2f} s")
                print(f"whole transfer              {time.monotonic() - began:7.2f} s")
                print(f"downtime / first pass       {s['downtime'] / first:7.3f}")
            finally:
                a.request("DELETE", "/v1/container", params={"id": NAME})


if __name__ == "__main__":
    main()
