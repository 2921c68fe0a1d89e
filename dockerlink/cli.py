"""`dockerlink serve | collect | check | adopt-backups`."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from .backups.catalog import Catalog
from .backups.restic import ResticError
from .backups.targets import restic_target
from .collector.process import run_forever
from .config import Config, ConfigError, listen_addresses
from .errors import Conflicting, InvalidInput
from .isolation.keeper import check_at_start
from .statefiles import StateFiles
from .tokens import revocations_problem

__all__ = ["main"]


def _serve(args: argparse.Namespace) -> int:
    conf = Path(__file__).with_name("gunicorn_conf.py")
    argv = [sys.executable, "-m", "gunicorn", "-c", str(conf), *args.gunicorn_args]
    os.execv(sys.executable, argv)
    return 0  # not reached


def _collect(args: argparse.Namespace) -> int:
    return run_forever(Config.from_env())


def _check(args: argparse.Namespace) -> int:
    config = Config.from_env()
    for warning in warnings(config, Config.read_env()):
        print(f"dockerlink: warning: {warning}", file=sys.stderr)
    version = config.engine().system.version()
    print(f"dockerlink: engine {version.version} (API {version.api_version}) at {config.docker_sock}")
    try:
        check_at_start(config)
    except RuntimeError as exc:  # the site network may not be used: one line
        print(f"dockerlink: {exc}", file=sys.stderr)
        return 2
    print(f"dockerlink: site network {config.site_network} ready")
    return 0


def _adopt(args: argparse.Namespace) -> int:
    """After a host is lost: list the restic repository's backups in this host's catalog."""
    config = Config.from_env()
    try:
        target = restic_target(config.engine(), config, Catalog(config.backup_dir))
        adopted = target.adopt(args.site)
    except (Conflicting, InvalidInput, ResticError) as exc:
        print(f"dockerlink: {exc}", file=sys.stderr)
        return 2 if not isinstance(exc, ResticError) else 1
    for r in adopted:
        print(f"adopted {r.name} {r.backup} (snapshot {r.snapshot}, {r.kind})")
    print(f"dockerlink: {len(adopted)} backup(s) adopted from the restic repository")
    return 0


def warnings(config: Config, raw: Mapping[str, str]) -> list[str]:
    """What an operator should settle, though the service starts without it; `raw`: the
    settings as given (to tell a default from a value set to the same)."""
    found = []
    if not (raw.get("port_area_size") or "").strip():
        found.append(
            f"port_area_size is unset (default {config.port_area_size}): set it to your panel's own "
            "(the insa Next.js panel's PORT_AREA_SIZE is 500), or its roots overlap and every create "
            "but the first is a 409 that the panel does not retry"
        )
    if config.api_token and (problem := revocations_problem(StateFiles.of(config).path("revoked"))):
        found.append(f"{problem}; see docs/security.md")
    listening = listen_addresses(config)
    if len(listening) < len(config.binds):
        found.append(f"no IPv6 loopback on this host: the default bind listens on {', '.join(listening)} only")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dockerlink", description="Per-host agent of a web-hosting panel.")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP service under gunicorn, with the stats collector")
    serve.add_argument("gunicorn_args", nargs=argparse.REMAINDER, help="extra gunicorn arguments")
    serve.set_defaults(func=_serve)
    sub.add_parser("collect", help="run the collector alone (stats, events, disk, firewall)").set_defaults(
        func=_collect
    )
    sub.add_parser("check", help="validate the configuration and reach the engine").set_defaults(func=_check)
    adopt = sub.add_parser("adopt-backups", help="list the restic repository's backups here (a new host)")
    adopt.add_argument("--site", help="only this site's backups")
    adopt.set_defaults(func=_adopt)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        Config.from_env()
        return args.func(args)
    except ConfigError as exc:
        print(f"dockerlink: configuration error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - one clear line, not a trace, for an operator
        from .engine import EngineError

        if isinstance(exc, EngineError):
            print(f"dockerlink: {exc}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    raise SystemExit(main())
