"""The commands check and the start script, run by the host's real shell (dash, as the base
image's /bin/sh) with a stand-in keep-alive: whatever a command does, the keep-alive runs."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dockerlink.errors import InvalidInput
from dockerlink.hosting.commands import check_commands, start_script, syntax_error
from tests.waiting import until

SHELL = shutil.which("dash") or "/bin/sh"


@pytest.mark.parametrize(
    "command", ["a & && b", "if true", "echo 'unclosed", "echo $(", "a=(1 2)", "`", "case x in", "{ a; "]
)
def test_a_command_the_shell_cannot_read_is_refused_naming_its_entry(command):
    with pytest.raises(InvalidInput) as exc:
        check_commands(["echo first", command])
    assert str(exc.value).startswith("commands: commands[1] is not valid sh: ")
    assert "Syntax error" in str(exc.value)


@pytest.mark.parametrize(
    "command",
    [
        "sleep 1000 &",
        "exit 3",
        "exec sleep 1",
        "set -e; false",
        "eval 'if'",
        "kill $$",
        "sleep infinity",
        "echo 'a \"b\" c' > /tmp/x; cat <<EOF\nline\nEOF",
        "--help",
        "-c 'x'",
        "f() { :; }; f",
    ],
)
def test_commands_the_shell_can_read_are_accepted_as_given(command):
    assert check_commands([command]) == (command,)


def test_the_text_reaches_the_shell_through_stdin_never_as_an_option():
    # As an argument, "-c" would be an option and 'exit 1' a script; read from stdin it is
    # an ordinary command line.
    assert syntax_error("-c 'exit 1'") is None
    assert syntax_error("--version") is None


def test_the_whole_script_must_fit_one_argv_string():
    with pytest.raises(InvalidInput, match="together too long"):
        check_commands(["x" * 8000 for _ in range(17)])
    assert len(check_commands(["x" * 8000 for _ in range(15)])) == 15


def _run(commands: list[str], tmp_path: Path, keepalive_marker: str = "alive") -> subprocess.Popen:
    """The start script under the host's sh with a keep-alive that writes a file and stays."""
    env = {**os.environ, "OUT": str(tmp_path)}
    keepalive = ["sh", "-c", f'echo up > "$OUT/{keepalive_marker}"; exec sleep 30']
    return subprocess.Popen(
        [SHELL, "-c", start_script(commands), "dockerlink-start", *keepalive], env=env, start_new_session=True
    )


def _wait_for(path: Path) -> str:
    until(lambda: path.exists() and path.read_text(), f"{path.name} to appear")
    return path.read_text()


def _others_in_group(group: int) -> list[str]:
    """Live processes of the group but its leader (the keep-alive: a stand-in that, unlike
    sshd, leaves its children unreaped)."""
    others = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == group and int(stat.parent.name) != group:
            others.append(stat.parent.name)
    return others


def _wait_until_only_the_keepalive_is_left(group: int) -> None:
    until(lambda: not _others_in_group(group), "the background commands to end")


@pytest.mark.parametrize(
    "command", ["exit 3", "exec sleep 1", "set -e; false", "eval 'if'", "sleep 1000 &", "sleep infinity", "kill $$"]
)
def test_whatever_a_command_does_the_keepalive_becomes_the_main_process(tmp_path, command):
    proc = _run([command, 'echo after >> "$OUT/after"'], tmp_path)
    try:
        assert _wait_for(tmp_path / "alive") == "up\n"

        # the script exec'd the keep-alive: the process started is now it, not a shell (the
        # marker is written just before the stand-in's own `exec sleep`: wait for that exec)
        def exec_done() -> bool:
            assert proc.poll() is None, "the script ended"
            return Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", b"30"]

        until(exec_done, "the stand-in keep-alive's own exec")
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def test_commands_run_in_order_each_after_the_previous_one_succeeded(tmp_path):
    proc = _run(
        [
            'echo one >> "$OUT/log"',
            'sleep 0.3; echo two >> "$OUT/log"',
            'sleep 60 & echo three >> "$OUT/log"',  # a trailing job stays in the background
            'echo four >> "$OUT/log"; echo done > "$OUT/done"',
        ],
        tmp_path,
    )
    try:
        _wait_for(tmp_path / "done")
        assert (tmp_path / "log").read_text() == "one\ntwo\nthree\nfour\n"
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def test_a_failing_command_stops_the_ones_after_it_as_the_original_and(tmp_path):
    proc = _run(['echo one >> "$OUT/log"', "exit 3", 'echo never >> "$OUT/log"'], tmp_path)
    try:
        _wait_for(tmp_path / "alive")
        _wait_until_only_the_keepalive_is_left(proc.pid)
        assert (tmp_path / "log").read_text() == "one\n"
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
