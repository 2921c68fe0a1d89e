"""A site's `commands`: checked at create, and the start script no command can break.

The start script runs the site's starter file and each command in the background, in
order, each in its own `sh -c` (so `exit`, `exec`, `set -e`, a syntax error met at run
time, a trailing `&` or `kill $$` ends that command only), and execs the image's
keep-alive right away: a command that never returns holds back the commands after it,
never SSH. A command that fails stops the ones after it, as the original's `&&` did.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Sequence

from ..errors import InvalidInput

__all__ = [
    "MAX_COMMANDS",
    "MAX_COMMAND_LENGTH",
    "MAX_SCRIPT_BYTES",
    "STARTER",
    "check_commands",
    "commands_of",
    "start_script",
]

MAX_COMMANDS = 64
MAX_COMMAND_LENGTH = 8192
#: The start script is one argv string: Linux refuses a longer one (MAX_ARG_STRLEN, 128 KiB
#: with its NUL) and the container would fail at every start.
MAX_SCRIPT_BYTES = 131071
#: The site's own start file, in its volume (`operations.WWW`).
STARTER = "/var/www/starter.sh"
_SYNTAX_TIMEOUT = 10.0


def start_script(commands: Sequence[str]) -> str:
    """The `sh -c` script of a hosting container; the keep-alive argv follows as "$@".

    Each command is one single-quoted word given to its own `sh -c`: its text is parsed
    only by that shell, when it runs, never by this script."""
    steps = [f"[ -f {STARTER} ] && sh {STARTER}"]
    if commands:
        steps.append(" && ".join(f"sh -c {shlex.quote(c)}" for c in commands))
    return "( " + "; ".join(steps) + '; ) & exec "$@"'


def commands_of(script: str) -> tuple[str, ...] | None:
    """The commands `start_script` made `script` from (a site moved to another host keeps
    them); None when `script` is not one of its scripts."""
    head, tail = f"( [ -f {STARTER} ] && sh {STARTER}", '; ) & exec "$@"'
    if not (script.startswith(head) and script.endswith(tail)):
        return None
    middle = script[len(head) : -len(tail)]
    try:
        words = shlex.split(middle.removeprefix("; "))
    except ValueError:
        return None
    commands = tuple(words[i + 2] for i in range(0, len(words) - 2, 4))
    return commands if start_script(commands) == script else None


def check_commands(value: object) -> tuple[str, ...]:
    """`commands` of a create body: a list of strings, each valid `sh` (400 naming the first
    that is not), together small enough to start."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise InvalidInput("commands", "expected a list of shell commands (strings)")
    if len(value) > MAX_COMMANDS:
        raise InvalidInput("commands", f"at most {MAX_COMMANDS} commands")
    for c in value:
        if not c.strip() or len(c) > MAX_COMMAND_LENGTH or "\0" in c:
            raise InvalidInput("commands", f"each command must be non-empty text under {MAX_COMMAND_LENGTH} characters")
    for i, c in enumerate(value):
        problem = syntax_error(c)
        if problem:
            raise InvalidInput("commands", f"commands[{i}] is not valid sh: {problem}")
    if len(start_script(value).encode()) > MAX_SCRIPT_BYTES:
        raise InvalidInput("commands", f"together too long: the start script must stay under {MAX_SCRIPT_BYTES} bytes")
    return tuple(value)


def _checker() -> str:
    """dash, the base image's /bin/sh, when the host has it; else the host's sh."""
    return shutil.which("dash") or "/bin/sh"


def syntax_error(command: str) -> str | None:
    """The shell's complaint about `command` (read with `-n`: parsed, never run), or None.

    The text goes through stdin, never argv, so nothing in it is an option or a path."""
    try:
        r = subprocess.run(
            [_checker(), "-n"], input=command.encode(), capture_output=True, timeout=_SYNTAX_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return "the shell took too long to read it"
    if r.returncode == 0:
        return None
    lines = r.stderr.decode(errors="replace").strip().splitlines()
    return (lines[-1] if lines else f"exit {r.returncode}")[:200]
