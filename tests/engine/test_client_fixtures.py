"""The Engine client over recorded engine answers (fixtures/engine/), served by `responses`.

No daemon is needed: every request is answered from the recordings, and a request that
matches no recording fails the test.
"""

from __future__ import annotations

import json
import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from dockerlink.engine import (
    AmbiguousReference,
    BadRequest,
    Conflict,
    ContainerSpec,
    Engine,
    EngineAPIError,
    EngineUnavailable,
    InvalidReference,
    NotFound,
    PortBinding,
)
from dockerlink.engine.models import StatsSnapshot
from dockerlink.engine.transport import Transport

from .recorded import BASE, SOCKET, load, serve

MIB = 1024 * 1024
CONTAINER_ID: str = load("container_create").json()["Id"]
OTHER_ID: str = load("container_inspect_dotdot").location.split("/")[3]
EXEC_ID: str = load("exec_create").json()["Id"]
NAME = "dltest-rec-fixture"
VOLUME = "dltest-rec-fixture-www"


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    """Every registered answer must be asked for, so a test cannot pass without the call."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as r:
        yield r


@pytest.fixture
def engine() -> Iterator[Engine]:
    with Engine(SOCKET) as e:
        yield e


def sent_json(rsps: responses.RequestsMock, i: int = 0) -> Any:
    return json.loads(rsps.calls[i].request.body)


# --- system, images -----------------------------------------------------------------------


def test_ping_is_true_when_the_engine_answers_ok(rsps, engine):
    serve(rsps, "ping")
    assert engine.system.ping() is True


def test_version_reads_the_engine_and_api_versions(rsps, engine):
    serve(rsps, "version")
    v = engine.system.version()
    recorded = load("version").json()
    assert (v.version, v.api_version, v.min_api_version) == (
        recorded["Version"],
        "1.41",
        recorded["MinAPIVersion"],
    )
    assert (v.os, v.arch, v.kernel) == (recorded["Os"], recorded["Arch"], recorded["KernelVersion"])


def test_image_inspect_sends_each_reference_component_as_an_encoded_segment(rsps, engine):
    serve(rsps, "image_inspect")  # recorded path: /v1.41/images/dockerlink/base%3Alatest/json
    image = engine.images.inspect("dockerlink/base:latest")
    assert image.id == load("image_inspect").json()["Id"]
    assert "dockerlink/base:latest" in image.tags
    assert image.cmd == ("/usr/local/bin/dockerlink-keepalive",)
    assert image.working_dir == "/var/www/html"


def test_image_inspect_of_a_missing_image_is_not_found(rsps, engine):
    serve(rsps, "image_inspect_missing")
    with pytest.raises(NotFound, match="No such image"):
        engine.images.inspect("dltest-rec-missing:latest")


# --- containers ---------------------------------------------------------------------------


def recorded_spec() -> ContainerSpec:
    return ContainerSpec(
        image="dockerlink/base:latest",
        labels={"dockerlink.test": "1"},
        working_dir="/var/www/html",
        port_bindings=(PortBinding(80, "tcp", "127.0.0.1", 18080),),
        volumes={VOLUME: "/var/www"},
        memory=256 * MIB,
        memory_swap=256 * MIB,
        cpu_period=100000,
        cpu_quota=50000,
        restart_policy="unless-stopped",
    )


def test_create_returns_the_full_id_and_warnings_and_sends_the_host_config(rsps, engine):
    serve(rsps, "container_create")
    assert engine.containers.create(recorded_spec(), name=NAME) == (CONTAINER_ID, [])
    sent = sent_json(rsps)
    recorded = load("container_create").request
    assert sent["HostConfig"] == recorded["HostConfig"]
    assert (sent["Image"], sent["Labels"], sent["WorkingDir"]) == (
        recorded["Image"],
        recorded["Labels"],
        recorded["WorkingDir"],
    )
    assert "80/tcp" in sent["ExposedPorts"]


def test_create_with_a_name_in_use_is_a_conflict(rsps, engine):
    serve(rsps, "container_create_name_in_use")
    with pytest.raises(Conflict, match="is already in use"):
        engine.containers.create(recorded_spec(), name=NAME)


def test_list_sends_all_and_json_filters_and_returns_summaries(rsps, engine):
    serve(rsps, "container_list")
    [summary] = engine.containers.list(all=True, filters={"name": [f"^/{NAME}$"]})
    assert (summary.id, summary.name, summary.state) == (CONTAINER_ID, NAME, "running")
    assert summary.image == "dockerlink/base:latest"
    assert summary.labels == {"dockerlink.test": "1"}


def test_inspect_of_a_running_container_is_typed(rsps, engine):
    serve(rsps, "container_inspect_running")
    c = engine.containers.inspect(CONTAINER_ID)
    assert (c.id, c.name, c.state, c.running, c.exit_code) == (CONTAINER_ID, NAME, "running", True, None)
    assert c.started_at == 1704067201  # the scrubbed StartedAt, 2024-01-01T00:00:01Z
    assert c.pid == 4242
    assert (c.memory, c.memory_swap, c.cpu_period, c.cpu_quota, c.nano_cpus) == (256 * MIB, 256 * MIB, 100000, 50000, 0)
    assert c.restart_policy == "unless-stopped"
    assert c.exposed_ports == ("22/tcp", "80/tcp")
    assert c.port_bindings == (PortBinding(80, "tcp", "127.0.0.1", 18080),)
    assert c.volumes == {"/var/www": VOLUME}
    assert c.working_dir == "/var/www/html"
    assert c.labels == {"dockerlink.test": "1"}


def test_inspect_of_a_stopped_container_has_an_exit_code_and_no_start_time(rsps, engine):
    serve(rsps, "container_inspect_stopped")
    c = engine.containers.inspect(CONTAINER_ID)
    assert (c.state, c.running, c.started_at, c.pid) == ("exited", False, None, 0)
    assert c.exit_code == load("container_inspect_stopped").json()["State"]["ExitCode"]


def test_inspect_of_a_created_container_is_not_running(rsps, engine):
    serve(rsps, "container_inspect_created")
    c = engine.containers.inspect(CONTAINER_ID)
    assert (c.state, c.running, c.exit_code, c.started_at) == ("created", False, 0, None)


def test_inspect_of_a_missing_container_is_not_found(rsps, engine):
    serve(rsps, "container_inspect_missing")
    with pytest.raises(NotFound, match="No such container: dltest-rec-missing") as err:
        engine.containers.inspect("dltest-rec-missing")
    assert err.value.status == 404


def test_ambiguous_id_prefix_is_an_ambiguous_reference(rsps, engine):
    serve(rsps, "container_inspect_ambiguous")
    with pytest.raises(AmbiguousReference, match="Multiple IDs found") as err:
        engine.containers.inspect("f")
    assert isinstance(err.value, BadRequest)
    assert err.value.status == 500


def test_start_is_true_then_false_when_already_running(rsps, engine):
    serve(rsps, "container_start")
    serve(rsps, "container_start_again")  # responses answers two matches in registration order
    assert engine.containers.start(CONTAINER_ID) is True
    assert engine.containers.start(CONTAINER_ID) is False


def test_stop_is_true_then_false_when_already_stopped(rsps, engine):
    serve(rsps, "container_stop")
    serve(rsps, "container_stop_again")
    assert engine.containers.stop(CONTAINER_ID, t=1) is True
    assert engine.containers.stop(CONTAINER_ID, t=1) is False


def test_start_of_a_missing_container_is_not_found(rsps, engine):
    serve(rsps, "container_start_missing")
    with pytest.raises(NotFound):
        engine.containers.start("dltest-rec-missing")


def test_restart_sends_the_grace_period(rsps, engine):
    serve(rsps, "container_restart")
    assert engine.containers.restart(CONTAINER_ID, t=1) is None


def test_remove_of_a_stopped_container_succeeds(rsps, engine):
    serve(rsps, "container_remove")
    assert engine.containers.remove(CONTAINER_ID) is None


def test_remove_of_a_running_container_without_force_is_a_conflict(rsps, engine):
    serve(rsps, "container_remove_running")
    with pytest.raises(Conflict, match="cannot remove a running container"):
        engine.containers.remove(CONTAINER_ID)


def test_update_turns_the_engines_null_warnings_into_a_list_and_sends_the_limits(rsps, engine):
    serve(rsps, "container_update")
    warnings = engine.containers.update(
        CONTAINER_ID, memory=512 * MIB, memory_swap=512 * MIB, cpu_period=100000, cpu_quota=100000
    )
    assert warnings == []
    assert sent_json(rsps) == load("container_update").request


def test_update_sends_only_the_limits_given(rsps, engine):
    serve(rsps, "container_update")
    engine.containers.update(CONTAINER_ID, cpu_quota=100000)
    assert sent_json(rsps) == {"CpuQuota": 100000}


def test_stats_keep_the_whole_usage_when_the_cache_figure_is_not_below_it():
    """As `docker stats` (and the cgroup path): the cache is subtracted only when below usage."""
    snapshot = StatsSnapshot.from_api(
        {"read": "2024-01-01T00:00:04Z", "memory_stats": {"usage": 4096, "stats": {"total_inactive_file": 8192}}}
    )
    assert snapshot.memory_used == 4096


def test_stats_of_a_running_container_are_one_shot_and_typed(rsps, engine):
    serve(rsps, "container_stats_running")  # matched on stream=false&one-shot=true
    s = engine.containers.stats(CONTAINER_ID)
    raw = load("container_stats_running").json()
    mem = raw["memory_stats"]
    assert s.running is True
    assert s.read_at == 1704067204.0
    assert s.memory_limit == 256 * MIB  # the limit the container was created with
    assert s.memory_used == mem["usage"] - mem["stats"]["total_inactive_file"]
    assert s.cpu_total_ns == raw["cpu_stats"]["cpu_usage"]["total_usage"] > 0
    assert (s.net_rx, s.net_tx) == (
        sum(n["rx_bytes"] for n in raw["networks"].values()),
        sum(n["tx_bytes"] for n in raw["networks"].values()),
    )


def test_stats_of_a_stopped_container_are_all_zero(rsps, engine):
    serve(rsps, "container_stats_stopped")
    s = engine.containers.stats(CONTAINER_ID)
    assert (s.running, s.read_at) == (False, None)
    assert (s.cpu_total_ns, s.memory_used, s.memory_limit, s.net_rx, s.net_tx) == (0, 0, 0, 0, 0)


# --- execs --------------------------------------------------------------------------------


def test_exec_create_sends_argv_without_a_tty_and_returns_the_id(rsps, engine):
    serve(rsps, "exec_create")
    argv = load("exec_create").request["Cmd"]
    assert engine.execs.create(CONTAINER_ID, argv) == EXEC_ID
    assert sent_json(rsps) == load("exec_create").request


def test_exec_create_passes_env_workdir_and_user(rsps, engine):
    serve(rsps, "exec_create")
    engine.execs.create(CONTAINER_ID, ["git", "pull"], env={"GIT_TERMINAL_PROMPT": "0"}, workdir="/srv", user="www")
    sent = sent_json(rsps)
    assert (sent["Env"], sent["WorkingDir"], sent["User"]) == (["GIT_TERMINAL_PROMPT=0"], "/srv", "www")


def test_exec_start_returns_the_raw_framed_stream(rsps, engine):
    serve(rsps, "exec_start")
    assert engine.execs.start(EXEC_ID) == load("exec_start").body
    assert sent_json(rsps) == {"Detach": False, "Tty": False}


def test_exec_inspect_reads_running_exit_code_and_pid(rsps, engine):
    serve(rsps, "exec_inspect")
    info = engine.execs.inspect(EXEC_ID)
    assert (info.running, info.exit_code, info.pid) == (False, 3, 4242)
    assert info.argv[0] == "sh"


def test_exec_inspect_of_a_missing_exec_is_not_found(rsps, engine):
    recorded = load("exec_inspect_missing")
    serve(rsps, "exec_inspect_missing")
    with pytest.raises(NotFound, match="No such exec instance"):
        engine.execs.inspect(recorded.path.split("/")[3])


def serve_exec(rsps: responses.RequestsMock, prefix: str = "exec", **inspect_overrides: object) -> None:
    serve(rsps, f"{prefix}_create")
    serve(rsps, f"{prefix}_start")
    serve(rsps, f"{prefix}_inspect", **inspect_overrides)


def test_run_demultiplexes_stdout_and_stderr_and_reads_the_exit_code_from_inspect(rsps, engine):
    serve_exec(rsps)
    result = engine.execs.run(CONTAINER_ID, load("exec_create").request["Cmd"])
    assert result.stdout == b"out-1\nout-2\n"
    assert result.stderr == b"err-1\nerr-2\n"
    assert (result.exit_code, result.timed_out) == (3, False)
    assert [c.request.method for c in rsps.calls] == ["POST", "POST", "GET"]


def test_run_with_a_timeout_wraps_argv_in_coreutils_timeout(rsps, engine):
    serve_exec(rsps)
    result = engine.execs.run(CONTAINER_ID, ["git", "fetch"], timeout=30)
    assert sent_json(rsps)["Cmd"] == ["timeout", "-k", "5", "30", "git", "fetch"]
    assert result.timed_out is False  # exit code 3 is the command's own


@pytest.mark.parametrize("code", [124, 137])
def test_run_reports_timed_out_on_timeouts_exit_codes(rsps, engine, code: int):
    inspect = load("exec_inspect").json()
    serve_exec(rsps, json={**inspect, "ExitCode": code}, body=None)
    result = engine.execs.run(CONTAINER_ID, ["sleep", "30"], timeout=1)
    assert (result.exit_code, result.timed_out) == (code, True)


def test_run_with_a_missing_workdir_is_exit_126_with_the_error_on_the_output(rsps, engine):
    serve_exec(rsps, "exec_workdir")
    result = engine.execs.run(CONTAINER_ID, ["true"], workdir="/nonexistent")
    assert result.exit_code == 126
    assert "/nonexistent" in result.output
    assert sent_json(rsps)["WorkingDir"] == "/nonexistent"


def test_exec_in_a_stopped_container_is_a_conflict(rsps, engine):
    serve(rsps, "exec_create_stopped")
    with pytest.raises(Conflict, match="is not running"):
        engine.execs.run(CONTAINER_ID, ["true"])


# --- volumes ------------------------------------------------------------------------------


def test_volume_create_sends_name_driver_labels_and_is_typed(rsps, engine):
    serve(rsps, "volume_create")
    v = engine.volumes.create(VOLUME, labels={"dockerlink.test": "1"})
    assert (v.name, v.driver, v.labels) == (VOLUME, "local", {"dockerlink.test": "1"})
    assert v.mountpoint == f"/var/lib/docker/volumes/{VOLUME}/_data"
    assert sent_json(rsps) == load("volume_create").request


def test_volume_inspect_is_typed(rsps, engine):
    serve(rsps, "volume_inspect")
    assert engine.volumes.inspect(VOLUME).name == VOLUME


def test_volume_remove_succeeds_and_a_volume_in_use_is_a_conflict(rsps, engine):
    serve(rsps, "volume_remove_in_use")
    serve(rsps, "volume_remove")
    with pytest.raises(Conflict, match="volume is in use"):
        engine.volumes.remove(VOLUME)
    assert engine.volumes.remove(VOLUME) is None


def test_volume_inspect_of_a_missing_volume_is_not_found(rsps, engine):
    serve(rsps, "volume_inspect_missing")
    with pytest.raises(NotFound):
        engine.volumes.inspect(VOLUME)


# --- the three path defences --------------------------------------------------------------

HOSTILE_REFS = [f"{CONTAINER_ID}/../{OTHER_ID}", "../" + OTHER_ID, "..", "a/b", "a%2Fb", f"{CONTAINER_ID}%2F..%2F"]


CALLS = {
    "inspect": lambda e, r: e.containers.inspect(r),
    "start": lambda e, r: e.containers.start(r),
    "stop": lambda e, r: e.containers.stop(r, t=1),
    "restart": lambda e, r: e.containers.restart(r),
    "remove": lambda e, r: e.containers.remove(r, force=True),
    "update": lambda e, r: e.containers.update(r, memory=MIB),
    "stats": lambda e, r: e.containers.stats(r),
    "exec": lambda e, r: e.execs.run(r, ["true"]),
    "volume": lambda e, r: e.volumes.remove(r),
    "image": lambda e, r: e.images.inspect(r),
}


@pytest.mark.parametrize(
    ("call", "ref"),
    [
        pytest.param(call, ref, id=f"{name}:{ref}")
        for name, call in CALLS.items()
        for ref in HOSTILE_REFS
        if not (name == "image" and ref == "a/b")  # `/` separates an image reference's components
    ],
)
def test_a_reference_with_slash_dotdot_or_percent_is_refused_before_any_request(rsps, engine, call, ref):
    with pytest.raises(InvalidReference):
        call(engine, ref)
    assert len(rsps.calls) == 0


@pytest.mark.parametrize("exec_id", [EXEC_ID[:12], f"{EXEC_ID[:31]}/../{EXEC_ID[:30]}"])
def test_an_exec_id_that_is_not_64_hex_is_refused_before_any_request(rsps, engine, exec_id):
    with pytest.raises(InvalidReference):
        engine.execs.inspect(exec_id)
    with pytest.raises(InvalidReference):
        engine.execs.start(exec_id)
    assert len(rsps.calls) == 0


def test_a_container_name_with_a_slash_is_refused_at_create(rsps, engine):
    with pytest.raises(InvalidReference):
        engine.containers.create(recorded_spec(), name="a/../b")
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    ("segment", "encoded"),
    [
        ("a/b", "a%2Fb"),
        ("a?b", "a%3Fb"),
        ("a#b", "a%23b"),
        ("100%", "100%25"),
        ("%2F", "%252F"),
        ("a b:c@d&e=f+g;h", "a%20b%3Ac%40d%26e%3Df%2Bg%3Bh"),
        ("x/../y?z#w%", "x%2F..%2Fy%3Fz%23w%25"),
    ],
)
def test_every_path_segment_is_percent_encoded_with_nothing_safe(segment: str, encoded: str):
    t = Transport(SOCKET)
    assert t.url(["containers", segment, "json"]) == f"{BASE}/v1.41/containers/{encoded}/json"
    assert t.url([segment], versioned=False) == f"{BASE}/{encoded}"


@pytest.mark.parametrize(
    ("address", "base"),
    [(SOCKET, BASE), ("tcp://127.0.0.1:2375", "http://127.0.0.1:2375")],
    ids=["unix", "tcp"],  # over tcp, requests would resolve the relative Location and follow it
)
def test_a_redirect_from_the_engine_is_never_followed(rsps, address: str, base: str):
    """The engine cleans a path holding `..` with a 301; following it acts on another
    container. Here a remove of A is answered with the recorded 301 to B's delete path."""
    recorded = load("container_remove_dotdot")
    assert recorded.location.startswith(f"/v1.41/containers/{OTHER_ID}")
    redirect = rsps.add(
        "DELETE",
        f"{base}/v1.41/containers/{CONTAINER_ID}",
        status=301,
        headers={"Location": recorded.location},
        body=b"",
    )
    other = rsps.add("DELETE", f"{base}/v1.41/containers/{OTHER_ID}", status=204)
    rsps.assert_all_requests_are_fired = False

    with Engine(address) as engine, pytest.raises(EngineAPIError, match="redirect") as err:
        engine.containers.remove(CONTAINER_ID, force=True)

    assert err.value.status == 301
    assert redirect.call_count == 1
    assert other.call_count == 0
    assert len(rsps.calls) == 1


# --- no engine at all ---------------------------------------------------------------------


def test_a_missing_socket_is_engine_unavailable(tmp_path: Path):
    missing = tmp_path / "docker.sock"
    with Engine(str(missing)) as engine, pytest.raises(EngineUnavailable, match="is unreachable") as err:
        engine.system.ping()
    assert str(missing) in str(err.value)


def test_a_socket_nobody_listens_on_is_engine_unavailable(tmp_path: Path):
    path = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(path))  # bound, never listening: connect() is refused
        with Engine(f"unix://{path}") as engine, pytest.raises(EngineUnavailable):
            engine.containers.list()


def test_recorded_exec_stream_kept_its_binary_frame_headers():
    """A text round-trip would have mangled these bytes; the first header must still read."""
    stream, length = struct.unpack(">BxxxL", load("exec_start").body[:8])
    assert (stream, length) == (1, len(b"out-1\n"))
