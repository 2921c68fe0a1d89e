"""Exec endpoints, and `run()`: one command to completion with its exit code and output.

Facts of the engine that shape `run()`: closing the connection never stops an exec, so a
timeout has to act inside the container (coreutils `timeout`, exit 124, or 137 after the
kill); a missing binary or working directory answers 200 with exit code 126 and the error
on the output; exec in a container that is not running is a 409.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .errors import EngineTimeout, ExecStalled
from .frames import Demultiplexer
from .models import ExecInfo, ExecResult
from .refs import check_container_ref, check_exec_id
from .transport import DEFAULT_TIMEOUT, Transport

__all__ = ["Execs", "TIMEOUT_EXIT_CODES", "KILL_AFTER", "READ_GRACE"]

#: Exit codes of `timeout -k`: 124 when the command was stopped by TERM, 137 by KILL.
TIMEOUT_EXIT_CODES = frozenset({124, 137})
#: Seconds between TERM and KILL for a command past its timeout.
KILL_AFTER = 5
#: Seconds the stream's read timeout allows beyond the timeout and KILL_AFTER: past them the
#: in-container `timeout` could not act (missing, or a process it cannot kill), and the exec
#: is reported stalled instead of the engine unreachable.
READ_GRACE = 15.0


class Execs:
    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def create(
        self,
        container: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
        user: str | None = None,
    ) -> str:
        body: dict[str, object] = {
            "Cmd": list(argv),
            "AttachStdin": False,
            "AttachStdout": True,
            "AttachStderr": True,
            "Tty": False,  # with a tty git waits on prompts and pagers, and streams merge
        }
        if env:
            body["Env"] = [f"{k}={v}" for k, v in env.items()]
        if workdir:
            body["WorkingDir"] = workdir
        if user:
            body["User"] = user
        r = self._t.request("POST", ["containers", check_container_ref(container), "exec"], json=body)
        return r.json()["Id"]

    def start(self, exec_id: str, read_timeout: float | None = None) -> bytes:
        """Start and wait for the end of its output; returns the raw framed stream."""
        timeout = (DEFAULT_TIMEOUT[0], read_timeout or DEFAULT_TIMEOUT[1])
        r = self._t.request(
            "POST",
            ["exec", check_exec_id(exec_id), "start"],
            json={"Detach": False, "Tty": False},
            timeout=timeout,
        )
        return r.content

    def inspect(self, exec_id: str) -> ExecInfo:
        return ExecInfo.from_api(self._t.request("GET", ["exec", check_exec_id(exec_id), "json"]).json())

    def run(
        self,
        container: str,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        workdir: str | None = None,
        user: str | None = None,
        timeout: float | None = None,
        max_output: int | None = None,
    ) -> ExecResult:
        """Run `argv` to completion. With `timeout`, it runs under coreutils `timeout` inside
        the container (which the image must have) and `timed_out` tells if it was killed; a
        stream still open `KILL_AFTER + READ_GRACE` seconds later raises ExecStalled. With
        `max_output`, reading stops past that many bytes: the result is `truncated`, with
        what fit, and the command may still be running (ask `exec_id`'s inspect)."""
        if timeout is not None:
            argv = ["timeout", "-k", str(KILL_AFTER), f"{timeout:g}", *argv]
            read_timeout = timeout + KILL_AFTER + READ_GRACE
        else:
            read_timeout = DEFAULT_TIMEOUT[1]
        exec_id = self.create(container, argv, env=env, workdir=workdir, user=user)
        output = Demultiplexer(max_output)
        try:
            with self._t.stream(
                "POST",
                ["exec", check_exec_id(exec_id), "start"],
                json={"Detach": False, "Tty": False},
                timeout=(DEFAULT_TIMEOUT[0], read_timeout),
            ) as answer:
                for chunk in answer.chunks(1 << 16):
                    if not output.feed(chunk):
                        break
        except EngineTimeout as exc:
            raise ExecStalled(f"exec {exec_id[:12]} sent nothing for {read_timeout:g} s", exec_id) from exc
        stdout, stderr = output.close()
        if output.truncated:
            return ExecResult(-1, stdout, stderr, truncated=True, exec_id=exec_id)
        code = self.inspect(exec_id).exit_code
        exit_code = int(code) if code is not None else -1
        return ExecResult(
            exit_code=exit_code,
            stdout=stdout,
            stderr=stderr,
            timed_out=timeout is not None and exit_code in TIMEOUT_EXIT_CODES,
            exec_id=exec_id,
        )
