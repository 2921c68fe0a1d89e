"""Git execs left running at shutdown are found through the engine and their groups killed,
looking only in the containers a worker marked while an exec ran in them."""

from __future__ import annotations

import os
import signal
import subprocess
from types import SimpleNamespace

import pytest

from dockerlink.engine import EngineUnavailable, ExecInfo, ExecResult, NotFound
from dockerlink.git import ContainerRunner, ExecMarks, container_argv, is_git_exec, stop_orphan_git_execs

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
        self.inspected: list[str] = []
        self.containers = SimpleNamespace(inspect=self._inspect)
        self.execs = SimpleNamespace(inspect=self._exec)

    def _exec(self, exec_id: str) -> ExecInfo:
        if exec_id not in self._execs:
            raise NotFound(404, f"No such exec instance: {exec_id}")
        return self._execs[exec_id]

    def _inspect(self, ref):  # noqa: ANN001
        if not self.up:
            raise EngineUnavailable("down")
        self.inspected.append(ref)
        if ref != "c1":
            raise NotFound(404, f"No such container: {ref}")
        return SimpleNamespace(exec_ids=(*self._execs, "d" * 64))  # "d…": an exec that just ended


def marked(tmp_path, *containers: str) -> ExecMarks:
    """Marks as a worker that died during an exec in each container left them."""
    (tmp_path / "marks").mkdir(exist_ok=True)
    for c in containers:
        (tmp_path / "marks" / f"{c}.0a1b2c").touch()
    return ExecMarks(tmp_path / "marks")


def _group_leader(cmd: list[str]) -> subprocess.Popen:
    return subprocess.Popen(cmd, start_new_session=True)


def test_running_git_execs_have_their_process_group_killed_and_others_are_left_alone(tmp_path):
    ours = _group_leader(["sleep", "60"])
    theirs = _group_leader(["sleep", "60"])
    try:
        execs = {
            "a" * 64: ExecInfo("a" * 64, "c1", True, None, ours.pid, ("timeout", "-k", "5", "9", *git_argv("pull"))),
            "b" * 64: ExecInfo("b" * 64, "c1", True, None, theirs.pid, ("sleep", "60")),
            "c" * 64: ExecInfo("c" * 64, "c1", False, 0, 0, ("timeout", "-k", "5", "9", *git_argv("pull"))),
        }
        engine = StubEngine(execs)
        assert stop_orphan_git_execs(engine, ME, marked(tmp_path, "c1", "gone")) == 1
        assert ours.wait(timeout=5) == -signal.SIGKILL
        assert theirs.poll() is None
        assert sorted(engine.inspected) == ["c1", "gone"]  # the marked containers, and no other
        assert list((tmp_path / "marks").iterdir()) == []
    finally:
        for p in (ours, theirs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def test_an_unreachable_engine_is_logged_not_raised_and_the_marks_stay_for_the_next_exit(tmp_path):
    assert stop_orphan_git_execs(StubEngine({}, up=False), ME, marked(tmp_path, "c1")) == 0
    assert [p.name for p in (tmp_path / "marks").iterdir()] == ["c1.0a1b2c"]


def test_without_a_mark_no_container_is_inspected(tmp_path):
    engine = StubEngine({"a" * 64: ExecInfo("a" * 64, "c1", True, None, 1, ("timeout", *git_argv("pull")))})
    assert stop_orphan_git_execs(engine, ME, ExecMarks(tmp_path / "never-made")) == 0
    assert engine.inspected == []


class Execs:
    def __init__(self, marks_dir, fail: bool = False) -> None:  # noqa: ANN001
        self.marks_dir, self.fail, self.seen = marks_dir, fail, []

    def run(self, container, argv, **kw):  # noqa: ANN001, ANN201
        self.seen = sorted(p.name.split(".")[0] for p in self.marks_dir.iterdir())
        if self.fail:
            raise ConnectionResetError("the exec's stream broke")
        return ExecResult(0, b"ok", b"")


def test_a_container_is_marked_while_its_git_exec_runs_and_after_one_that_may_run_on(tmp_path):
    marks = ExecMarks(tmp_path / "marks")
    execs = Execs(tmp_path / "marks")
    runner = ContainerRunner(SimpleNamespace(execs=execs), "c1", 10, ME, 1 << 20, marks=marks)
    assert runner.git(["status"], "/var/www/html").exit_code == 0
    assert execs.seen == ["c1"] and marks.containers() == set()
    execs.fail = True
    with pytest.raises(ConnectionResetError):
        runner.git(["pull"], "/var/www/html")
    assert marks.containers() == {"c1"}  # the exec may still run: the exit looks there


def test_another_instances_git_execs_on_the_same_engine_are_left_running(tmp_path):
    mine = _group_leader(["sleep", "60"])
    theirs = _group_leader(["sleep", "60"])
    try:
        argv = ("timeout", "-k", "5", "9")
        execs = {
            "a" * 64: ExecInfo("a" * 64, "c1", True, None, mine.pid, (*argv, *git_argv("pull"))),
            "b" * 64: ExecInfo("b" * 64, "c1", True, None, theirs.pid, (*argv, *git_argv("pull", instance=OTHER))),
        }
        assert stop_orphan_git_execs(StubEngine(execs), ME, marked(tmp_path, "c1")) == 1
        assert mine.wait(timeout=5) == -signal.SIGKILL
        assert theirs.poll() is None
    finally:
        for p in (mine, theirs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def test_with_a_remote_engine_no_local_process_is_signalled(tmp_path):
    bystander = _group_leader(["sleep", "60"])
    try:
        execs = {
            "a" * 64: ExecInfo("a" * 64, "c1", True, None, bystander.pid, ("timeout", "-k", "5", "9", *git_argv()))
        }
        assert stop_orphan_git_execs(StubEngine(execs, address="tcp://10.0.0.2:2375"), ME, marked(tmp_path, "c1")) == 0
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
