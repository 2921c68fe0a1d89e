"""The git head cache against real repositories (host git, no daemon): an answer is reused
only while the repository's state is the one it was made from, and never for a repository
whose state cannot be read safely or whose output could change unseen."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from dockerlink.engine import ContainerDetails
from dockerlink.git.heads import HeadCache, HostView, host_view, repo_state

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

ENV = {
    "PATH": os.environ["PATH"],
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "site",
    "GIT_AUTHOR_EMAIL": "site@example.invalid",
    "GIT_COMMITTER_NAME": "site",
    "GIT_COMMITTER_EMAIL": "site@example.invalid",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, env=ENV, check=True, capture_output=True, text=True).stdout


class Repo:
    """A repository at <volume>/html, seen as a container's /var/www/html through /var/www."""

    def __init__(self, volume: Path) -> None:
        self.path = volume / "html"
        self.path.mkdir()
        git(self.path, "init", "-q", "-b", "main")
        self.commit("first")
        self.view = HostView("c" * 64, 1000, str(volume), ("html",))
        self.runs = 0

    def commit(self, message: str) -> None:
        git(self.path, "commit", "-q", "--allow-empty", "-m", message)

    def log(self) -> str:
        """What the exec would answer: real `git log -1` in the repository."""
        self.runs += 1
        return git(self.path, "log", "-1")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def test_an_unchanged_repository_answers_again_without_running_git(repo):
    cache = HeadCache()
    first = cache.head(repo.view, repo.log)
    assert cache.head(repo.view, repo.log) == first == git(repo.path, "log", "-1")
    assert repo.runs == 1 and cache.hits == 1


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.commit("second"),  # a commit in the site's terminal, a pull by another worker
        lambda r: git(r.path, "checkout", "-q", "-b", "other") and None or r.commit("on other"),
        lambda r: git(r.path, "checkout", "-q", "--detach", "HEAD~0") and None or r.commit("detached"),
        lambda r: git(r.path, "commit", "-q", "--amend", "--allow-empty", "-m", "amended"),
        lambda r: (r.path / ".mailmap").write_text("Someone Else <x@example.invalid> <site@example.invalid>\n"),
        lambda r: git(r.path, "notes", "add", "-m", "a note"),
    ],
    ids=["commit", "new-branch", "detached", "amend", "mailmap", "notes"],
)
def test_any_change_that_changes_the_answer_runs_git_again(repo, change):
    cache = HeadCache()
    cache.head(repo.view, repo.log)
    change(repo)
    after = cache.head(repo.view, repo.log)
    assert after == git(repo.path, "log", "-1")
    assert repo.runs == 2


def test_a_packed_ref_is_followed_and_packing_is_a_change(repo):
    cache = HeadCache()
    cache.head(repo.view, repo.log)
    git(repo.path, "pack-refs", "--all")
    assert not (repo.path / ".git/refs/heads/main").exists()
    cache.head(repo.view, repo.log)
    assert repo.runs == 2
    assert cache.head(repo.view, repo.log) == git(repo.path, "log", "-1")
    assert repo.runs == 2  # the packed ref's commit is found, the answer reused


def test_a_restarted_container_runs_git_again(repo):
    cache = HeadCache()
    cache.head(repo.view, repo.log)
    restarted = HostView(repo.view.container, 2000, repo.view.source, repo.view.parts)
    cache.head(restarted, repo.log)
    assert repo.runs == 2


@pytest.mark.parametrize(
    "setting",
    [
        ["include.path", "/home/admin/extra"],
        ["log.date", "relative"],
        ["format.pretty", "oneline"],
        ["mailmap.file", "/home/admin/mailmap"],
        ["notes.displayRef", "refs/notes/*"],
    ],
)
def test_a_config_that_can_change_the_output_unseen_is_never_cached(repo, setting):
    git(repo.path, "config", *setting)
    cache = HeadCache()
    for _ in range(3):
        cache.head(repo.view, repo.log)
    assert repo.runs == 3 and cache.hits == 0


def test_replace_refs_and_grafts_are_never_cached(repo):
    repo.commit("second")
    git(repo.path, "replace", "HEAD", "HEAD~1")
    cache = HeadCache()
    cache.head(repo.view, repo.log)
    cache.head(repo.view, repo.log)
    assert repo.runs == 2
    git(repo.path, "replace", "-d", "HEAD")
    shutil.rmtree(repo.path / ".git/refs/replace")
    (repo.path / ".git/info/grafts").write_text("")
    cache.head(repo.view, repo.log)
    cache.head(repo.view, repo.log)
    assert repo.runs == 4


def test_an_answer_for_another_commit_than_the_state_names_is_not_kept(repo):
    """What proves the path read on the host is the container's: the answer's commit."""
    cache = HeadCache()

    def elsewhere() -> str:
        repo.runs += 1
        return "commit " + "0" * 40 + "\nAuthor: someone\n"

    cache.head(repo.view, elsewhere)
    cache.head(repo.view, elsewhere)
    assert repo.runs == 2


def test_a_change_while_git_runs_is_not_kept(repo):
    cache = HeadCache()

    def racing() -> str:
        out = repo.log()
        repo.commit("meanwhile")
        return out

    cache.head(repo.view, racing)
    assert cache.head(repo.view, repo.log) == git(repo.path, "log", "-1")
    assert repo.runs == 2


def test_a_failed_git_is_not_kept(repo):
    cache = HeadCache()

    def fails() -> str:
        raise RuntimeError("git failed")

    with pytest.raises(RuntimeError):
        cache.head(repo.view, fails)
    cache.head(repo.view, repo.log)
    assert repo.runs == 1 and cache.hits == 0


def test_symlinks_on_the_way_are_never_followed(repo, tmp_path):
    # .git a symlink to the real one: the state is not read, git runs every time.
    (repo.path / ".git").rename(tmp_path / "real.git")
    (repo.path / ".git").symlink_to(tmp_path / "real.git")
    assert repo_state(repo.view) is None
    # The working directory itself a symlink.
    link = HostView(repo.view.container, 1, str(tmp_path), ("link",))
    (tmp_path / "link").symlink_to(repo.path)
    assert repo_state(link) is None


def test_a_symlinked_head_or_ref_is_not_read(repo, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("ref: refs/heads/main\n")
    (repo.path / ".git/HEAD").unlink()
    (repo.path / ".git/HEAD").symlink_to(secret)
    assert repo_state(repo.view) is None
    (repo.path / ".git/HEAD").unlink()
    (repo.path / ".git/HEAD").write_text("ref: refs/heads/main\n")
    ref = repo.path / ".git/refs/heads/main"
    commit = ref.read_text()
    ref.unlink()
    (tmp_path / "ref").write_text(commit)
    ref.symlink_to(tmp_path / "ref")
    assert repo_state(repo.view) is None


def test_a_fifo_named_head_does_not_hang_the_worker(repo):
    (repo.path / ".git/HEAD").unlink()
    os.mkfifo(repo.path / ".git/HEAD")
    done = threading.Event()
    result: list[object] = []
    threading.Thread(target=lambda: (result.append(repo_state(repo.view)), done.set()), daemon=True).start()
    assert done.wait(10), "repo_state hung on a FIFO"
    assert result == [None]


def test_a_ref_outside_refs_is_not_read(repo):
    (repo.path / ".git/HEAD").write_text("ref: refs/../../config\n")
    assert repo_state(repo.view) is None
    (repo.path / ".git/HEAD").write_text("ref: /etc/passwd\n")
    assert repo_state(repo.view) is None


def test_no_git_directory_means_no_state(tmp_path):
    (tmp_path / "html").mkdir()
    assert repo_state(HostView("c", 1, str(tmp_path), ("html",))) is None
    assert repo_state(HostView("c", 1, str(tmp_path / "absent"), ())) is None


def test_the_view_goes_through_the_innermost_mount_holding_the_workdir():
    mounts = {"/var/www": "/v/www/_data", "/var/www/html/uploads": "/v/up/_data", "/etc/x": "/x"}
    assert host_view("c", 1, mounts, "/var/www/html") == HostView("c", 1, "/v/www/_data", ("html",))
    assert host_view("c", 1, mounts, "/var/www/html/uploads/a") == HostView("c", 1, "/v/up/_data", ("a",))
    assert host_view("c", 1, mounts, "/var/www") == HostView("c", 1, "/v/www/_data", ())
    assert host_view("c", 1, mounts, "/var/wwwx") is None
    assert host_view("c", 1, {}, "/var/www/html") is None


def test_inspect_gives_each_mounts_source():
    details = ContainerDetails.from_api(
        {
            "Id": "c" * 64,
            "Mounts": [
                {"Type": "volume", "Name": "v", "Source": "/var/lib/docker/volumes/v/_data", "Destination": "/var/www"},
                {"Type": "bind", "Source": "/srv/x", "Destination": "/x"},
                {"Type": "tmpfs", "Destination": "/tmp"},
            ],
        }
    )
    assert details.mounts == {"/var/www": "/var/lib/docker/volumes/v/_data", "/x": "/srv/x"}
    assert details.volumes == {"/var/www": "v"}


def test_reading_the_state_leaves_no_descriptor_open(repo, tmp_path):
    """Absent files part-way down a path (refs/notes/commits), a symlinked .git: no fd kept."""
    broken = tmp_path / "broken"
    (broken / "html/.git").mkdir(parents=True)
    (broken / "html/.git/HEAD").symlink_to("/etc/hostname")
    views = [repo.view, HostView("c", 1, str(broken), ("html",)), HostView("c", 1, str(tmp_path), ("none",))]
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        for view in views:
            repo_state(view)
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_long_answer_is_not_kept(repo):
    git(repo.path, "commit", "-q", "--allow-empty", "-m", "x" * 70_000)
    cache = HeadCache()
    cache.head(repo.view, repo.log)
    cache.head(repo.view, repo.log)
    assert repo.runs == 2
