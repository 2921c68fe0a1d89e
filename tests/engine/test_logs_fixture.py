"""`containers.logs` over the recorded engine answer (fixtures/engine/container_logs.bin):
the framed stream is decoded as it is read, and merged by the engine's timestamps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from dockerlink.engine import Engine, iter_frames
from dockerlink.events.logs import merge

from .recorded import SOCKET, load, serve

CONTAINER_ID: str = load("container_create").json()["Id"]


@pytest.fixture
def rsps() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as r:
        yield r


def test_logs_are_read_frame_by_frame_as_recorded(rsps):
    serve(rsps, "container_logs")
    with Engine(SOCKET) as engine:
        frames = list(engine.containers.logs(CONTAINER_ID, tail=5))
    assert frames == list(iter_frames(load("container_logs").body))
    assert {stream for stream, _ in frames} == {1, 2}  # stdout and stderr, demultiplexed


def test_recorded_logs_merge_in_time_order_without_their_timestamps(rsps):
    serve(rsps, "container_logs")
    with Engine(SOCKET) as engine:
        body = merge(engine.containers.logs(CONTAINER_ID, tail=5), timestamps=False)
    by_time = sorted(payload for _, payload in iter_frames(load("container_logs").body))  # same-length stamps
    assert body.splitlines() == [line.split(b" ", 1)[1].rstrip(b"\n") for line in by_time]
    assert sorted(body.decode().split()) == ["err1", "err2", "out1", "out2"]
