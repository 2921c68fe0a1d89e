"""Git end to end: a live gunicorn, the real base image, a bare repository inside the
container used as `origin` (branches `main` and `feature`), and git on the host under
`git_host_root`."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from dockerlink.engine import Conflict, ContainerSpec, Engine, NotFound
from tests.test_git import INVALID_BRANCHES, VALID_BRANCHES

from .live import live_service, wait_until

LABELS = {"dockerlink": "test", "dockerlink.test": "1"}
WORKDIR = "/var/www/html"

# origin (bare) with `main` and `feature`; the site's working directory is a clone of it.
SETUP = """
set -e
git config --global user.email test@example.invalid
git config --global user.name test
git config --global init.defaultBranch main
git init -q --bare /srv/origin.git
git init -q /srv/seed
cd /srv/seed
echo one > README && git add README && git commit -qm 'first commit'
git switch -qc feature && echo f > feature.txt && git add feature.txt && git commit -qm 'feature commit'
git switch -q main
git remote add origin /srv/origin.git
git push -q origin main feature
# the site's working directory and origin are its user's (git runs as admin, and a local
# upload-pack gets no `-c safe.directory`); root, setting up, trusts any owner
git config --global --add safe.directory '*'
git clone -q /srv/origin.git /var/www/html && chown -R admin:admin /var/www/html /srv/origin.git
"""


@dataclass
class Site:
    engine: Engine
    name: str
    id: str

    def sh(self, script: str, *args: str, user: str | None = None) -> str:
        """Test set-up inside the container (a shell is fine here, never in dockerlink), as
        root unless `user` says otherwise."""
        result = self.engine.execs.run(self.id, ["sh", "-c", script, "sh", *args], user=user)
        assert result.exit_code == 0, result.output
        return result.stdout.decode()


@contextlib.contextmanager
def git_site(engine: Engine, name: str, base_image: str) -> Iterator[Site]:
    """A started container with SETUP's repositories; removed after, volume too."""
    cid, _ = engine.containers.create(ContainerSpec(image=base_image, labels=LABELS), name=name)
    try:
        engine.containers.start(cid)
        s = Site(engine, name, cid)
        s.sh(SETUP)
        yield s
    finally:
        # Already gone or going is fine: the session's sweep (perhaps another session's) got it first.
        with contextlib.suppress(NotFound, Conflict):
            engine.containers.remove(cid, force=True, volumes=True)


@pytest.fixture
def site(engine, unique_name, base_image):
    with git_site(engine, unique_name, base_image) as s:
        yield s


@pytest.fixture(scope="module")
def shared_site(engine, base_image):
    """One site for the tests that leave its repository as SETUP made it (at most a line
    appended to the working copy's README): a container, its start and SETUP each cost seconds."""
    from .conftest import PREFIX

    with git_site(engine, f"{PREFIX}git-shared", base_image) as s:
        yield s


@pytest.fixture(scope="module")
def host_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("git-host") / "root"


@pytest.fixture(scope="module")
def short_service(engine, tmp_path_factory, host_root):
    """A second live service: git on the host enabled, and a 2 s git_timeout."""
    host_root.mkdir()
    with live_service(tmp_path_factory.mktemp("git-service"), git_host_root=str(host_root), git_timeout="2") as s:
        yield s


# --- in a container, through gunicorn ---------------------------------------------------


def test_head_answers_the_last_commit_of_the_working_directory(service, shared_site):
    r = service.get("/v1/git/head", params={"id": shared_site.name})
    assert r.status_code == 200, r.text
    assert r.text.startswith("commit ")
    assert "first commit" in r.text


def test_pull_brings_in_a_commit_pushed_to_origin(service, site):
    site.sh("cd /srv/seed && echo two >> README && git commit -qam 'second commit' && git push -q origin main")
    r = service.get("/v1/git", params={"id": site.name})
    assert r.status_code == 200, r.text
    assert "Fast-forward" in r.text
    assert "second commit" in service.get("/v1/git/head", params={"id": site.name}).text


def test_branches_lists_local_then_remote_tracking_without_symbolic_refs(service, shared_site):
    r = service.get("/v1/git/branches", params={"id": shared_site.name})
    assert r.status_code == 200
    assert r.json() == ["main", "remotes/origin/feature", "remotes/origin/main"]


def test_branches_with_fetch_sees_new_and_deleted_remote_branches(service, site):
    site.sh("cd /srv/seed && git push -q origin main:hotfix && git push -q origin --delete feature")
    assert "remotes/origin/hotfix" not in service.get("/v1/git/branches", params={"id": site.name}).json()
    r = service.get("/v1/git/branches", params={"id": site.name, "fetch": "true"})
    assert r.json() == ["main", "remotes/origin/hotfix", "remotes/origin/main"]


def test_switching_to_a_remote_only_branch_creates_a_tracking_branch(service, site):
    r = service.request("POST", "/v1/git/branch", params={"id": site.name, "branch": "feature"})
    assert r.status_code == 200, r.text
    assert service.get("/v1/git/branch", params={"id": site.name}).text == "feature"
    upstream = site.sh(f"git -C {WORKDIR} rev-parse --abbrev-ref feature@{{upstream}}")
    assert upstream.strip() == "origin/feature"
    assert service.get("/v1/git/branches", params={"id": site.name}).json()[:2] == ["feature", "main"]


def test_current_branch_is_HEAD_when_detached(service, site):
    site.sh(f"git -C {WORKDIR} checkout -q --detach")
    r = service.get("/v1/git/branch", params={"id": site.name})
    assert (r.status_code, r.text) == (200, "HEAD")


def test_init_creates_the_directory_and_an_empty_repository_has_no_head(service, site):
    path = "/var/www/new/site"  # the site user's: git runs as admin
    # with admin's HOME: its ~/.gitconfig names the first branch (root's says main)
    site.sh("git config --global init.defaultBranch trunk", user="admin")
    r = service.request("PUT", "/v1/git", params={"id": site.name, "path": path})
    assert r.status_code == 204, r.text
    site.sh(f"test -d {path}/.git")
    head = service.get("/v1/git/head", params={"id": site.name, "path": path})
    assert head.status_code == 412
    assert "does not have any commits" in head.text
    assert service.get("/v1/git/branch", params={"id": site.name, "path": path}).text == "trunk"
    assert site.sh(f"stat -c %U {path}/.git/HEAD").strip() == "admin"


@pytest.mark.parametrize("branch", ["-f", "--orphan=x", "a..b", "a b", "", "--end-of-options"])
def test_injection_attempts_are_refused_and_change_nothing(service, shared_site, branch):
    site = shared_site  # each attempt compares the repository before and after itself
    # An uncommitted change that `checkout -f` would throw away.
    site.sh(f"echo local >> {WORKDIR}/README")
    before = site.sh(f"cd {WORKDIR} && git for-each-ref && git status --porcelain && git symbolic-ref HEAD")
    r = service.request("POST", "/v1/git/branch", params={"id": site.name, "branch": branch})
    assert r.status_code == 400
    assert r.text.startswith("branch:")
    after = site.sh(f"cd {WORKDIR} && git for-each-ref && git status --porcelain && git symbolic-ref HEAD")
    assert after == before
    assert " M README" in after


def test_a_missing_directory_is_a_400_naming_it(service, shared_site):
    r = service.get("/v1/git/head", params={"id": shared_site.name, "path": "/no/such/dir"})
    assert r.status_code == 400
    assert r.text.startswith("path: cannot work in /no/such/dir")


def test_git_in_a_stopped_container_is_a_409(service, site, engine):
    engine.containers.stop(site.id, t=0)
    r = service.get("/v1/git/head", params={"id": site.name})
    assert r.status_code == 409
    assert f"{site.name} is exited" in r.text


def test_a_repository_owned_by_another_user_is_not_refused(service, site):
    site.sh(f"chown -R 65534:65534 {WORKDIR}")
    plain = site.engine.execs.run(site.id, ["git", "log", "-1"], workdir=WORKDIR, user="admin")
    assert "dubious ownership" in plain.output  # what safe.directory=* is there for
    r = service.get("/v1/git/head", params={"id": site.name})
    assert r.status_code == 200, r.text


def test_the_branch_validator_agrees_with_git_check_ref_format(shared_site):
    names = VALID_BRANCHES + INVALID_BRANCHES
    script = 'for n do if git check-ref-format --branch "$n" >/dev/null 2>&1; then echo 1; else echo 0; fi; done'
    verdicts = shared_site.sh(script, *names).split()
    git_accepts = {name for name, verdict in zip(names, verdicts, strict=True) if verdict == "1"}
    assert git_accepts == set(VALID_BRANCHES)


def test_a_hanging_pull_is_killed_inside_the_container_at_git_timeout(short_service, site):
    # The site's own smudge filter never ends: the checkout of what `git pull` brings hangs.
    site.sh("cd /srv/seed && echo new > new.txt && git add new.txt && git commit -qm new && git push -q origin main")
    site.sh(
        f"cd {WORKDIR} && git config filter.slow.smudge 'sleep 617' && echo '* filter=slow' > .git/info/attributes",
        user="admin",
    )
    r = short_service.get("/v1/git", params={"id": site.name})
    assert r.status_code == 504, r.text
    assert "git_timeout (2 s)" in r.text
    processes = site.sh("ps -eo args")
    assert "sleep 617" not in processes
    assert "git" not in processes.replace("ps -eo args", "")


# --- the site's user, never root (issue 29) --------------------------------------------

# What the site owner plants to become root: it leaves a mark and a setuid shell.
PAYLOAD = "#!/bin/sh\nid -u > /tmp/dltest-ran-as\ncp /bin/bash /tmp/dltest-rootbash && chmod u+s /tmp/dltest-rootbash\n"
PLANT = {
    "fsmonitor": f"git -C {WORKDIR} config core.fsmonitor /var/www/pwn.sh",
    "post-checkout": f"cp /var/www/pwn.sh {WORKDIR}/.git/hooks/post-checkout",
}


@pytest.mark.parametrize("trap", sorted(PLANT))
def test_a_site_owners_fsmonitor_or_hook_runs_nothing_and_git_works_as_admin(service, site, trap):
    site.sh('printf %s "$1" > /var/www/pwn.sh && chmod 755 /var/www/pwn.sh', PAYLOAD, user="admin")
    site.sh(PLANT[trap], user="admin")
    r = service.request("POST", "/v1/git/branch", params={"id": site.name, "branch": "feature"})
    assert r.status_code == 200, r.text
    assert not {"dltest-ran-as", "dltest-rootbash"} & set(site.sh("ls /tmp").split())  # not even as admin
    # What git wrote, it wrote as the site's user: the checked-out file and the new HEAD.
    assert site.sh(f"stat -c %U {WORKDIR}/feature.txt {WORKDIR}/.git/HEAD").split() == ["admin", "admin"]


def test_without_the_site_user_git_is_a_409_and_runs_nothing(service, site):
    site.sh("sed -i '/^admin:/d' /etc/passwd")
    r = service.get("/v1/git/head", params={"id": site.name})
    assert r.status_code == 409, r.text
    assert r.text == "the container's image has no user admin: git runs in a container only as the site's user\n"


def test_a_repository_naming_its_own_upload_pack_is_refused_before_a_fetch(service, site):
    site.sh(f"git -C {WORKDIR} config remote.origin.uploadpack 'touch /tmp/dltest-up; git-upload-pack'", user="admin")
    for r in (
        service.get("/v1/git", params={"id": site.name}),
        service.get("/v1/git/branches", params={"id": site.name, "fetch": "true"}),
    ):
        assert r.status_code == 409, r.text
        assert r.text.startswith("remote.origin.uploadpack set: dockerlink runs no repository's own upload-pack")
    assert "dltest-up" not in site.sh("ls /tmp").split()


def test_init_where_the_site_user_may_not_write_fails_as_git_would_for_it(service, site):
    r = service.request("PUT", "/v1/git", params={"id": site.name, "path": "/srv/new/site"})
    assert r.status_code == 412, r.text
    assert "Permission denied" in r.text


def test_an_oversized_passwd_is_refused_and_the_worker_reads_only_its_cap(service, site):
    from bench.loadgen import process_tree

    site.sh("truncate -s +1G /etc/passwd")  # as root in the container: sparse, a gigabyte to read
    service.get("/v1/git/branch", params={"id": site.name})  # workers warmed up
    workers = [p for p in process_tree(service.process.pid) if p != service.process.pid]
    before = {pid: _peak_rss_kib(pid) for pid in workers}
    body = {"password": "correct horse battery staple"}
    r = service.request("POST", "/v1/container/access", params={"id": site.name}, json=body)
    assert r.status_code == 409, r.text
    assert r.text.startswith("the container's /etc/passwd is over 1 MiB")
    growth_mib = max(_peak_rss_kib(pid) - before[pid] for pid in workers) / 1024
    assert growth_mib < 32, f"a worker's peak RSS grew by {growth_mib:.0f} MiB reading a 1 GiB /etc/passwd"


@pytest.fixture(scope="module")
def per_site_service(engine, tmp_path_factory):
    """A live service whose sites may run 2 git commands at once per worker (2 workers),
    reading at most 1 MiB of a git command's output (capped_service)."""
    settings = {"git_per_site": "2", "git_timeout": "20", "git_output_max": str(1 << 20)}
    with live_service(tmp_path_factory.mktemp("git-per-site"), **settings) as s:
        yield s


def test_a_flood_of_slow_git_on_one_site_gets_429s_and_the_panel_is_still_answered(per_site_service, site):
    """20 fetches that hang (the site's own ssh config: a ProxyCommand that sleeps) took
    every thread of both workers before the caps; now 2 per worker run, the rest are 429."""
    import threading

    site.sh(
        "mkdir -p -m 700 /var/www/.ssh && printf 'Host slowhost\\n  ProxyCommand sleep 613\\n' > /var/www/.ssh/config"
        f" && chmod 600 /var/www/.ssh/config && git -C {WORKDIR} remote add slow slowhost:repo.git",
        user="admin",
    )
    statuses: list[int] = []

    def fetch() -> None:
        r = per_site_service.get("/v1/git/branches", params={"id": site.name, "fetch": "true"})
        statuses.append(r.status_code)

    flood = [threading.Thread(target=fetch) for _ in range(20)]
    for t in flood:
        t.start()

    def hung() -> int:
        return site.sh("ps -eo args").split("\n").count("sleep 613")

    # Either the refusals came back (capped) or 16 fetches hang, every thread of both workers.
    wait_until(lambda: (len(statuses) >= 16 and hung()) or hung() >= 16, 60, "the 429s or 16 hung fetches")
    for _ in range(4):
        env = per_site_service.get("/v1/env", timeout=10)  # a liveness bound: a starved panel hangs
        assert env.status_code == 200
    assert hung()  # the fetches were still hanging meanwhile
    for t in flood:
        t.join()
    assert statuses.count(429) >= 16, statuses  # at most 2 per worker, 2 workers
    assert set(statuses) <= {429, 504}, statuses


# --- on the host -------------------------------------------------------------------------


def host_git(cwd: Path, *args: str) -> str:
    env_free = ["-c", "user.email=test@example.invalid", "-c", "user.name=test", "-c", "init.defaultBranch=main"]
    done = subprocess.run(["git", *env_free, *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


def test_host_git_is_forbidden_while_git_host_root_is_unset(service, tmp_path):
    r = service.get("/v1/git/head", params={"path": str(tmp_path)})
    assert r.status_code == 403
    assert "set git_host_root" in r.text


def test_host_git_under_git_host_root_runs_on_the_host(short_service, host_root):
    r = short_service.request("PUT", "/v1/git", params={"path": str(host_root / "sites" / "a")})
    assert r.status_code == 204, r.text
    repo = host_root / "sites" / "a"
    assert (repo / ".git").is_dir()
    (repo / "index.html").write_text("hi\n")
    host_git(repo, "add", "index.html")
    host_git(repo, "commit", "-qm", "host commit")
    head = short_service.get("/v1/git/head", params={"path": str(repo)})
    assert head.status_code == 200, head.text
    assert "host commit" in head.text
    current = host_git(repo, "symbolic-ref", "--short", "HEAD").strip()
    assert short_service.get("/v1/git/branch", params={"path": str(repo)}).text == current


def test_host_git_outside_git_host_root_is_forbidden(short_service, host_root):
    outside = host_root.parent / "outside"
    outside.mkdir(exist_ok=True)
    host_git(outside, "init", "-q")
    for path in (outside, host_root / ".." / "outside"):
        r = short_service.get("/v1/git/head", params={"path": str(path)})
        assert r.status_code == 403, path
        assert "outside git_host_root" in r.text


def test_host_git_through_a_symlink_leaving_git_host_root_is_forbidden(short_service, host_root):
    link = host_root / "escape"
    if not link.is_symlink():
        link.symlink_to(host_root.parent)
    r = short_service.get("/v1/git/head", params={"path": str(link)})
    assert r.status_code == 403


def _host_processes_mentioning(marker: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in args:
            found.append(args)
    return found


def test_a_hanging_host_pull_is_killed_with_its_process_group(short_service, host_root, tmp_path):
    origin = tmp_path / "origin"
    host_git(tmp_path, "init", "-q", str(origin))
    (origin / "a.txt").write_text("a\n")
    host_git(origin, "add", "a.txt")
    host_git(origin, "commit", "-qm", "one")
    repo = host_root / "hanging"
    host_git(host_root, "init", "-q", str(repo))
    host_git(repo, "remote", "add", "origin", str(origin))
    host_git(repo, "config", "branch.main.remote", "origin")
    host_git(repo, "config", "branch.main.merge", "refs/heads/main")
    # The repository's own smudge filter never ends: the checkout of what the pull brings hangs.
    host_git(repo, "config", "filter.slow.smudge", "sleep 619")
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "attributes").write_text("* filter=slow\n")
    r = short_service.get("/v1/git", params={"path": str(repo)})
    assert r.status_code == 504, r.text
    assert _host_processes_mentioning("sleep 619") == []


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


@pytest.fixture(scope="module")
def capped_service(per_site_service):
    """A live service reading at most 1 MiB of a git command's output: the per-site one (its
    flood's fetches have all ended by then), not one more service to start and stop."""
    return per_site_service


def test_a_64_mib_git_log_leaves_the_workers_rss_flat_and_answers_what_fit(capped_service, site):
    """Without the cap a worker's peak RSS grew by 147 MiB here; with it, by a few."""
    from bench.loadgen import process_tree

    site.sh(
        "yes 'a huge commit message line' | head -c 67108864 > /tmp/message "
        f"&& git -C {WORKDIR} commit -q --allow-empty -F /tmp/message && rm /tmp/message"
    )
    capped_service.get("/v1/git/branch", params={"id": site.name})  # every worker warmed up once or more
    workers = [p for p in process_tree(capped_service.process.pid) if p != capped_service.process.pid]
    before = {pid: _peak_rss_kib(pid) for pid in workers}
    r = capped_service.get("/v1/git/head", params={"id": site.name}, timeout=120)
    assert r.status_code == 200, r.text[:200]
    assert r.text.endswith("[dockerlink: output cut at 1048576 bytes (git_output_max); the command was stopped]\n")
    assert len(r.content) < (1 << 20) + 200
    growth_mib = max(_peak_rss_kib(pid) - before[pid] for pid in workers) / 1024
    assert growth_mib < 32, f"a worker's peak RSS grew by {growth_mib:.0f} MiB for a 64 MiB output"


def git_execs(engine: Engine, cid: str, since: float, until: float) -> int:
    """How many git execs the engine started in the container between two instants."""
    log = engine.system.events(since, until, {"type": ["container"], "container": [cid], "event": ["exec_create"]})
    return sum(" git " in f" {e.action} " for e in log)


def test_head_of_an_unchanged_site_repository_runs_no_exec_and_a_commit_shows_at_once(service, engine, unique_name):
    """The head cache (dockerlink/git/heads.py) on a real site: the volume read on the host."""
    body = {"name": unique_name, "host_port_root": 46000, "memory": 0.25, "cpulimit": 0.5}
    r = service.request("PUT", "/v1/container", params={"start": "true"}, json=body)
    assert r.status_code == 200, r.text
    cid = r.json()["Id"]
    try:

        def commit(message: str) -> str:
            """A commit by the site's user, as in its terminal; returns its hash."""
            script = (
                "cd /var/www/html && { [ -d .git ] || git init -q; } "
                f"&& git -c user.name=site -c user.email=site@example.invalid commit -q --allow-empty -m '{message}' "
                "&& git rev-parse HEAD"
            )
            result = engine.execs.run(cid, ["sh", "-c", script], user="admin")
            assert result.exit_code == 0, result.output
            return result.stdout.decode().strip()

        first = commit("first")
        assert service.get("/v1/git/head", params={"id": cid}).text.startswith(f"commit {first}\n")
        since = time.time()
        answers = {service.get("/v1/git/head", params={"id": cid}).text for _ in range(12)}
        until_ = time.time() + 0.01
        assert len(answers) == 1 and answers.pop().startswith(f"commit {first}\n")
        # Two workers, a cache each: the one that did not answer the first fills its own once.
        assert git_execs(engine, cid, since, until_) <= 1
        assert git_execs(engine, cid, since - 60, until_) >= 1  # the count sees dockerlink's git execs
        second = commit("second")
        since = time.time()
        for _ in range(3):  # the next request, whichever worker answers it
            assert service.get("/v1/git/head", params={"id": cid}).text.startswith(f"commit {second}\n")
        assert 1 <= git_execs(engine, cid, since, time.time() + 0.01) <= 2  # once per worker at most
    finally:
        service.request("DELETE", "/v1/container", params={"id": cid})
