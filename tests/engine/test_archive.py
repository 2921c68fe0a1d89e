"""Archive calls stream, ask for no gzip (the engine would compress on one core), keep the
path quoted, and never follow a redirect."""

from __future__ import annotations

import base64
import json

import pytest
import responses

from dockerlink.engine import AnswerTooLarge, Engine, ServerError

BASE = "http://127.0.0.1:2375/v1.41"
ID = "a" * 64


@responses.activate
def test_get_archive_streams_the_tar_asks_for_identity_and_reads_the_path_stat():
    stat = base64.b64encode(json.dumps({"name": "www", "mode": 2147484141}).encode()).decode()
    responses.get(
        f"{BASE}/containers/{ID}/archive",
        body=b"x" * 3_000_000,
        headers={"X-Docker-Container-Path-Stat": stat},
        match=[responses.matchers.query_param_matcher({"path": "/var/www"})],
    )
    with Engine("tcp://127.0.0.1:2375") as engine, engine.containers.get_archive(ID, "/var/www") as (info, s):
        chunks = list(s.chunks(1 << 20))
    assert info["name"] == "www"
    assert sum(map(len, chunks)) == 3_000_000 and max(map(len, chunks)) <= 1 << 20
    assert responses.calls[0].request.headers["Accept-Encoding"] == "identity"


@responses.activate
def test_put_archive_sends_the_body_as_it_comes_and_a_redirect_is_an_error():
    responses.put(f"{BASE}/containers/{ID}/archive", status=200)
    with Engine("tcp://127.0.0.1:2375") as engine:
        engine.containers.put_archive(ID, "/var/www/.x", iter([b"a", b"b"]))
    assert b"".join(responses.calls[0].request.body) == b"ab"
    responses.put(f"{BASE}/containers/{'b' * 64}/archive", status=301, headers={"Location": "/elsewhere"})
    with Engine("tcp://127.0.0.1:2375") as engine, pytest.raises(ServerError):
        engine.containers.put_archive("b" * 64, "/var/www", iter([b"a"]))


@responses.activate
def test_get_reads_a_small_files_tar_and_stops_past_its_cap():
    responses.get(f"{BASE}/containers/{ID}/archive", body=b"t" * 4096)
    responses.get(f"{BASE}/containers/{'b' * 64}/archive", body=b"t" * 3_000_000)
    with Engine("tcp://127.0.0.1:2375") as engine:
        assert engine.archives.get(ID, "/etc/passwd") == b"t" * 4096
        with pytest.raises(AnswerTooLarge, match=r"^the archive of /etc/passwd is over 1048576 bytes$"):
            engine.archives.get("b" * 64, "/etc/passwd")
        assert engine.archives.get("b" * 64, "/etc/passwd", max_bytes=4_000_000) == b"t" * 3_000_000
    assert responses.calls[1].request.headers["Accept-Encoding"] == "identity"
