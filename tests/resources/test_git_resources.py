"""The git endpoints through falcon's TestClient over a fake engine: every status they answer."""

from __future__ import annotations

import pytest
from falcon import testing

from dockerlink.app import create_app
from dockerlink.config import Config
from dockerlink.engine import ExecResult, ExecStalled, FrameError, ServerError
from dockerlink.git import GIT_ENV, container_argv
from dockerlink.openapi import git as git_openapi
from dockerlink.resources import git as git_resources
from dockerlink.services import Services
from tests.fakes import FakeEngine, FakeStore

PREFIX = container_argv(Config().instance)
FULL_ID = "c" * 64
TOKEN = "t" * 32
OWNED = {"dockerlink": "0.1"}


@pytest.fixture
def engine() -> FakeEngine:
    engine = FakeEngine()
    engine.containers.add("site", labels=OWNED, id=FULL_ID)
    return engine


def client_for(engine: FakeEngine, **config) -> testing.TestClient:
    return testing.TestClient(create_app(Config(**config), engine=engine, store=FakeStore()))


@pytest.fixture
def client(engine) -> testing.TestClient:
    return client_for(engine, git_timeout=45)


def answer(engine: FakeEngine, code: int = 0, stdout: str = "", stderr: str = "", timed_out: bool = False) -> None:
    engine.execs.results.append(ExecResult(code, stdout.encode(), stderr.encode(), timed_out))


# --- 200 / 204 --------------------------------------------------------------------------


def test_get_git_pulls_in_the_container_and_answers_its_output(client, engine):
    answer(engine, 1)  # no remote.*.uploadpack nor receivepack
    answer(engine, 0, "Updating 1..2\nFast-forward\n", "From /srv/origin\n")
    r = client.simulate_get("/v1/git", params={"id": "site"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text == "Updating 1..2\nFast-forward\nFrom /srv/origin\n"
    pull = {"container": FULL_ID, "argv": PREFIX + ["pull"], "env": GIT_ENV, "workdir": "/var/www/html"}
    assert engine.execs.calls[1] == {**pull, "timeout": 45, "user": "admin"}


def test_put_git_initialises_the_path_and_answers_204(client, engine):
    r = client.simulate_put("/v1/git", params={"id": "site", "path": "/srv/new"})
    assert r.status_code == 204
    assert engine.execs.calls[0]["argv"] == PREFIX + ["init", "--", "/srv/new"]
    assert engine.execs.calls[0]["workdir"] == "/"


def test_get_head_answers_the_last_commit(client, engine):
    answer(engine, 0, "commit abc\nAuthor: t\n\n    one\n")
    r = client.simulate_get("/v1/git/head", params={"id": "site", "path": "/srv/r"})
    assert (r.status_code, r.text) == (200, "commit abc\nAuthor: t\n\n    one\n")
    assert engine.execs.calls[0]["workdir"] == "/srv/r"
    assert engine.execs.calls[0]["argv"] == PREFIX + ["log", "-1"]


def test_get_branches_answers_a_json_list_without_symbolic_refs(client, engine):
    answer(
        engine, 0, "refs/heads/main\t\nrefs/remotes/origin/HEAD\trefs/remotes/origin/main\nrefs/remotes/origin/main\t\n"
    )
    r = client.simulate_get("/v1/git/branches", params={"id": "site"})
    assert r.status_code == 200
    assert r.json == ["main", "remotes/origin/main"]
    assert len(engine.execs.calls) == 1


def test_get_branches_with_fetch_fetches_first(client, engine):
    answer(engine, 1)
    answer(engine, 0)
    answer(engine, 0, "refs/heads/main\t\n")
    r = client.simulate_get("/v1/git/branches", params={"id": "site", "fetch": "true"})
    assert r.json == ["main"]
    assert [c["argv"][len(PREFIX) :] for c in engine.execs.calls] == [
        ["config", "--name-only", "--get-regexp", r"^remote\..*\.(uploadpack|receivepack)$"],
        ["fetch", "--all", "--prune"],
        ["for-each-ref", "--format=%(refname)%09%(symref)", "refs/heads", "refs/remotes"],
    ]


def test_get_branch_answers_the_current_branch(client, engine):
    answer(engine, 0, "refs/heads/feature/x\n")
    r = client.simulate_get("/v1/git/branch", params={"id": "site"})
    assert (r.status_code, r.text) == (200, "feature/x")


def test_get_branch_answers_HEAD_when_detached(client, engine):
    answer(engine, 1)
    assert client.simulate_get("/v1/git/branch", params={"id": "site"}).text == "HEAD"


def test_post_branch_switches_with_the_name_after_end_of_options(client, engine):
    answer(engine, 0, "", "branch 'feature' set up to track 'origin/feature'.\nSwitched to a new branch 'feature'\n")
    r = client.simulate_post("/v1/git/branch", params={"id": "site", "branch": "feature"})
    assert r.status_code == 200
    assert "Switched to a new branch 'feature'" in r.text
    assert engine.execs.calls[0]["argv"] == PREFIX + ["switch", "--end-of-options", "feature"]


# --- 400 --------------------------------------------------------------------------------


@pytest.mark.parametrize("branch", ["-f", "--orphan=x", "a..b", "a b", "HEAD", "x.lock"])
def test_post_branch_with_an_invalid_name_is_a_400_before_anything_runs(client, engine, branch):
    r = client.simulate_post("/v1/git/branch", params={"id": "site", "branch": branch})
    assert r.status_code == 400
    assert r.text.startswith("branch:")
    assert engine.containers.inspected == [] and engine.execs.calls == []


def test_post_branch_without_a_name_is_a_400(client, engine):
    r = client.simulate_post("/v1/git/branch", query_string="id=site&branch=")
    assert (r.status_code, r.text) == (400, "branch: is required\n")
    assert engine.execs.calls == []


@pytest.mark.parametrize("path", ["var/www/html", "./x"])
def test_a_relative_path_is_a_400_naming_path(client, engine, path):
    r = client.simulate_get("/v1/git/head", params={"id": "site", "path": path})
    assert r.status_code == 400
    assert r.text.startswith("path:")
    assert engine.execs.calls == []


def test_a_malformed_id_is_a_400_naming_id(client, engine):
    r = client.simulate_get("/v1/git/head", params={"id": "../site"})
    assert r.status_code == 400 and r.text.startswith("id:")


def test_a_malformed_fetch_flag_is_a_400(client):
    r = client.simulate_get("/v1/git/branches", params={"id": "site", "fetch": "maybe"})
    assert r.status_code == 400 and r.text.startswith("fetch:")


def test_a_missing_directory_in_the_container_is_a_400_with_the_engines_message(client, engine):
    answer(
        engine,
        126,
        'OCI runtime exec failed: exec failed: unable to start container process: chdir to cwd ("/nope") '
        "set in config.json failed: no such file or directory: unknown\r\n",
    )
    r = client.simulate_get("/v1/git/head", params={"id": "site", "path": "/nope"})
    assert r.status_code == 400
    assert r.text.startswith("path: cannot work in /nope")
    assert "no such file or directory" in r.text


# --- 401, 403, 404, 405, 409 ------------------------------------------------------------


def test_without_the_token_every_git_endpoint_is_a_401(engine):
    client = client_for(engine, api_token=TOKEN)
    for method, path in [("GET", "/v1/git"), ("PUT", "/v1/git"), ("GET", "/v1/git/head"), ("POST", "/v1/git/branch")]:
        assert client.simulate_request(method, path, params={"id": "site", "branch": "x"}).status_code == 401
    assert engine.containers.inspected == []


def test_with_the_token_git_answers(engine):
    answer(engine, 0, "commit abc\n")
    r = client_for(engine, api_token=TOKEN).simulate_get(
        "/v1/git/head", params={"id": "site"}, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert r.status_code == 200


def test_a_container_dockerlink_did_not_create_is_a_403(client, engine):
    engine.containers.add("db", labels={"com.example.role": "db"})
    r = client.simulate_get("/v1/git", params={"id": "db"})
    assert r.status_code == 403
    assert engine.execs.calls == []


def test_git_without_id_while_git_host_root_is_unset_is_a_403_saying_how_to_enable_it(client, engine):
    r = client.simulate_get("/v1/git/head", params={"path": "/srv/site"})
    assert r.status_code == 403
    assert "set git_host_root" in r.text


def test_git_without_id_outside_git_host_root_is_a_403(engine, tmp_path):
    client = client_for(engine, git_host_root=str(tmp_path))
    r = client.simulate_get("/v1/git/head", params={"path": "/etc"})
    assert r.status_code == 403
    assert "outside git_host_root" in r.text


def test_an_unknown_container_is_a_404(client, engine):
    r = client.simulate_get("/v1/git/head", params={"id": "ghost"})
    assert (r.status_code, r.text) == (404, "No such container: ghost\n")


def test_an_unsupported_method_is_a_405(client):
    assert client.simulate_delete("/v1/git", params={"id": "site"}).status_code == 405


@pytest.mark.parametrize("state", ["exited", "paused"])
def test_a_container_that_is_not_running_is_a_409(client, engine, state):
    engine.containers.add("site", labels=OWNED, running=False, id=FULL_ID, state=state)  # replaces it
    r = client.simulate_get("/v1/git", params={"id": "site"})
    assert r.status_code == 409
    assert f"site is {state}" in r.text
    assert engine.execs.calls == []


# --- 412, 502, 503, 504 -----------------------------------------------------------------


def test_a_failing_git_command_is_a_412_with_its_output_lines_kept(client, engine):
    answer(engine, 128, "", "fatal: your current branch 'master' does not have any commits yet\nhint: commit\n")
    r = client.simulate_get("/v1/git/head", params={"id": "site"})
    assert r.status_code == 412
    assert r.text == "fatal: your current branch 'master' does not have any commits yet\nhint: commit\n"


def test_an_unexpected_engine_error_is_a_502(client, engine):
    def broken(ref: str) -> None:
        raise ServerError(500, "something broke")

    engine.containers.inspect = broken
    assert client.simulate_get("/v1/git/head", params={"id": "site"}).status_code == 502


def test_an_unreachable_engine_is_a_503(client, engine):
    engine.up = False
    r = client.simulate_get("/v1/git/head", params={"id": "site"})
    assert r.status_code == 503 and "unreachable" in r.text


def test_a_command_past_git_timeout_is_a_504(client, engine):
    answer(engine, 124, timed_out=True)
    r = client.simulate_get("/v1/git", params={"id": "site"})
    assert r.status_code == 504
    assert "git_timeout (45 s)" in r.text


# --- the OpenAPI fragment ---------------------------------------------------------------


def test_openapi_declares_exactly_the_routes_and_their_methods(engine):
    declared = {path: set(item) for path, item in git_openapi.PATHS.items()}
    served = {
        path: {name[3:] for name in dir(resource) if name.startswith("on_")}
        for path, resource in git_resources.routes(Services(Config(), engine, FakeStore()))
    }
    assert declared == served


@pytest.mark.parametrize("path, method", [(p, m) for p, item in git_openapi.PATHS.items() for m in item])
def test_openapi_declares_every_status_a_git_endpoint_answers(path, method):
    responses = git_openapi.PATHS[path][method]["responses"]
    success = "204" if (path, method) == ("/v1/git", "put") else "200"
    assert set(responses) == {success, "400", "401", "403", "404", "409", "412", "429", "502", "503", "504"}
    for code, response in responses.items():
        if code.startswith(("4", "5")):
            assert set(response["content"]) == {"text/plain"}


def test_a_corrupt_exec_stream_is_a_502_not_a_500(client, engine):
    def corrupt(*args, **kwargs):
        raise FrameError("truncated frame header at byte 0")

    engine.execs.run = corrupt
    r = client.simulate_get("/v1/git/head", params={"id": "site"})
    assert r.status_code == 502
    assert r.text == "the Docker engine sent a corrupt exec stream: truncated frame header at byte 0\n"


def test_output_past_git_output_max_is_a_200_with_what_fit_and_a_last_line_saying_so(client, engine):
    engine.execs.results.append(ExecResult(-1, b"commit abc\n" + b"x" * 50, b"", truncated=True, exec_id="e" * 64))
    r = client.simulate_get("/v1/git/head", params={"id": "site"})
    assert r.status_code == 200
    assert r.text.endswith("\n[dockerlink: output cut at 8388608 bytes (git_output_max); the command was stopped]\n")
    assert engine.execs.calls[0]["argv"][-2:] == ["log", "-1"]


def test_an_exec_stream_that_stalls_past_its_limit_is_a_504_not_a_503(client, engine):
    def stalled(argv, **kw):
        raise ExecStalled("exec eeeeeeeeeeee sent nothing for 65 s", "e" * 64)

    engine.execs.handler = stalled
    r = client.simulate_get("/v1/git/head", params={"id": "site"})
    assert r.status_code == 504
    assert r.text == "git log ran past git_timeout (45 s) and was killed\n"


def test_a_sites_git_past_git_per_site_is_a_429_with_retry_after(engine):
    import threading

    client = client_for(engine, git_per_site=1)
    inside, release = threading.Event(), threading.Event()

    def slow(argv, **kw):
        inside.set()
        release.wait(10)
        return ExecResult(0, b"refs/heads/main\t\n", b"")

    engine.execs.handler = slow
    first = threading.Thread(target=client.simulate_get, args=("/v1/git/branches",), kwargs={"params": {"id": "site"}})
    first.start()
    assert inside.wait(10)
    r = client.simulate_get("/v1/git/branch", params={"id": "site"})
    release.set()
    first.join()
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    assert r.text.startswith("git on ") and "1 already running for it in this worker" in r.text
    assert client.simulate_get("/v1/git/branch", params={"id": "site"}).status_code == 200  # freed
