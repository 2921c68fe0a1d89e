"""dockerlink.git without a daemon: the commands each operation runs, branch and path
validation, how results map to errors, where git runs, and the host runner's timeout (real
subprocesses, no git)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dockerlink import git
from dockerlink.config import Config
from dockerlink.engine import ContainerDetails, ExecResult
from dockerlink.errors import Conflicting, Forbidden, GitFailed, GitTimeout, InvalidInput
from tests.waiting import until

PREFIX = git.container_argv(Config().instance)
#: What every git command gets first, in a container and on the host.
FORCED = [
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "protocol.ext.allow=never",
    "-c",
    "safe.bareRepository=explicit",
]
REMOTE_COMMANDS = ["config", "--name-only", "--get-regexp", r"^remote\..*\.(uploadpack|receivepack)$"]

# --- branch names -----------------------------------------------------------------------

# Each accepted by git 2.39's `git check-ref-format --branch` (checked by hand and, against
# the real binary, in tests/integration/test_git.py).
VALID_BRANCHES = ["main", "feature/x", "a.b", "x@", "@", "a@b", "@foo", "é", "refs/heads/x", "v1.2-rc_3"]
INVALID_BRANCHES = [
    "-f",
    "--orphan=x",
    "-",
    "a..b",
    "..a",
    "a b",
    "a\tb",
    "a\nb",
    "a\x7fb",
    "HEAD",
    "a@{b",
    "@{-1}",
    "foo.lock",
    "a.lock/b",
    ".foo",
    "a/.b",
    "a/",
    "/a",
    "a//b",
    "a.",
    "a/b.",
    "a~b",
    "a^b",
    "a:b",
    "a?b",
    "a*b",
    "a[b",
    "a\\b",
]


@pytest.mark.parametrize("name", VALID_BRANCHES)
def test_check_branch_accepts_what_git_accepts(name):
    assert git.check_branch(name) == name


@pytest.mark.parametrize("name", INVALID_BRANCHES)
def test_check_branch_refuses_what_git_refuses_or_reads_as_an_option(name):
    with pytest.raises(InvalidInput) as info:
        git.check_branch(name)
    assert info.value.field == "branch"


@pytest.mark.parametrize("name", ["", None, 3])
def test_check_branch_requires_a_string(name):
    with pytest.raises(InvalidInput, match="branch: is required"):
        git.check_branch(name)


# --- paths ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "var/www", "./x", "~/x", None])
def test_check_path_refuses_a_relative_path(path):
    with pytest.raises(InvalidInput, match="path: must be an absolute path"):
        git.check_path(path)


def test_check_path_refuses_control_characters():
    with pytest.raises(InvalidInput, match="path"):
        git.check_path("/var/www/a\nb")


def test_check_path_normalises():
    assert git.check_path("/var/www/site/../html/") == "/var/www/html"


# --- the commands ---------------------------------------------------------------------


class ScriptedRunner:
    """Answers each call with the next result (default: success) and records (args, cwd)."""

    timeout = 7.0

    def __init__(self, *results: ExecResult) -> None:
        self.results = list(results)
        self.calls: list[tuple[list[str], str]] = []

    def git(self, args, cwd, env=None):
        self.calls.append((list(args), cwd))
        return self.results.pop(0) if self.results else ExecResult(0, b"", b"")


def git_on(runner, path: str = "/srv/r") -> git.Git:
    """A Git whose every operation runs through `runner` in `path`."""
    g = git.Git(engine=None, config=Config())
    g.workdir = lambda ref, p: git.Workdir(runner, path)
    return g


@pytest.mark.parametrize(
    "operation, args",
    [
        (lambda g: g.head(None, None), ["log", "-1"]),
        (
            lambda g: g.branches(None, None),
            ["for-each-ref", "--format=%(refname)%09%(symref)", "refs/heads", "refs/remotes"],
        ),
        (lambda g: g.current_branch(None, None), ["symbolic-ref", "-q", "HEAD"]),
        (lambda g: g.switch(None, None, "feature/x"), ["switch", "--end-of-options", "feature/x"]),
    ],
)
def test_each_operation_runs_one_git_command_as_an_argv(operation, args):
    runner = ScriptedRunner()
    operation(git_on(runner))
    assert runner.calls == [(args, "/srv/r")]


def test_in_a_container_git_trusts_any_owner_and_carries_the_instance_mark():
    assert git.container_argv("vm/127.0.0.1:7200", "pull") == [
        "git",
        *FORCED,
        "-c",
        "safe.directory=*",
        "-c",
        "dockerlink.instance=vm/127.0.0.1:7200",
        "pull",
    ]


def test_pull_first_looks_for_a_repositorys_own_upload_pack_command():
    runner = ScriptedRunner(ExecResult(1, b"", b""))
    git_on(runner).pull(None, None)
    assert runner.calls == [(REMOTE_COMMANDS, "/srv/r"), (["pull"], "/srv/r")]


@pytest.mark.parametrize("operation", [lambda g: g.pull(None, None), lambda g: g.branches(None, None, fetch=True)])
def test_a_repository_naming_its_own_upload_pack_is_refused_before_git_reaches_a_remote(operation):
    found = b"remote.origin.uploadpack\nremote.up.receivepack\nremote.origin.uploadpack\n"
    runner = ScriptedRunner(ExecResult(0, found, b""))
    with pytest.raises(Conflicting, match=r"^remote.origin.uploadpack, remote.up.receivepack set: "):
        operation(git_on(runner))
    assert runner.calls == [(REMOTE_COMMANDS, "/srv/r")]


def test_head_reads_no_user_level_config():
    runner = ScriptedRunner(ok("commit abc\n"))
    calls = []
    runner_git = runner.git
    runner.git = lambda args, cwd, env=None: calls.append(env) or runner_git(args, cwd)
    git_on(runner).head(None, None)
    assert calls == [{"GIT_CONFIG_GLOBAL": "/dev/null"}]


def test_switch_refuses_an_option_before_running_anything():
    runner = ScriptedRunner()
    with pytest.raises(InvalidInput):
        git_on(runner).switch(None, None, "--orphan=x")
    assert runner.calls == []


def test_git_env_never_prompts():
    assert git.GIT_ENV == {"GIT_TERMINAL_PROMPT": "0", "GIT_SSH_COMMAND": "ssh -o BatchMode=yes"}


def test_parse_refs_lists_local_then_remote_without_symbolic_refs():
    output = (
        "refs/heads/feature\t\n"
        "refs/heads/main\t\n"
        "refs/remotes/origin/HEAD\trefs/remotes/origin/main\n"
        "refs/remotes/origin/feature\t\n"
        "refs/remotes/origin/main\t\n"
        "refs/remotes/upstream/dev\t\n"
    )
    assert git.parse_refs(output) == [
        "feature",
        "main",
        "remotes/origin/feature",
        "remotes/origin/main",
        "remotes/upstream/dev",
    ]


def test_parse_refs_puts_locals_first_whatever_the_input_order():
    assert git.parse_refs("refs/remotes/origin/a\t\nrefs/heads/z\t\n") == ["z", "remotes/origin/a"]


# --- results become errors --------------------------------------------------------------


def ok(stdout: str = "", stderr: str = "") -> ExecResult:
    return ExecResult(0, stdout.encode(), stderr.encode())


def test_a_timed_out_command_is_a_git_timeout():
    repo = git_on(ScriptedRunner(ExecResult(1, b"", b""), ExecResult(124, b"", b"", timed_out=True)))
    with pytest.raises(GitTimeout, match=r"git pull ran past git_timeout \(7 s\)"):
        repo.pull(None, None)


def test_the_engines_chdir_failure_is_a_400_naming_path():
    message = (
        b'OCI runtime exec failed: chdir to cwd ("/nope") set in config.json failed: no such file or directory\r\n'
    )
    repo = git_on(ScriptedRunner(ExecResult(126, message, b"")), "/nope")
    with pytest.raises(InvalidInput) as info:
        repo.head(None, None)
    assert info.value.field == "path"
    assert "/nope" in info.value.message and "no such file or directory" in info.value.message


def test_a_126_without_chdir_is_a_git_failure():
    runner = ScriptedRunner(ExecResult(126, b"", b"git: Permission denied\n"))
    with pytest.raises(GitFailed):
        git_on(runner, "/srv/r").head(None, None)


def test_a_non_zero_exit_is_a_git_failure_carrying_the_output():
    out = "fatal: your current branch 'master' does not have any commits yet\n"
    repo = git_on(ScriptedRunner(ExecResult(128, b"", out.encode())))
    with pytest.raises(GitFailed) as info:
        repo.head(None, None)
    assert info.value.message == out
    assert info.value.exit_code == 128


def test_a_silent_failure_still_says_something():
    with pytest.raises(GitFailed, match="exited with code 2"):
        git_on(ScriptedRunner(ExecResult(2, b"", b"")), "/srv/r").pull(None, None)


def test_output_is_stdout_then_stderr():
    repo = git_on(ScriptedRunner(ExecResult(1, b"", b""), ok("Updating a..b\n", "From /srv/origin\n")))
    assert repo.pull(None, None) == "Updating a..b\nFrom /srv/origin\n"


def test_init_runs_from_the_root_so_a_missing_directory_can_be_created():
    runner = ScriptedRunner(ok())
    git_on(runner, "/srv/new/site").init(None, None)
    assert runner.calls == [(["init", "--", "/srv/new/site"], "/")]


def test_other_commands_run_in_the_repository():
    runner = ScriptedRunner(ok("commit abc\n"))
    git_on(runner, "/srv/r").head(None, None)
    assert runner.calls == [(["log", "-1"], "/srv/r")]


def test_branches_with_fetch_fetches_first():
    runner = ScriptedRunner(ok(), ok(), ok("refs/heads/main\t\nrefs/remotes/origin/main\t\n"))
    assert git_on(runner).branches(None, None, fetch=True) == ["main", "remotes/origin/main"]
    assert [args[0] for args, _ in runner.calls] == ["config", "fetch", "for-each-ref"]


def test_branches_ignores_stderr():
    runner = ScriptedRunner(ok("refs/heads/main\t\n", "warning: something\n"))
    assert git_on(runner).branches(None, None) == ["main"]


def test_current_branch_strips_refs_heads():
    runner = ScriptedRunner(ok("refs/heads/feature/x\n"))
    assert git_on(runner, "/srv/r").current_branch(None, None) == "feature/x"


def test_current_branch_is_HEAD_when_detached():
    # `symbolic-ref -q` exits 1, silently, on a detached HEAD.
    assert git_on(ScriptedRunner(ExecResult(1, b"", b"")), "/srv/r").current_branch(None, None) == "HEAD"


def test_current_branch_outside_a_repository_is_a_git_failure():
    runner = ScriptedRunner(ExecResult(128, b"", b"fatal: not a git repository\n"))
    with pytest.raises(GitFailed, match="not a git repository"):
        git_on(runner, "/srv/r").current_branch(None, None)


def test_switch_passes_the_branch_after_end_of_options():
    runner = ScriptedRunner(ok("", "Switched to a new branch 'feature'\n"))
    assert git_on(runner).switch(None, None, "feature") == "Switched to a new branch 'feature'\n"
    assert runner.calls[0][0][-2:] == ["--end-of-options", "feature"]


# --- where git runs ---------------------------------------------------------------------


def details(state: str = "running", labels: dict | None = None, working_dir: str = "/var/www/html"):
    return ContainerDetails.from_api(
        {
            "Id": "c" * 64,
            "Name": "/site",
            "State": {"Status": state, "Running": state in ("running", "paused")},
            "Config": {"Labels": {"dockerlink": "0.1"} if labels is None else labels, "WorkingDir": working_dir},
        }
    )


class FakeContainers:
    def __init__(self, found: ContainerDetails) -> None:
        self.found = found
        self.inspected: list[str] = []

    def inspect(self, ref):
        self.inspected.append(ref)
        return self.found


class FakeExecs:
    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str], dict]] = []

    def run(self, container, argv, **kw):
        self.calls.append((container, list(argv), kw))
        return ExecResult(0, b"commit abc\n", b"")


class FakeEngine:
    address = "/var/run/docker.sock"

    def __init__(self, found: ContainerDetails | None = None) -> None:
        self.containers = FakeContainers(found or details())
        self.execs = FakeExecs()


def service(engine=None, **config) -> git.Git:
    return git.Git(engine or FakeEngine(), Config(**config))


def test_in_a_container_git_runs_through_exec_with_env_workdir_timeout_and_output_cap():
    engine = FakeEngine()
    service(engine, git_timeout=33, git_output_max=5000).head("site", None)
    env = {**git.GIT_ENV, "GIT_CONFIG_GLOBAL": "/dev/null"}
    expected = {"env": env, "user": "admin", "workdir": "/var/www/html", "timeout": 33, "max_output": 5000}
    assert engine.execs.calls == [("c" * 64, PREFIX + ["log", "-1"], expected)]


class SteppingClock:
    """Each reading is `step` seconds after the previous one."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class KilledExecs:
    def __init__(self, code: int) -> None:
        self.code = code

    def run(self, container, argv, **kw):
        return ExecResult(self.code, b"", b"", timed_out=True)  # as Execs.run reports 124 and 137


class KilledEngine:
    def __init__(self, code: int) -> None:
        self.execs = KilledExecs(code)


def test_a_sigkill_after_the_limit_is_a_timeout():
    runner = git.ContainerRunner(
        KilledEngine(137), "c", timeout=10, instance="i", output_max=1 << 20, clock=SteppingClock(15)
    )
    with pytest.raises(GitTimeout):
        git_on(runner, "/srv/r").pull(None, None)


def test_a_sigkill_before_the_limit_is_a_failure_not_a_timeout():
    # e.g. the out-of-memory killer in a memory-limited container
    runner = git.ContainerRunner(
        KilledEngine(137), "c", timeout=10, instance="i", output_max=1 << 20, clock=SteppingClock(1)
    )
    with pytest.raises(GitFailed, match="killed .*before git_timeout"):
        git_on(runner, "/srv/r").pull(None, None)


def test_exit_124_is_a_timeout_whatever_the_clock_says():
    runner = git.ContainerRunner(
        KilledEngine(124), "c", timeout=10, instance="i", output_max=1 << 20, clock=SteppingClock(1)
    )
    with pytest.raises(GitTimeout):
        git_on(runner, "/srv/r").pull(None, None)


def test_the_default_path_is_the_containers_working_directory():
    repo = service(FakeEngine(details(working_dir="/srv/app"))).workdir("site", None)
    assert repo.path == "/srv/app"


def test_without_a_working_directory_the_default_path_is_var_www_html():
    repo = service(FakeEngine(details(working_dir=""))).workdir("site", None)
    assert repo.path == "/var/www/html"


def test_a_given_path_wins_over_the_working_directory():
    assert service().workdir("site", "/srv/other/").path == "/srv/other"


def test_a_container_dockerlink_did_not_create_is_forbidden():
    engine = FakeEngine(details(labels={"com.example": "db"}))
    with pytest.raises(Forbidden, match="not created by dockerlink"):
        service(engine).head("db", None)
    assert engine.execs.calls == []


@pytest.mark.parametrize("state", ["exited", "created", "paused"])
def test_a_container_that_is_not_running_is_a_conflict(state):
    engine = FakeEngine(details(state=state))
    with pytest.raises(Conflicting, match=f"site is {state}"):
        service(engine).head("site", None)
    assert engine.execs.calls == []


def test_an_invalid_branch_is_refused_before_the_container_is_even_inspected():
    engine = FakeEngine()
    with pytest.raises(InvalidInput):
        service(engine).switch("site", None, "-f")
    assert engine.containers.inspected == [] and engine.execs.calls == []


def test_a_relative_path_is_refused_before_the_container_is_inspected():
    engine = FakeEngine()
    with pytest.raises(InvalidInput, match="path"):
        service(engine).head("site", "var/www")
    assert engine.containers.inspected == []


def test_host_git_is_forbidden_while_git_host_root_is_unset_and_says_how_to_enable_it():
    with pytest.raises(Forbidden, match="set git_host_root"):
        service().head(None, "/srv/site")


def test_host_git_needs_a_path(tmp_path):
    with pytest.raises(InvalidInput, match="path: is required"):
        service(git_host_root=str(tmp_path)).head(None, None)


def test_host_git_outside_the_root_is_forbidden(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(Forbidden, match="outside git_host_root"):
        service(git_host_root=str(root)).workdir(None, str(tmp_path / "elsewhere"))


def test_host_git_through_dot_dot_is_forbidden(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(Forbidden):
        service(git_host_root=str(root)).workdir(None, f"{root}/../root-sibling")


def test_host_git_through_a_symlink_leaving_the_root_is_forbidden(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "escape").symlink_to(tmp_path)
    with pytest.raises(Forbidden):
        service(git_host_root=str(root)).workdir(None, str(root / "escape" / "x"))


def test_host_git_under_the_root_runs_on_the_host_in_the_resolved_path(tmp_path):
    root = tmp_path / "root"
    (root / "site").mkdir(parents=True)
    (root / "link").symlink_to(root / "site")
    repo = service(git_host_root=str(root), git_timeout=9).workdir(None, str(root / "link"))
    assert isinstance(repo.runner, git.HostRunner)
    assert repo.runner.timeout == 9
    assert repo.path == str((root / "site").resolve())


# --- the host runner (real subprocesses; git itself is not needed) ----------------------


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pid: int) -> None:
    """`pid` ends: a killed process can still be exiting (its pipes already closed) when the
    runner returns, so it is waited for; a survivor still fails the test."""
    until(lambda: not _alive(pid), f"process {pid} to end", timeout=10)


def test_host_runner_kills_the_whole_process_group_at_the_timeout(tmp_path):
    runner = git.HostRunner(timeout=0.5, kill_after=1)
    result = runner.run(["sh", "-c", "sleep 60 >/dev/null 2>&1 & echo $!; wait"], str(tmp_path))  # holds no pipe
    assert result.timed_out
    helper = int(result.stdout.decode().split()[0])
    _wait_gone(helper)


def test_host_runner_kills_what_ignores_term(tmp_path):
    runner = git.HostRunner(timeout=0.5, kill_after=0.5)
    result = runner.run(["sh", "-c", "trap '' TERM; echo $$; while :; do sleep 0.1; done"], str(tmp_path))
    assert result.timed_out
    _wait_gone(int(result.stdout.decode().split()[0]))


def test_host_runner_reports_exit_code_and_both_streams(tmp_path):
    result = git.HostRunner(timeout=30).run(["sh", "-c", "echo out; echo err >&2; exit 3"], str(tmp_path))
    assert (result.exit_code, result.stdout, result.stderr, result.timed_out) == (3, b"out\n", b"err\n", False)


def test_host_runner_gives_no_stdin(tmp_path):
    result = git.HostRunner(timeout=30).run(["cat"], str(tmp_path))
    assert (result.exit_code, result.stdout, result.timed_out) == (0, b"", False)


def test_host_runner_environment_has_git_env_and_drops_inherited_git_variables(tmp_path, monkeypatch):
    monkeypatch.setenv("GIT_DIR", "/somewhere/else/.git")
    result = git.HostRunner(timeout=30).run(["env"], str(tmp_path))
    env = dict(line.split("=", 1) for line in result.stdout.decode().splitlines() if "=" in line)
    assert "GIT_DIR" not in env
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert env["GIT_SSH_COMMAND"] == "ssh -o BatchMode=yes"
    assert env.get("PATH") == os.environ.get("PATH")


def test_host_runner_in_a_missing_directory_is_a_400_naming_path(tmp_path):
    with pytest.raises(InvalidInput, match="path"):
        git.HostRunner(timeout=30).run(["true"], str(tmp_path / "missing"))


def test_host_runner_without_the_binary_reports_127(tmp_path):
    result = git.HostRunner(timeout=30).run(["no-such-binary-dockerlink"], str(tmp_path))
    assert result.exit_code == 127 and b"not found" in result.stderr


# --- the branch rule and its OpenAPI pattern are one ------------------------------------


def _pattern_accepts(name: str) -> bool:
    import re

    return re.fullmatch(git.BRANCH_PATTERN, name) is not None


@pytest.mark.parametrize("name", VALID_BRANCHES + INVALID_BRANCHES)
def test_the_openapi_pattern_and_check_branch_agree(name):
    try:
        git.check_branch(name)
        accepted = True
    except InvalidInput:
        accepted = False
    assert _pattern_accepts(name) is accepted


def test_the_openapi_pattern_and_check_branch_agree_on_random_names():
    import random

    rng = random.Random(613)
    alphabet = "ab/.-@{}~^:?*[\\ \x7fHEADlock"
    for _ in range(5000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        try:
            git.check_branch(name)
            accepted = True
        except InvalidInput:
            accepted = False
        assert _pattern_accepts(name) is accepted, name


def test_the_openapi_document_uses_the_branch_rule():
    from dockerlink.openapi.git import PATHS

    (branch,) = [p for p in PATHS["/v1/git/branch"]["post"]["parameters"] if p["name"] == "branch"]
    assert branch["schema"]["pattern"] == git.BRANCH_PATTERN


# --- output past git_output_max, and a stalled exec stream ------------------------------


class StreamEngine:
    """execs.run answers `result` or raises `error`; inspect shows the exec running as `pid`."""

    address = "/var/run/docker.sock"

    def __init__(self, result: ExecResult | None = None, error: Exception | None = None, pid: int = 0) -> None:
        from types import SimpleNamespace

        from dockerlink.engine import ExecInfo

        self.result, self.error = result, error
        self.execs = SimpleNamespace(
            run=self._run,
            inspect=lambda exec_id: ExecInfo(exec_id, "c", True, None, pid, ("timeout",)),
        )

    def _run(self, *args, **kw):
        if self.error is not None:
            raise self.error
        return self.result


def _group_leader() -> subprocess.Popen:
    return subprocess.Popen(["sleep", "60"], start_new_session=True)


def test_a_stalled_exec_stream_is_a_timeout_and_the_exec_is_killed():
    from dockerlink.engine import ExecStalled

    victim = _group_leader()
    try:
        engine = StreamEngine(error=ExecStalled("no answer", "e" * 64), pid=victim.pid)
        runner = git.ContainerRunner(engine, "c", timeout=10, instance="i", output_max=1 << 20)
        with pytest.raises(GitTimeout, match="ran past git_timeout"):
            git_on(runner).pull(None, None)
        assert victim.wait(timeout=5) == -9
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()


def test_output_cut_in_a_container_answers_what_fit_with_a_last_line_and_stops_the_exec():
    victim = _group_leader()
    try:
        cut = ExecResult(-1, b"x" * 100, b"", truncated=True, exec_id="e" * 64)
        runner = git.ContainerRunner(StreamEngine(cut, pid=victim.pid), "c", timeout=10, instance="i", output_max=100)
        out = git_on(runner).head(None, None)
        assert out == "x" * 100 + "\n[dockerlink: output cut at 100 bytes (git_output_max); the command was stopped]\n"
        assert victim.wait(timeout=5) == -9
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()


def test_host_runner_stops_reading_and_the_command_past_output_max(tmp_path):
    pid_file = tmp_path / "pid"
    script = f"echo $$ > {pid_file}; head -c 20000000 /dev/zero; sleep 60"
    result = git.HostRunner(timeout=60, output_max=65536).run(["sh", "-c", script], str(tmp_path))
    assert result.truncated and not result.timed_out
    assert len(result.stdout) + len(result.stderr) == 65536
    _wait_gone(int(pid_file.read_text()))


def test_host_runner_within_output_max_keeps_everything(tmp_path):
    result = git.HostRunner(timeout=30, output_max=65536).run(["sh", "-c", "head -c 65536 /dev/zero"], str(tmp_path))
    assert (len(result.stdout), result.truncated, result.exit_code) == (65536, False, 0)


RSS_CHILD = """
import os, resource, subprocess, sys, tempfile
from pathlib import Path
from dockerlink.config import Config
from dockerlink.git import Git

base = Path(tempfile.mkdtemp(prefix="dltest-rss-", dir=sys.argv[1]))
repo = base / "site"
repo.mkdir()
env = {"PATH": os.environ["PATH"], "HOME": str(base)}
message = base / "message"
message.write_bytes(b"a huge commit message line\\n" * (48 << 20 >> 5))  # about 40 MiB
for argv in (["git", "init", "-q"], ["git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q",
             "--allow-empty", "-F", str(message)]):
    subprocess.run(argv, cwd=repo, env=env, check=True)
git = Git(engine=None, config=Config(git_host_root=str(base), git_output_max=int(sys.argv[2])))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = git.head(None, str(repo))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(before, after, len(out))
"""


def test_a_huge_git_output_leaves_the_workers_rss_flat(tmp_path):
    """A 40 MiB `git log -1` with git_output_max = 1 MiB: the process's peak RSS grows by
    little more than the cap (before the cap, by several times the output)."""
    run = subprocess.run(
        [sys.executable, "-c", RSS_CHILD, str(tmp_path), str(1 << 20)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    before, after, length = (int(v) for v in run.stdout.split())
    assert length < (1 << 20) + 200
    assert after - before < 24 * 1024, f"peak RSS grew by {(after - before) // 1024} MiB"  # ru_maxrss is KiB


# --- as the site's user, within the slots -----------------------------------------------


def test_an_image_without_the_site_user_is_a_409_naming_it():
    # What the engine answers for an exec as a user the container's /etc/passwd lacks.
    found = ExecResult(126, b"unable to find user admin: no matching entries in passwd file\r\n", b"")
    with pytest.raises(Conflicting, match=r"^the container's image has no user admin: git runs"):
        git_on(ScriptedRunner(found)).head(None, None)


class BlockingRunner:
    """Holds every git call until `release` is set; counts them."""

    timeout = 7.0
    output_max = 1 << 20

    def __init__(self) -> None:
        import threading

        self.release = threading.Event()
        self.started = threading.Semaphore(0)

    def git(self, args, cwd, env=None):
        self.started.release()
        self.release.wait(10)
        return ExecResult(0, b"refs/heads/main\t\n", b"")


def test_a_sites_git_past_git_per_site_and_the_workers_past_its_slots_are_busy():
    import threading

    from dockerlink.errors import Busy
    from dockerlink.slots import Slots

    runner = BlockingRunner()
    g = git.Git(engine=None, config=Config(git_per_site=2), slots=Slots(3))
    g.workdir = lambda ref, p: git.Workdir(runner, "/srv/r", site=ref)
    running = [threading.Thread(target=g.branches, args=(site, None)) for site in ("a", "a", "b")]
    for t in running:
        t.start()
    for _ in running:
        assert runner.started.acquire(timeout=10)
    with pytest.raises(Busy, match=r"^git on a: 2 already running for it in this worker"):
        g.branches("a", None)
    with pytest.raises(Busy, match=r"^too many long requests in this worker \(3\)"):
        g.branches("c", None)
    runner.release.set()
    for t in running:
        t.join()
    assert g.branches("a", None) == ["main"]  # all freed
