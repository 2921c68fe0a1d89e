"""Git in a container (through the engine's exec) or on the host (under `git_host_root`).

Every command is an argv list, never a shell string, run as
`git -c safe.directory=* …` (a site's repository belongs to the site's user, git runs as
root) with `GIT_TERMINAL_PROMPT=0` and a batch-mode ssh, so nothing ever waits for a
password. Branch names and paths are checked here, before anything runs.

How outcomes map to errors (and so to HTTP statuses in `resources/errors.py`):

- past `git_timeout` → `GitTimeout` (504); in a container the command runs under
  `timeout -k 5 <s>` because closing the exec connection never stops it;
- a working directory that does not exist → `InvalidInput("path")` (400): the engine
  answers 200 with exit code 126 and the runtime's "chdir … no such file or directory" on
  the output. Not 404, which the API keeps for "no such container";
- any other non-zero exit → `GitFailed` (412) with git's output;
- a container that is not running → `Conflicting` (409), one dockerlink did not create →
  `Forbidden` (403), id-less git while `git_host_root` is unset or a path resolving outside
  it (symlinks included) → `Forbidden` (403).
"""

from __future__ import annotations

import os
import posixpath
import re
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from .engine import KILL_AFTER, Engine, ExecResult
from .errors import Conflicting, Forbidden, GitFailed, GitTimeout, InvalidInput
from .hosting import WORKDIR
from .ownership import require_owned
from .services import Services

__all__ = [
    "GIT_ENV",
    "DEFAULT_PATH",
    "check_branch",
    "check_path",
    "git_argv",
    "is_git_exec",
    "pull_argv",
    "init_argv",
    "head_argv",
    "fetch_argv",
    "list_refs_argv",
    "current_branch_argv",
    "switch_argv",
    "parse_refs",
    "Runner",
    "ContainerRunner",
    "HostRunner",
    "Repository",
    "open_repository",
    "pull",
    "init",
    "head",
    "branches",
    "current_branch",
    "switch",
]

#: Environment of every git command: no prompt for a password, no interactive ssh.
GIT_ENV: Mapping[str, str] = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
}
#: Where git runs in a container whose image names no working directory.
DEFAULT_PATH = WORKDIR

# What `git check-ref-format --branch` refuses (git 2.39, refs.c: check_refname_component
# and strbuf_check_branch_ref), applied to the name under `refs/heads/`.
_FORBIDDEN_CHARS = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")


# --- validation -------------------------------------------------------------------------


def check_branch(name: object) -> str:
    """A branch name git's `check-ref-format --branch` accepts and that cannot be read as an
    option (no leading `-`); anything else is a 400 before git runs."""
    if not isinstance(name, str) or name == "":
        raise InvalidInput("branch", "is required")
    reason = _branch_problem(name)
    if reason:
        raise InvalidInput("branch", f"not a valid branch name ({reason}): {name[:80]!r}")
    return name


def _branch_problem(name: str) -> str | None:
    if name.startswith("-"):
        return "begins with '-'"
    if name == "HEAD":
        return "HEAD is not a branch"
    if _FORBIDDEN_CHARS.search(name):
        return "space, control character or one of ~ ^ : ? * [ \\"
    if ".." in name:
        return "contains '..'"
    if "@{" in name:
        return "contains '@{'"
    if name.endswith("."):
        return "ends with '.'"
    for component in name.split("/"):
        if component == "":
            return "empty path component ('/' at an end or '//')"
        if component.startswith("."):
            return "a component begins with '.'"
        if component.endswith(".lock"):
            return "a component ends with '.lock'"
    return None


def check_path(path: object) -> str:
    """An absolute path (git's working directory), normalised; relative ones are refused
    because they would depend on wherever the exec or the service happens to start."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise InvalidInput("path", f"must be an absolute path, got {str(path)[:80]!r}")
    if any(ord(c) < 0x20 or c == "\x7f" for c in path):
        raise InvalidInput("path", "must not contain control characters")
    return posixpath.normpath(path)


# --- argv -------------------------------------------------------------------------------


def git_argv(*args: str) -> list[str]:
    """`git -c safe.directory=* <args>`: root may work in a repository owned by another user."""
    return ["git", "-c", "safe.directory=*", *args]


def is_git_exec(argv: Sequence[str]) -> bool:
    """Whether an exec's argv is one of ours: `timeout -k … git -c safe.directory=* …`."""
    argv = list(argv)
    if argv[:1] != ["timeout"] or "git" not in argv:
        return False
    at = argv.index("git")
    return argv[at : at + 3] == git_argv()


def pull_argv() -> list[str]:
    return git_argv("pull")


def init_argv(path: str) -> list[str]:
    """`git init` creates `path` (and its parents) when missing."""
    return git_argv("init", "--", path)


def head_argv() -> list[str]:
    return git_argv("log", "-1")


def fetch_argv() -> list[str]:
    return git_argv("fetch", "--all", "--prune")


def list_refs_argv() -> list[str]:
    """Local and remote-tracking refs with their symbolic target (empty for real branches)."""
    return git_argv("for-each-ref", "--format=%(refname)%09%(symref)", "refs/heads", "refs/remotes")


def current_branch_argv() -> list[str]:
    """`symbolic-ref -q HEAD`: the branch even before the first commit (where `rev-parse
    --abbrev-ref HEAD` fails), and exit code 1 with no output when HEAD is detached."""
    return git_argv("symbolic-ref", "-q", "HEAD")


def switch_argv(branch: str) -> list[str]:
    """`git switch --end-of-options <branch>`: git 2.39's `checkout` ignores
    `--end-of-options`, `switch` honours it and makes a tracking branch for a remote-only one."""
    return git_argv("switch", "--end-of-options", check_branch(branch))


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


# --- runners ----------------------------------------------------------------------------


class Runner(Protocol):
    """Runs one argv in `cwd` to completion, within the timeout."""

    @property
    def timeout(self) -> float: ...

    def __call__(self, argv: Sequence[str], cwd: str) -> ExecResult: ...


@dataclass(frozen=True)
class ContainerRunner:
    """Through the engine's exec, as root, `Tty=false`, under `timeout -k` inside the container."""

    engine: Engine
    container: str
    timeout: float
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    def __call__(self, argv: Sequence[str], cwd: str) -> ExecResult:
        start = self.clock()
        result = self.engine.execs.run(self.container, argv, env=GIT_ENV, workdir=cwd, timeout=self.timeout)
        if result.exit_code == 137 and self.clock() - start < self.timeout:
            # SIGKILL before the limit came from elsewhere (the OOM killer, a stop), not from
            # `timeout`: a failure, not a 504. (124 is only ever `timeout`'s.)
            result = replace(result, timed_out=False)
        return result


@dataclass(frozen=True)
class HostRunner:
    """A subprocess in its own session: at the timeout its whole process group (git and the
    ssh or helpers it started) gets TERM, then KILL `kill_after` seconds later."""

    timeout: float
    kill_after: float = KILL_AFTER

    def __call__(self, argv: Sequence[str], cwd: str) -> ExecResult:
        try:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env=_host_env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            if exc.filename == cwd:
                raise InvalidInput("path", f"cannot work in {cwd} on the host: {exc.strerror}") from None
            if isinstance(exc, FileNotFoundError):
                return ExecResult(127, b"", f"{argv[0]}: not found on the host\n".encode())
            raise
        try:
            stdout, stderr = proc.communicate(timeout=self.timeout)
            return ExecResult(proc.returncode, stdout, stderr)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGTERM)
            try:
                stdout, stderr = proc.communicate(timeout=self.kill_after)
            except subprocess.TimeoutExpired:
                _signal_group(proc.pid, signal.SIGKILL)
                stdout, stderr = proc.communicate()
            _signal_group(proc.pid, signal.SIGKILL)  # helpers that ignored TERM
            return ExecResult(proc.returncode, stdout, stderr, timed_out=True)


def _host_env() -> dict[str, str]:
    """The service's environment without any GIT_* it may carry (GIT_DIR would redirect every
    command to another repository), plus GIT_ENV."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV)
    return env


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


# --- where git runs, and the operations -------------------------------------------------


@dataclass(frozen=True)
class Repository:
    """A working directory and the runner that reaches it."""

    runner: Runner
    path: str

    def run(self, argv: Sequence[str], cwd: str | None = None, ok: tuple[int, ...] = (0,)) -> ExecResult:
        """Run, and turn a timeout, a missing directory or an exit code not in `ok` into its error."""
        cwd = cwd or self.path
        result = self.runner(argv, cwd)
        if result.timed_out:
            raise GitTimeout(f"git {argv[3]} ran past git_timeout ({self.runner.timeout:g} s) and was killed")
        if result.exit_code == 126 and "chdir" in result.output:
            # The engine's way of saying the working directory does not exist (HTTP 200, exit 126).
            raise InvalidInput("path", f"cannot work in {cwd}: {result.output.strip()}")
        if result.exit_code not in ok:
            raise GitFailed(result.output or _silent_exit(result.exit_code), result.exit_code)
        return result

    def pull(self) -> str:
        return self.run(pull_argv()).output

    def init(self) -> None:
        # From `/`, which always exists: `git init` then creates the directory.
        self.run(init_argv(self.path), cwd="/")

    def head(self) -> str:
        return self.run(head_argv()).output

    def branches(self, fetch: bool = False) -> list[str]:
        if fetch:
            self.run(fetch_argv())
        return parse_refs(self.run(list_refs_argv()).stdout.decode("utf-8", "replace"))

    def current_branch(self) -> str:
        result = self.run(current_branch_argv(), ok=(0, 1))
        if result.exit_code == 1:
            return "HEAD"  # detached
        ref = result.stdout.decode("utf-8", "replace").strip()
        return ref.removeprefix("refs/heads/")

    def switch(self, branch: str) -> str:
        return self.run(switch_argv(branch)).output


def _silent_exit(code: int) -> str:
    if code == 137:
        return "git was killed (exit code 137) before git_timeout, e.g. by the out-of-memory killer\n"
    return f"git exited with code {code}\n"


def open_repository(services: Services, ref: str | None, path: str | None) -> Repository:
    """With `ref`: in that container (owned by dockerlink, running), default path its working
    directory. Without: on the host, only under `git_host_root`."""
    config = services.config
    if path is not None:
        path = check_path(path)
    if ref is not None:
        details = require_owned(services.engine.containers.inspect(ref))
        if details.state != "running":
            name = details.name or details.id[:12]
            raise Conflicting(f"container {name} is {details.state or 'not running'}: start it to run git in it")
        runner = ContainerRunner(services.engine, details.id, config.git_timeout)
        return Repository(runner, path or details.working_dir or DEFAULT_PATH)
    if config.git_host_root is None:
        raise Forbidden(
            "git without id runs on the host and is disabled: set git_host_root to a directory to enable it"
        )
    if path is None:
        raise InvalidInput("path", "is required without id (git on the host)")
    root = Path(config.git_host_root).resolve()
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(root):
        raise Forbidden(f"path {path} resolves outside git_host_root ({root})")
    return Repository(HostRunner(config.git_timeout), str(resolved))


# The service functions the resources call: one call each.


def pull(services: Services, ref: str | None, path: str | None) -> str:
    return open_repository(services, ref, path).pull()


def init(services: Services, ref: str | None, path: str | None) -> None:
    open_repository(services, ref, path).init()


def head(services: Services, ref: str | None, path: str | None) -> str:
    return open_repository(services, ref, path).head()


def branches(services: Services, ref: str | None, path: str | None, fetch: bool = False) -> list[str]:
    return open_repository(services, ref, path).branches(fetch)


def current_branch(services: Services, ref: str | None, path: str | None) -> str:
    return open_repository(services, ref, path).current_branch()


def switch(services: Services, ref: str | None, path: str | None, branch: str) -> str:
    """Check the name first: nothing (not even the inspect) runs for a bad one."""
    check_branch(branch)
    return open_repository(services, ref, path).switch(branch)
