"""Git commands that outlive the request that started them.

Closing an exec's connection never stops it, so when gunicorn stops (or kills a worker
stuck past its graceful timeout) a `git pull` hanging on a remote would run on until its
`timeout` fires. On the engine's host the exec's pid is known to the engine: its whole
process group (`timeout` makes one, with git and ssh in it) is killed here. Only this
service's execs (marked `-c dockerlink.instance=<instance>`): another dockerlink on the same
engine keeps its own.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator

from ..engine import Engine, EngineError, ExecInfo, NotFound, socket_path
from ..ownership import LABEL
from .runners import is_git_exec

__all__ = ["stop_orphan_git_execs"]

log = logging.getLogger("dockerlink.orphans")


def stop_orphan_git_execs(engine: Engine, instance: str) -> int:
    """Kill every running git exec this instance started in its containers; returns how many.
    Nothing with a remote engine: its pids are not this host's."""
    if socket_path(engine.address) is None:
        return 0
    killed = 0
    try:
        for container, info in _running_git_execs(engine, instance):
            try:
                os.killpg(info.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError) as exc:
                log.warning("cannot stop git exec %s in %s: %s", info.id[:12], container, exc)
            else:
                killed += 1
    except EngineError as exc:
        log.warning("could not look for git execs left running: %s", exc)
    if killed:
        log.info("stopped %d git command(s) left running in containers", killed)
    return killed


def _running_git_execs(engine: Engine, instance: str) -> Iterator[tuple[str, ExecInfo]]:
    """(container name, exec) of every running git exec of `instance` with a pid, in
    dockerlink's running containers; an EngineError on the way is the caller's."""
    for summary in engine.containers.list(all=False, filters={"label": [LABEL]}):
        for info in _execs(engine, summary.id):
            if info.running and info.pid and is_git_exec(info.argv, instance):
                yield summary.name, info


def _execs(engine: Engine, container_id: str) -> list[ExecInfo]:
    """The container's execs; none when it, or an exec, went away meanwhile."""
    found = []
    try:
        for exec_id in engine.containers.inspect(container_id).exec_ids:
            try:
                found.append(engine.execs.inspect(exec_id))
            except NotFound:
                continue
    except NotFound:
        pass
    return found
