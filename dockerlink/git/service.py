"""`Git(engine, config)`: the git endpoints' operations, in a container or on the host.

How outcomes map to errors (and so, in `resources/errors.py`, to HTTP statuses):

- past `git_timeout` → `GitTimeout`; in a container the command runs under
  `timeout -k 5 <s>` because closing the exec connection never stops it;
- a working directory that does not exist → `InvalidInput("path")`: the engine answers 200
  with exit code 126 and the runtime's "chdir … no such file or directory" on the output.
  Not `NoSuchContainer`, which the API keeps for the container;
- any other non-zero exit → `GitFailed` with git's output;
- a container that is not running → `Conflicting`, one dockerlink did not create →
  `Forbidden`, id-less git while `git_host_root` is unset or a path resolving outside it
  (symlinks included) → `Forbidden`;
- a container whose image has no site user (git never runs there as root) → `MissingUser`
  (a `Conflicting`); a repository that names its own upload-pack or receive-pack command
  (`remote.<name>.uploadpack`, `.receivepack`) → `Conflicting` before a pull or fetch;
- every command holds one of the worker's slots for long requests, and at most
  `git_per_site` of them per container: past either, `Busy` at once (`dockerlink.slots`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..access.login import MissingUser
from ..config import Config
from ..engine import Engine, ExecResult, socket_path
from ..errors import Conflicting, Forbidden, GitFailed, GitTimeout, InvalidInput
from ..hosting import WORKDIR
from ..ownership import require_owned
from ..slots import Slots, default_size
from ..statefiles import StateFiles
from .heads import HeadCache, HostView, host_view
from .marks import ExecMarks
from .rules import check_branch, check_path
from .runners import SITE_USER, ContainerRunner, HostRunner, Runner, cut_notice

__all__ = ["DEFAULT_PATH", "Git", "Workdir", "parse_refs"]

#: Where git runs in a container whose image names no working directory.
DEFAULT_PATH = WORKDIR
_LIST_REFS = ("for-each-ref", "--format=%(refname)%09%(symref)", "refs/heads", "refs/remotes")
#: Settings that name a command git runs to reach a remote; refused before a pull or fetch.
_REMOTE_COMMANDS = ("config", "--name-only", "--get-regexp", r"^remote\..*\.(uploadpack|receivepack)$")
#: `git log -1` reads no user-level config: what it prints then depends only on what the head
#: cache watches (the repository's files and root's /etc/gitconfig), cached or not.
_NO_USER_CONFIG = {"GIT_CONFIG_GLOBAL": "/dev/null"}


@dataclass(frozen=True)
class Workdir:
    """A working directory, the runner that reaches it, and (a container's, on a local
    engine) where it is on this host."""

    runner: Runner
    path: str
    view: HostView | None = None
    site: str | None = None  # the container's id; None on the host


class Git:
    """One method per git endpoint: `ref` is a container (None: the host, under
    `git_host_root`), `path` the working directory (None: the container's own)."""

    def __init__(
        self,
        engine: Engine,
        config: Config,
        clock: Callable[[], float] = time.monotonic,
        slots: Slots | None = None,
    ) -> None:
        self.engine = engine
        self.config = config
        self._clock = clock
        self._slots = slots or Slots(default_size())
        self.heads = HeadCache()

    def pull(self, ref: str | None, path: str | None) -> str:
        where = self.workdir(ref, path)
        self._refuse_remote_commands(where)
        return self._run(where, "pull").output

    def init(self, ref: str | None, path: str | None) -> None:
        """`git init` creates the directory (and its parents): run from `/`, which always exists."""
        where = self.workdir(ref, path)
        self._run(where, "init", "--", where.path, cwd="/")

    def head(self, ref: str | None, path: str | None) -> str:
        """`git log -1`; in a container, the last answer again while its repository is unchanged (heads.py)."""
        where = self.workdir(ref, path)
        return self.heads.head(where.view, lambda: self._run(where, "log", "-1", env=_NO_USER_CONFIG).output)

    def branches(self, ref: str | None, path: str | None, fetch: bool = False) -> list[str]:
        where = self.workdir(ref, path)
        if fetch:
            self._refuse_remote_commands(where)
            self._run(where, "fetch", "--all", "--prune")
        return parse_refs(self._run(where, *_LIST_REFS).stdout.decode("utf-8", "replace"))

    def current_branch(self, ref: str | None, path: str | None) -> str:
        """`symbolic-ref -q HEAD`: the branch even before the first commit (where `rev-parse
        --abbrev-ref HEAD` fails), and exit code 1 with no output when HEAD is detached."""
        result = self._run(self.workdir(ref, path), "symbolic-ref", "-q", "HEAD", ok=(0, 1))
        if result.exit_code == 1:
            return "HEAD"
        return result.stdout.decode("utf-8", "replace").strip().removeprefix("refs/heads/")

    def switch(self, ref: str | None, path: str | None, branch: str) -> str:
        """`git switch --end-of-options <branch>`: git 2.39's `checkout` ignores
        `--end-of-options`; `switch` honours it and makes a tracking branch for a remote-only
        one. The name is checked first: nothing, not even the inspect, runs for a bad one."""
        check_branch(branch)
        return self._run(self.workdir(ref, path), "switch", "--end-of-options", branch).output

    # -- where, and how outcomes become errors -------------------------------------------

    def workdir(self, ref: str | None, path: str | None) -> Workdir:
        """With `ref`: in that container (dockerlink's, running), default path its working
        directory. Without: on the host, only under `git_host_root`."""
        if path is not None:
            path = check_path(path)
        if ref is not None:
            details = require_owned(self.engine.containers.inspect(ref))
            if details.state != "running":
                name = details.name or details.id[:12]
                raise Conflicting(f"container {name} is {details.state or 'not running'}: start it to run git in it")
            runner = ContainerRunner(
                self.engine,
                details.id,
                self.config.git_timeout,
                self.config.instance,
                self.config.git_output_max,
                self._clock,
                ExecMarks(StateFiles.of(self.config).path("git_execs")),
            )
            where = path or details.working_dir or DEFAULT_PATH
            local = socket_path(self.engine.address) is not None  # mount sources are paths on this host
            view = host_view(details.id, details.started_at, details.mounts, where) if local else None
            return Workdir(runner, where, view, details.id)
        if self.config.git_host_root is None:
            raise Forbidden(
                "git without id runs on the host and is disabled: set git_host_root to a directory to enable it"
            )
        if path is None:
            raise InvalidInput("path", "is required without id (git on the host)")
        root = Path(self.config.git_host_root).resolve()
        resolved = Path(path).resolve()
        if not resolved.is_relative_to(root):
            raise Forbidden(f"path {path} resolves outside git_host_root ({root})")
        return Workdir(HostRunner(self.config.git_timeout, str(root), self.config.git_output_max), str(resolved))

    def _refuse_remote_commands(self, where: Workdir) -> None:
        """A repository (or the user's config) naming its own upload-pack or receive-pack
        command is refused: git would run it to reach the remote."""
        found = self._run(where, *_REMOTE_COMMANDS, ok=(0, 1))
        keys = sorted({name for name in found.stdout.decode("utf-8", "replace").split("\n") if name})
        if found.exit_code == 0 and keys:
            raise Conflicting(
                f"{', '.join(keys)[:200]} set: dockerlink runs no repository's own upload-pack or receive-pack"
                " command; unset it to pull or fetch"
            )

    def _run(
        self,
        where: Workdir,
        *args: str,
        cwd: str | None = None,
        ok: tuple[int, ...] = (0,),
        env: dict[str, str] | None = None,
    ) -> ExecResult:
        """Run `git <args>` in a slot; a timeout, a missing directory or user, or an exit code
        not in `ok` is its error."""
        cwd = cwd or where.path
        what = f"git on {where.site[:12]}" if where.site else "git on the host"
        with self._slots.hold(what, key=where.site, per_key=self.config.git_per_site):
            result = where.runner.git(args, cwd, env=env)
        if result.truncated:
            # What fit, and a last line saying so; the exit code is unknown (it was stopped).
            return replace(result, stderr=result.stderr + cut_notice(where.runner.output_max))
        if result.timed_out:
            raise GitTimeout(f"git {args[0]} ran past git_timeout ({where.runner.timeout:g} s) and was killed")
        if result.exit_code == 126 and "chdir" in result.output:
            # The engine's way of saying the working directory does not exist (HTTP 200, exit 126).
            raise InvalidInput("path", f"cannot work in {cwd}: {result.output.strip()}")
        if result.exit_code == 126 and "unable to find user" in result.output:
            raise MissingUser(
                f"the container's image has no user {SITE_USER}: git runs in a container only as the site's user"
            )
        if result.exit_code not in ok:
            raise GitFailed(result.output or _silent_exit(result.exit_code), result.exit_code)
        return result


def parse_refs(output: str) -> list[str]:
    """Local branches, then `remotes/<remote>/<branch>`, without symbolic refs (`origin/HEAD`)."""
    local: list[str] = []
    remote: list[str] = []
    for line in output.splitlines():
        refname, _, symref = line.partition("\t")
        if symref:
            continue
        if refname.startswith("refs/heads/"):
            local.append(refname.removeprefix("refs/heads/"))
        elif refname.startswith("refs/remotes/"):
            remote.append("remotes/" + refname.removeprefix("refs/remotes/"))
    return local + remote


def _silent_exit(code: int) -> str:
    if code == 137:
        return "git was killed (exit code 137) before git_timeout, e.g. by the out-of-memory killer\n"
    return f"git exited with code {code}\n"
