"""Git commands that outlive the request that started them.

Closing an exec's connection never stops it, so when gunicorn stops (or kills a worker
stuck past its graceful timeout) a `git pull` hanging on a remote would run on until its
`timeout` fires. On the engine's host the exec's pid is known to the engine: its whole
process group (`timeout` makes one, with git and ssh in it) is killed here. Only this
service's execs (marked `-c dockerlink.instance=<instance>`): another dockerlink on the same
engine keeps its own.

Only the containers the workers marked (`marks.ExecMarks`: a mark while an exec runs, left
behind by a worker that died) are inspected: the cost follows the git execs that may be
running, not the number of sites.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator

from ..engine import Engine, EngineError, ExecInfo, NotFound, socket_path
from .marks import ExecMarks
from .runners import is_git_exec

__all__ = ["stop_orphan_git_execs"]

log = logging.getLogger("dockerlink.orphans")


def stop_orphan_git_execs(engine: Engine, instance: str, marks: ExecMarks) -> int:
    """Kill every running git exec this instance started in the containers `marks` names;
    returns how many; the marks go. Nothing with a remote engine: its pids are not this host's."""
    if socket_path(engine.address) is None:
        marks.clear()
        return 0
    killed = 0
    try:
        for container, info in _running_git_execs(engine, instance, marks.containers()):
            try:
                os.killpg(info.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError) as exc:
                log.warning("cannot stop git exec %s in %s: %s", info.id[:12], container, exc)
            else:
                killed += 1
    except EngineError as exc:
        log.warning("could not look for git execs left running: %s", exc)
    else:
        marks.clear()  # kept when the engine could not be asked: the next exit tries again
    if killed:
        log.info("stopped %d git command(s) left running in containers", killed)
    return killed


def _running_git_execs(engine: Engine, instance: str, containers: set[str]) -> Iterator[tuple[str, ExecInfo]]:
    """(container id, exec) of every running git exec of `instance` with a pid, in
    `containers`; an EngineError on the way is the caller's."""
    for container in sorted(containers):
        for info in _execs(engine, container):
            if info.running and info.pid and is_git_exec(info.argv, instance):
                yield container[:12], info


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
