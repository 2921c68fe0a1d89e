"""Git execs left running at shutdown are found through the engine and their groups killed."""

from __future__ import annotations

import os
import signal
import subprocess
from types import SimpleNamespace

from dockerlink.engine import EngineUnavailable, ExecInfo, NotFound
from dockerlink.git import container_argv as git_argv
from dockerlink.git import is_git_exec, stop_orphan_git_execs


def test_only_dockerlinks_timed_git_commands_are_recognised():
    assert is_git_exec(["timeout", "-k", "5", "120", *git_argv("pull")])
    assert not is_git_exec(git_argv("pull"))
    assert not is_git_exec(["timeout", "5", "git", "pull"])
    assert not is_git_exec(["sh", "-c", "git -c safe.directory=* pull"])
    assert not is_git_exec([])


class StubEngine:
    def __init__(self, execs: dict[str, ExecInfo], up: bool = True) -> None:
        self.up = up
        self._execs = execs
        self.containers = SimpleNamespace(list=self._list, inspect=self._inspect)
        self.execs = SimpleNamespace(inspect=self._exec)

    def _exec(self, exec_id: str) -> ExecInfo:
        if exec_id not in self._execs:
            raise NotFound(404, f"No such exec instance: {exec_id}")
        return self._execs[exec_id]

    def _list(self, all, filters):  # noqa: A002, ANN001
        if not self.up:
            raise EngineUnavailable("down")
        assert filters == {"label": ["dockerlink"]} and all is False
        return [SimpleNamespace(id="c1", name="site")]

    def _inspect(self, ref):  # noqa: ANN001
        return SimpleNamespace(exec_ids=(*self._execs, "d" * 64))  # "d…": an exec that just ended


def _group_leader(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, start_new_session=True)


def test_running_git_execs_have_their_process_group_killed_and_others_are_left_alone():
    ours = _group_leader(["sleep", "60"])
    theirs = _group_leader(["sleep", "60"])
    try:
        execs = {
            "a" * 64: ExecInfo("a" * 64, "c1", True, None, ours.pid, ("timeout", "-k", "5", "9", *git_argv("pull"))),
            "b" * 64: ExecInfo("b" * 64, "c1", True, None, theirs.pid, ("sleep", "60")),
            "c" * 64: ExecInfo("c" * 64, "c1", False, 0, 0, ("timeout", "-k", "5", "9", *git_argv("pull"))),
        }
        assert stop_orphan_git_execs(StubEngine(execs)) == 1
        assert ours.wait(timeout=5) == -signal.SIGKILL
        assert theirs.poll() is None
    finally:
        for p in (ours, theirs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def test_an_unreachable_engine_is_logged_not_raised():
    assert stop_orphan_git_execs(StubEngine({}, up=False)) == 0
