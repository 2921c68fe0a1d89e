"""Git execs left running at shutdown are found through the engine and their groups killed."""

from __future__ import annotations

import os
import signal
import subprocess
from types import SimpleNamespace

from dockerlink.engine import EngineUnavailable, ExecInfo, NotFound
from dockerlink.git import container_argv, is_git_exec, stop_orphan_git_execs

ME = "host-a/127.0.0.1:7200"
OTHER = "host-a/127.0.0.1:7300"


def git_argv(*args: str, instance: str = ME) -> list[str]:
    return container_argv(instance, *args)


def test_only_this_instances_timed_git_commands_are_recognised():
    assert is_git_exec(["timeout", "-k", "5", "120", *git_argv("pull")], ME)
    assert not is_git_exec(["timeout", "-k", "5", "120", *git_argv("pull", instance=OTHER)], ME)
    assert not is_git_exec(["timeout", "-k", "5", "120", "git", "-c", "safe.directory=*", "pull"], ME)
    assert not is_git_exec(git_argv("pull"), ME)
    assert not is_git_exec(["timeout", "5", "git", "pull"], ME)
    assert not is_git_exec(["sh", "-c", "git -c safe.directory=* pull"], ME)
    assert not is_git_exec([], ME)


class StubEngine:
    def __init__(self, execs: dict[str, ExecInfo], up: bool = True, address: str = "/var/run/docker.sock") -> None:
        self.up = up
        self.address = address
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
        assert stop_orphan_git_execs(StubEngine(execs), ME) == 1
        assert ours.wait(timeout=5) == -signal.SIGKILL
        assert theirs.poll() is None
    finally:
        for p in (ours, theirs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def test_an_unreachable_engine_is_logged_not_raised():
    assert stop_orphan_git_execs(StubEngine({}, up=False), ME) == 0


def test_another_instances_git_execs_on_the_same_engine_are_left_running():
    mine = _group_leader(["sleep", "60"])
    theirs = _group_leader(["sleep", "60"])
    try:
        argv = ("timeout", "-k", "5", "9")
        execs = {
            "a" * 64: ExecInfo("a" * 64, "c1", True, None, mine.pid, (*argv, *git_argv("pull"))),
            "b" * 64: ExecInfo("b" * 64, "c1", True, None, theirs.pid, (*argv, *git_argv("pull", instance=OTHER))),
        }
        assert stop_orphan_git_execs(StubEngine(execs), ME) == 1
        assert mine.wait(timeout=5) == -signal.SIGKILL
        assert theirs.poll() is None
    finally:
        for p in (mine, theirs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def test_with_a_remote_engine_no_local_process_is_signalled():
    bystander = _group_leader(["sleep", "60"])
    try:
        execs = {
            "a" * 64: ExecInfo("a" * 64, "c1", True, None, bystander.pid, ("timeout", "-k", "5", "9", *git_argv()))
        }
        assert stop_orphan_git_execs(StubEngine(execs, address="tcp://10.0.0.2:2375"), ME) == 0
        assert bystander.poll() is None
    finally:
        os.killpg(bystander.pid, signal.SIGKILL)
        bystander.wait()


def test_gunicorn_has_no_shared_control_socket():
    import gunicorn.config

    from dockerlink import gunicorn_conf

    # The setting's name in the installed gunicorn, and dockerlink's configuration sets it.
    assert any(s.name == "control_socket_disable" for s in gunicorn.config.KNOWN_SETTINGS)
    assert gunicorn_conf.control_socket_disable is True
