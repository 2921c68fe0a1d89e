"""The engine client against the real daemon and base image: what the fixtures cannot prove
(limits reaching the cgroup, a timeout acting inside the container, the `..` redirect)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

import pytest

from dockerlink.engine import Conflict, ContainerSpec, Engine, EngineAPIError, InvalidReference, NotFound

from .conftest import TEST_LABEL

MIB = 1024 * 1024
MakeContainer = Callable[..., str]


@pytest.fixture
def make_container(engine: Engine, unique_name: str, base_image: str) -> Iterator[MakeContainer]:
    """Create labelled containers named after `unique_name`; all removed after the test."""
    created: list[str] = []

    def make(suffix: str = "", *, start: bool = False, **spec: object) -> str:
        cid, _ = engine.containers.create(
            ContainerSpec(image=base_image, labels={TEST_LABEL: "1"}, **spec), name=unique_name + suffix
        )
        created.append(cid)
        if start:
            engine.containers.start(cid)
        return cid

    yield make
    for cid in created:
        try:
            engine.containers.remove(cid, force=True)
        except (NotFound, Conflict):  # gone, or being removed (the session clean-up races us)
            pass


@pytest.fixture
def running(make_container: MakeContainer) -> str:
    return make_container(start=True)


def cgroup(engine: Engine, cid: str, path: str) -> int:
    """A cgroup v1 value as the container itself sees it (the limit really applied)."""
    result = engine.execs.run(cid, ["cat", f"/sys/fs/cgroup/{path}"])
    assert result.exit_code == 0, result.output
    return int(result.stdout)


def test_ping_version_and_base_image(engine: Engine, base_image: str):
    assert engine.system.ping() is True
    assert engine.system.version().api_version >= "1.41"
    assert base_image in engine.images.inspect(base_image).tags


def test_container_lifecycle_with_live_limit_changes(engine: Engine, make_container: MakeContainer):
    cid = make_container(memory=64 * MIB, memory_swap=64 * MIB, cpu_period=100000, cpu_quota=50000)
    created = engine.containers.inspect(cid)
    assert (created.state, created.running) == ("created", False)
    assert (created.memory, created.memory_swap, created.cpu_quota) == (64 * MIB, 64 * MIB, 50000)

    assert engine.containers.start(cid) is True
    assert engine.containers.start(cid) is False  # the engine's 304
    details = engine.containers.inspect(cid)
    assert details.running and details.pid > 0 and details.started_at is not None
    assert cgroup(engine, cid, "memory/memory.limit_in_bytes") == 64 * MIB

    assert engine.containers.update(cid, memory=128 * MIB, memory_swap=128 * MIB, cpu_quota=100000) == []
    details = engine.containers.inspect(cid)
    assert (details.memory, details.memory_swap, details.cpu_quota) == (128 * MIB, 128 * MIB, 100000)
    assert cgroup(engine, cid, "memory/memory.limit_in_bytes") == 128 * MIB
    assert cgroup(engine, cid, "memory/memory.memsw.limit_in_bytes") == 128 * MIB
    assert cgroup(engine, cid, "cpu/cpu.cfs_quota_us") == 100000

    assert engine.containers.update(cid, memory=48 * MIB, memory_swap=48 * MIB, cpu_quota=25000) == []
    details = engine.containers.inspect(cid)
    assert (details.memory, details.memory_swap, details.cpu_quota) == (48 * MIB, 48 * MIB, 25000)
    assert cgroup(engine, cid, "memory/memory.limit_in_bytes") == 48 * MIB
    assert cgroup(engine, cid, "cpu/cpu.cfs_quota_us") == 25000

    assert engine.containers.stop(cid, t=1) is True
    assert engine.containers.stop(cid, t=1) is False  # the engine's 304
    stopped = engine.containers.inspect(cid)
    assert (stopped.running, stopped.started_at) == (False, None)
    assert stopped.exit_code is not None

    engine.containers.remove(cid)
    with pytest.raises(NotFound):
        engine.containers.inspect(cid)


def test_exec_separates_stdout_and_stderr_and_reads_the_exit_code(engine: Engine, running: str):
    result = engine.execs.run(running, ["sh", "-c", "echo out; echo err >&2; echo out2; exit 7"])
    assert (result.stdout, result.stderr) == (b"out\nout2\n", b"err\n")
    assert (result.exit_code, result.timed_out) == (7, False)


def test_exec_passes_env_workdir_and_user(engine: Engine, running: str):
    result = engine.execs.run(
        running,
        ["sh", "-c", 'echo "$GREETING $(pwd) $(id -un)"'],
        env={"GREETING": "hi"},
        workdir="/tmp",
        user="nobody",
    )
    assert (result.exit_code, result.stdout) == (0, b"hi /tmp nobody\n")


def test_exec_returns_one_mebibyte_of_binary_output_byte_for_byte(engine: Engine, running: str):
    script = "head -c 1048576 /dev/urandom > /tmp/blob && cat /tmp/blob && sha256sum /tmp/blob >&2"
    result = engine.execs.run(running, ["sh", "-c", script])
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout) == 1048576
    assert result.stderr.split()[0].decode() == hashlib.sha256(result.stdout).hexdigest()


def test_exec_past_its_timeout_is_killed_inside_the_container(engine: Engine, running: str):
    result = engine.execs.run(running, ["sleep", "30"], timeout=1)
    assert result.timed_out is True
    assert result.exit_code in (124, 137)
    processes = engine.execs.run(running, ["ps", "-eo", "args"]).stdout.decode().splitlines()
    assert processes[0].strip() == "COMMAND"  # ps did list the processes
    assert not [p for p in processes if "sleep 30" in p]


def test_exec_with_a_missing_working_directory_is_126_with_the_reason_on_the_output(engine: Engine, running: str):
    result = engine.execs.run(running, ["true"], workdir="/nonexistent")
    assert result.exit_code == 126
    assert "/nonexistent" in result.output
    assert "no such file or directory" in result.output


def test_exec_of_a_missing_binary_is_an_exit_code_not_an_error(engine: Engine, running: str):
    result = engine.execs.run(running, ["/no/such/binary"])
    assert result.exit_code in (126, 127)
    assert "/no/such/binary" in result.output


def test_exec_in_a_stopped_container_is_a_conflict(engine: Engine, running: str):
    engine.containers.stop(running, t=1)
    with pytest.raises(Conflict, match="is not running"):
        engine.execs.run(running, ["true"])


def test_stats_of_a_running_then_stopped_container(engine: Engine, make_container: MakeContainer):
    cid = make_container(start=True, memory=96 * MIB, memory_swap=96 * MIB)
    engine.execs.run(cid, ["sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"])
    live = engine.containers.stats(cid)
    assert live.running is True and live.read_at is not None
    assert live.memory_limit == 96 * MIB
    assert 0 < live.memory_used <= 96 * MIB
    assert live.cpu_total_ns > 0

    engine.containers.stop(cid, t=1)
    stopped = engine.containers.stats(cid)
    assert (stopped.running, stopped.read_at) == (False, None)
    zeros = (stopped.cpu_total_ns, stopped.memory_used, stopped.memory_limit, stopped.net_rx, stopped.net_tx)
    assert zeros == (0, 0, 0, 0, 0)


def test_list_filters_by_label_and_sees_both_states(engine: Engine, make_container: MakeContainer, unique_name: str):
    a = make_container("-a", start=True)
    b = make_container("-b")
    found = {c.id: c for c in engine.containers.list(all=True, filters={"name": [f"^/{unique_name}-"]})}
    assert set(found) == {a, b}
    assert (found[a].state, found[b].state) == ("running", "created")
    assert found[a].labels[TEST_LABEL] == "1"
    running_only = engine.containers.list(all=False, filters={"name": [f"^/{unique_name}-"]})
    assert [c.id for c in running_only] == [a]


def test_dotdot_paths_never_reach_another_container(engine: Engine, make_container: MakeContainer):
    a = make_container("-a")
    b = make_container("-b")

    for ref in (f"{a}/../{b}", f"{a[:12]}/../{b[:12]}"):
        with pytest.raises(InvalidReference):
            engine.containers.remove(ref, force=True)

    # Below the reference check: the engine cleans both spellings to B's path and answers
    # 301 (it decodes %2F before routing); the transport raises instead of following.
    for segments in (["containers", a, "..", b], ["containers", f"{a}/../{b}"]):
        with pytest.raises(EngineAPIError) as err:
            engine.transport.request("DELETE", segments, params={"force": "1"})
        assert err.value.status == 301

    assert engine.containers.inspect(b).id == b
    assert engine.containers.inspect(a).id == a


def test_volume_create_inspect_remove(engine: Engine, unique_name: str):
    name = f"{unique_name}-vol"
    created = engine.volumes.create(name, labels={TEST_LABEL: "1"})
    try:
        assert (created.name, created.driver, created.labels) == (name, "local", {TEST_LABEL: "1"})
        assert engine.volumes.inspect(name).mountpoint == created.mountpoint
    finally:
        engine.volumes.remove(name)
    with pytest.raises(NotFound):
        engine.volumes.inspect(name)
