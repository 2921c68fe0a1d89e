"""Ending a site's live logins once its owner's credentials change.

A changed password or key list must not leave a session opened with the old one alive
(Pterodactyl Wings kept SFTP sessions past a password change for years: GHSA-8c39-xppg-479c).
What ends, by SIGKILL: every SSH connection (sshd's per-connection processes: all but its
listener) and every web terminal login (the `login` processes shellinabox starts), with
everything still below them. What stays: the keep-alive (sshd's listener, the terminal's
server), the site's commands (run as root by the start script, never below a login), and
what the owner detached from a session (a daemon, or a `nohup` job whose session ended:
re-parented, no longer below it). Restarting the site ends those too.

The processes are read with `ps` in the container (the base image has procps); an image
without it keeps its sessions, and that is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from ..engine import Conflict, Engine

__all__ = ["PS_ARGV", "Process", "Sessions", "parse_ps", "session_pids"]

log = logging.getLogger("dockerlink.access")

#: One line a process: pid, parent pid, command line (ps prints control characters as `?`,
#: so a process cannot forge a line).
PS_ARGV = ("ps", "-eo", "pid=,ppid=,args=")
_KILL_ARGV = ("sh", "-c", 'kill -KILL "$@" 2>/dev/null; exit 0', "dockerlink-end-sessions")


@dataclass(frozen=True)
class Process:
    pid: int
    ppid: int
    args: str


def parse_ps(text: str) -> list[Process]:
    """`ps -eo pid=,ppid=,args=` output; a line that is not one is skipped."""
    found = []
    for line in text.splitlines():
        fields = line.split(None, 2)
        if len(fields) >= 2 and fields[0].isdigit() and fields[1].isdigit():
            found.append(Process(int(fields[0]), int(fields[1]), fields[2] if len(fields) == 3 else ""))
    return found


def _is_login(p: Process) -> bool:
    """An SSH connection's sshd (titled `sshd: admin@pts/0`, `sshd: admin [priv]`, …; not
    the listener) or a terminal's `login`."""
    if p.pid == 1:
        return False
    if p.args.startswith("sshd: "):
        return "[listener]" not in p.args
    return p.args.split(" ", 1)[0].rsplit("/", 1)[-1] == "login"


def session_pids(processes: Iterable[Process]) -> list[int]:
    """The login processes and all their descendants, parents first."""
    processes = list(processes)
    children: dict[int, list[int]] = {}
    for p in processes:
        children.setdefault(p.ppid, []).append(p.pid)
    found: list[int] = []
    queue = [p.pid for p in processes if _is_login(p)]
    while queue:
        pid = queue.pop(0)
        if pid in found or pid == 1:
            continue
        found.append(pid)
        queue.extend(children.get(pid, ()))
    return found


class Sessions:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def end(self, container_id: str) -> list[int]:
        """Kill the container's login sessions (the pids killed); nothing to do when it is
        not running. Engine failures raise: the caller's change is then not done."""
        try:
            listed = self.engine.execs.run(container_id, PS_ARGV)
        except Conflict:  # not running: no session to end
            return []
        if listed.exit_code != 0:
            log.warning(
                "container %s: cannot list its processes (ps exited %s): live sessions were not ended",
                container_id[:12],
                listed.exit_code,
            )
            return []
        pids = session_pids(parse_ps(listed.stdout.decode(errors="replace")))
        if pids:
            self.engine.execs.run(container_id, [*_KILL_ARGV, *map(str, pids)])
        return pids
