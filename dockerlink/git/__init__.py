"""dockerlink.git — git in a site's container (through the engine's exec) or on the host
(under `git_host_root`), for the git endpoints.

    rules.py     what git may be given: a branch name (one rule, also the OpenAPI pattern), a path
    runners.py   where a command runs: ContainerRunner (exec, as the site's user, `timeout -k`
                 inside), HostRunner (a subprocess as the directory's owner, in its own
                 session, its group killed at the timeout); FORCED_OPTIONS, forced on both
    service.py   Git(engine, config): one method per endpoint; how outcomes become errors
    orphans.py   at shutdown, kill the git execs still running (closing an exec never stops it)
    heads.py     the `git log -1` answer kept per working directory while the repository's
                 state, read on this host through the site's volume, is unchanged: no exec

Every command is an argv list, never a shell string, with `GIT_TERMINAL_PROMPT=0` and a
batch-mode ssh, so nothing ever waits for a password.
"""

from .marks import ExecMarks
from .orphans import stop_orphan_git_execs
from .rules import BRANCH_PATTERN, check_branch, check_path
from .runners import (
    FORCED_OPTIONS,
    GIT_ENV,
    SITE_USER,
    ContainerRunner,
    HostRunner,
    Runner,
    container_argv,
    cut_notice,
    is_git_exec,
    kill_exec,
)
from .service import DEFAULT_PATH, Git, Workdir, parse_refs

__all__ = [
    "BRANCH_PATTERN",
    "DEFAULT_PATH",
    "FORCED_OPTIONS",
    "GIT_ENV",
    "SITE_USER",
    "ContainerRunner",
    "ExecMarks",
    "Git",
    "HostRunner",
    "Runner",
    "Workdir",
    "check_branch",
    "check_path",
    "container_argv",
    "cut_notice",
    "is_git_exec",
    "kill_exec",
    "parse_refs",
    "stop_orphan_git_execs",
]
