"""Where a git command runs: in a container through the engine's exec, or on the host as a
subprocess. A runner turns git's arguments into the full argv (the forced options differ)
and runs it to completion within its timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from ..engine import KILL_AFTER, Engine, ExecResult
from ..errors import InvalidInput

__all__ = ["GIT_ENV", "Runner", "ContainerRunner", "HostRunner", "container_argv", "is_git_exec"]

#: Environment of every git command: no prompt for a password, no interactive ssh.
GIT_ENV: Mapping[str, str] = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
}


class Runner(Protocol):
    """Runs `git <args>` in `cwd` to completion, within the timeout."""

    @property
    def timeout(self) -> float: ...

    def git(self, args: Sequence[str], cwd: str) -> ExecResult: ...


def container_argv(*args: str) -> list[str]:
    """`git -c safe.directory=* <args>`: root may work in a repository owned by the site's user."""
    return ["git", "-c", "safe.directory=*", *args]


def is_git_exec(argv: Sequence[str]) -> bool:
    """Whether an exec's argv is one of ours: `timeout -k … git -c safe.directory=* …`."""
    argv = list(argv)
    if argv[:1] != ["timeout"] or "git" not in argv:
        return False
    at = argv.index("git")
    return argv[at : at + 3] == container_argv()


@dataclass(frozen=True)
class ContainerRunner:
    """Through the engine's exec, as root, `Tty=false`, under `timeout -k` inside the container."""

    engine: Engine
    container: str
    timeout: float
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)

    def git(self, args: Sequence[str], cwd: str) -> ExecResult:
        start = self.clock()
        result = self.engine.execs.run(
            self.container, container_argv(*args), env=GIT_ENV, workdir=cwd, timeout=self.timeout
        )
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

    def git(self, args: Sequence[str], cwd: str) -> ExecResult:
        return self.run(container_argv(*args), cwd)

    def run(self, argv: Sequence[str], cwd: str) -> ExecResult:
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
