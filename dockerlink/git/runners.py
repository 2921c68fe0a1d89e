"""Where a git command runs: in a container through the engine's exec, or on the host as a
subprocess. A runner turns git's arguments into the full argv (the forced options differ),
runs it to completion within its timeout, and reads at most `output_max` bytes of its
output: past that it stops reading, stops the command, and answers what fit
(`ExecResult.truncated`).

Git never runs as root for someone else's repository. In a container it runs as the site's
user (`SITE_USER`, whose HOME the runtime takes from the container's /etc/passwd), never as
root: the repository, its config and hooks are that user's, and as root they made the site
owner root in its own container. It gets `-c safe.directory=*` (a repository may belong to
another user of the container) and `-c dockerlink.instance=<instance>`, the mark that lets
this service's shutdown kill its own execs and nobody else's. On the host it runs as the
owner of the working directory (root only if root owns it); git does not look above
`git_host_root` for a repository, and the repository it finds must be under it.

In both, `FORCED_OPTIONS` come first on the command line, over anything a repository says:
no fsmonitor command, no hooks, no `ext::` remotes, no implicit bare repositories.
"""

from __future__ import annotations

import os
import pwd
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from ..access.login import USER as SITE_USER
from ..engine import KILL_AFTER, Engine, EngineError, ExecResult, ExecStalled, socket_path
from ..errors import Forbidden, InvalidInput
from .marks import ExecMarks

__all__ = [
    "FORCED_OPTIONS",
    "GIT_ENV",
    "SITE_USER",
    "Runner",
    "ContainerRunner",
    "HostRunner",
    "container_argv",
    "cut_notice",
    "is_git_exec",
    "kill_exec",
]

#: Environment of every git command: no prompt for a password, no interactive ssh.
GIT_ENV: Mapping[str, str] = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
}
#: Forced on every git command, in a container and on the host, over anything a
#: repository's config says: each of these runs a command of the repository's choosing.
FORCED_OPTIONS = (
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "protocol.ext.allow=never",
    "-c",
    "safe.bareRepository=explicit",
)
_READ = 1 << 16


def cut_notice(limit: int) -> bytes:
    """The last line of an answer whose output was cut."""
    return f"\n[dockerlink: output cut at {limit} bytes (git_output_max); the command was stopped]\n".encode()


class Runner(Protocol):
    """Runs `git <args>` in `cwd` to completion, within the timeout, reading at most
    `output_max` bytes of its output."""

    @property
    def timeout(self) -> float: ...

    @property
    def output_max(self) -> int: ...

    def git(self, args: Sequence[str], cwd: str, env: Mapping[str, str] | None = None) -> ExecResult: ...


def container_argv(instance: str, *args: str) -> list[str]:
    """`git <FORCED_OPTIONS> -c safe.directory=* -c dockerlink.instance=<instance> <args>`."""
    return ["git", *FORCED_OPTIONS, "-c", "safe.directory=*", "-c", f"dockerlink.instance={instance}", *args]


def is_git_exec(argv: Sequence[str], instance: str) -> bool:
    """Whether an exec's argv is one of this instance's: `timeout -k … <container_argv>`."""
    argv = list(argv)
    if argv[:1] != ["timeout"] or "git" not in argv:
        return False
    at = argv.index("git")
    mark = container_argv(instance)
    return argv[at : at + len(mark)] == mark


@dataclass(frozen=True)
class ContainerRunner:
    """Through the engine's exec, as `SITE_USER`, `Tty=false`, under `timeout -k` inside the
    container. An image without that user: exit code 126 and the runtime's "unable to find
    user" on the output (the service's `MissingUser`)."""

    engine: Engine
    container: str
    timeout: float
    instance: str
    output_max: int
    clock: Callable[[], float] = field(default=time.monotonic, compare=False)
    marks: ExecMarks | None = field(default=None, compare=False)  # where the exit looks for orphans

    def git(self, args: Sequence[str], cwd: str, env: Mapping[str, str] | None = None) -> ExecResult:
        if self.marks is None:
            return self._git(args, cwd, env)
        with self.marks.held(self.container):
            return self._git(args, cwd, env)

    def _git(self, args: Sequence[str], cwd: str, env: Mapping[str, str] | None) -> ExecResult:
        start = self.clock()
        try:
            result = self.engine.execs.run(
                self.container,
                container_argv(self.instance, *args),
                env={**GIT_ENV, **(env or {})},
                user=SITE_USER,
                workdir=cwd,
                timeout=self.timeout,
                max_output=self.output_max,
            )
        except ExecStalled as exc:
            # `timeout` could not act (missing, or a process it cannot kill): the engine is
            # there, the command is past its limit. Kill it here, answer a timeout.
            kill_exec(self.engine, exc.exec_id)
            return ExecResult(137, b"", b"", timed_out=True, exec_id=exc.exec_id)
        if result.truncated:
            kill_exec(self.engine, result.exec_id)  # nobody reads the rest
            return result
        if result.exit_code == 137 and self.clock() - start < self.timeout:
            # SIGKILL before the limit came from elsewhere (the OOM killer, a stop), not from
            # `timeout`: a failure, not a 504. (124 is only ever `timeout`'s.)
            result = replace(result, timed_out=False)
        return result


@dataclass(frozen=True)
class HostRunner:
    """A subprocess in its own session, as the owner of the working directory: at the
    timeout its whole process group (git and the ssh or helpers it started) gets TERM, then
    KILL `kill_after` seconds later; past `output_max` bytes of output, KILL at once."""

    timeout: float
    root: str = "/"
    output_max: int = 8 << 20
    kill_after: float = KILL_AFTER

    def git(self, args: Sequence[str], cwd: str, env: Mapping[str, str] | None = None) -> ExecResult:
        """`git <FORCED_OPTIONS> <args>` in `cwd`, after checking that the repository git finds
        there is under `root` (`init` is checked where it will create or reuse one)."""
        init = list(args[:1]) == ["init"]
        where = args[-1] if init else cwd
        if not init or os.path.lexists(os.path.join(where, ".git")):
            found = self.run(["git", *FORCED_OPTIONS, "rev-parse", "--absolute-git-dir"], where)
            if found.exit_code != 0 or found.timed_out:
                return found
            self._check_under_root(found.stdout.decode("utf-8", "replace").strip(), where)
        return self.run(["git", *FORCED_OPTIONS, *args], cwd, owner_of=where, env=env)

    def _check_under_root(self, git_dir: str, where: str) -> None:
        resolved = Path(git_dir).resolve()
        if not resolved.is_relative_to(Path(self.root).resolve()):
            raise Forbidden(f"the repository of {where} is {resolved}, outside git_host_root ({self.root})")

    def run(
        self, argv: Sequence[str], cwd: str, owner_of: str | None = None, env: Mapping[str, str] | None = None
    ) -> ExecResult:
        """Run any argv in `cwd` as the owner of `owner_of` (default `cwd`), `env` on top."""
        user = _owner(owner_of or cwd)
        try:
            proc = subprocess.Popen(
                list(argv),
                cwd=cwd,
                env={**self._env(user), **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                **_as_user(user),
            )
        except OSError as exc:
            if exc.filename == cwd:
                raise InvalidInput("path", f"cannot work in {cwd} on the host: {exc.strerror}") from None
            if isinstance(exc, FileNotFoundError):
                return ExecResult(127, b"", f"{argv[0]}: not found on the host\n".encode())
            raise
        return self._wait(proc)

    def _env(self, user: pwd.struct_passwd | None) -> dict[str, str]:
        """The service's environment without any GIT_* it may carry (GIT_DIR would redirect
        every command to another repository), plus GIT_ENV, a ceiling at the root's parent
        (git looks no higher for a repository), and the user's own HOME."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "XDG_CONFIG_HOME"))}
        env.update(GIT_ENV)
        env["GIT_CEILING_DIRECTORIES"] = str(Path(self.root).resolve().parent)
        if user is not None:
            env.update(HOME=user.pw_dir, USER=user.pw_name, LOGNAME=user.pw_name)
        return env

    def _wait(self, proc: subprocess.Popen) -> ExecResult:
        with _Reader(proc, self.output_max) as reader:
            return self._wait_reading(proc, reader)

    def _wait_reading(self, proc: subprocess.Popen, reader: _Reader) -> ExecResult:
        if reader.until(time.monotonic() + self.timeout):
            return ExecResult(proc.wait(), *reader.output())
        if reader.cut:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait()
            return ExecResult(-1, *reader.output(), truncated=True)
        _signal_group(proc.pid, signal.SIGTERM)
        if not reader.until(time.monotonic() + self.kill_after):
            _signal_group(proc.pid, signal.SIGKILL)
        _signal_group(proc.pid, signal.SIGKILL)  # helpers that ignored TERM
        reader.until(time.monotonic() + 1)
        proc.wait()
        return ExecResult(proc.returncode, *reader.output(), timed_out=True)


class _Reader:
    """Both pipes of a process, read as they fill, keeping at most `limit` bytes in all."""

    def __init__(self, proc: subprocess.Popen, limit: int) -> None:
        self.limit = limit
        self.cut = False
        self._kept = {proc.stdout: bytearray(), proc.stderr: bytearray()}
        self._selector = selectors.DefaultSelector()
        for pipe in self._kept:
            self._selector.register(pipe, selectors.EVENT_READ)

    def until(self, deadline: float) -> bool:
        """Read until both pipes end (True), the deadline passes or the limit is passed (False)."""
        while self._selector.get_map() and not self.cut:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            for key, _ in self._selector.select(remaining):
                chunk = os.read(key.fd, _READ)
                if not chunk:
                    self._selector.unregister(key.fileobj)
                    key.fileobj.close()
                    continue
                room = self.limit - sum(len(b) for b in self._kept.values())
                if len(chunk) > room:
                    chunk, self.cut = chunk[:room], True
                self._kept[key.fileobj].extend(chunk)
        return not self.cut

    def output(self) -> tuple[bytes, bytes]:
        out, err = self._kept.values()
        return bytes(out), bytes(err)

    def __enter__(self) -> _Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._selector.close()
        for pipe in self._kept:
            pipe.close()


def _owner(path: str) -> pwd.struct_passwd | None:
    """Who git runs as for `path` (its nearest existing ancestor when it does not exist yet):
    its owner; None when that is the service's own user (nothing to change)."""
    at = Path(path)
    while not at.exists() and at != at.parent:
        at = at.parent
    uid = at.stat().st_uid
    if uid == os.geteuid():
        return None
    if os.geteuid() != 0:
        raise Forbidden(f"{path} belongs to uid {uid}: the service can run git only as its own user here")
    try:
        return pwd.getpwuid(uid)
    except KeyError:
        return pwd.struct_passwd((f"uid{uid}", "x", uid, at.stat().st_gid, "", "/nonexistent", "/bin/false"))


def _as_user(user: pwd.struct_passwd | None) -> dict[str, object]:
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": os.getgrouplist(user.pw_name, user.pw_gid)}


def kill_exec(engine: Engine, exec_id: str) -> bool:
    """Kill a running exec's process group (`timeout` makes one, with git and ssh in it);
    whether it did. Only on the engine's own host (a unix socket), where the exec's pid is
    one of ours to signal: with a remote engine the command ends at its own timeout."""
    if socket_path(engine.address) is None:
        return False
    try:
        info = engine.execs.inspect(exec_id)
    except EngineError:
        return False
    if not (info.running and info.pid):
        return False
    try:
        os.killpg(info.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
