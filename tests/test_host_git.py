"""Git on the host against hostile repositories (real git, no daemon): a repository under
git_host_root owned by an unprivileged user cannot make the service run anything as root,
and git never works in a repository outside the root.

The traps are files in a directory only root may write to: a payload that ran as root
leaves one there; as the repository's owner it cannot."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from dockerlink.config import Config
from dockerlink.errors import Forbidden, GitFailed
from dockerlink.git import Git

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("git") is None, reason="needs root (to be another user) and git"
)

NOBODY = pwd.getpwnam("nobody") if os.geteuid() == 0 else None


def sh(cwd: Path, *argv: str) -> str:
    """Test set-up, as root, in repositories that root does not own."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": "/nonexistent",
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": "safe.directory",
        "GIT_CONFIG_VALUE_0": "*",
    }
    return subprocess.run(argv, cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def make_repo(path: Path, owner: pwd.struct_passwd | None = NOBODY) -> Path:
    """A repository with one commit on `main` and a branch `feature`, owned by `owner`."""
    path.mkdir(parents=True, exist_ok=True)
    sh(path, "git", "init", "-q", "-b", "main")
    sh(
        path,
        "git",
        "-c",
        "user.email=t@example.invalid",
        "-c",
        "user.name=t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "one",
    )
    sh(path, "git", "branch", "feature")
    if owner is not None:
        for p in (path, *path.rglob("*")):
            os.lchown(p, owner.pw_uid, owner.pw_gid)
    return path


def executable(path: Path, script: str, owner: pwd.struct_passwd = NOBODY) -> str:
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    os.lchown(path, owner.pw_uid, owner.pw_gid)
    return str(path)


@pytest.fixture
def base():
    """World-traversable (pytest's tmp_path is not: its parent is root's, mode 0700)."""
    path = Path(tempfile.mkdtemp(prefix="dltest-hostgit-", dir="/tmp"))
    path.chmod(0o755)
    (path / "root").mkdir(mode=0o755)
    (path / "trap").mkdir(mode=0o755)  # root's: nobody cannot write here
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def git(base) -> Git:
    return Git(engine=None, config=Config(git_host_root=str(base / "root"), git_timeout=30))


def traces(base: Path) -> list[str]:
    return sorted(p.name for p in (base / "trap").iterdir())


# --- a hostile repository's config and hooks ---------------------------------------------


def test_core_fsmonitor_in_a_repository_leaves_no_trace(base, git):
    repo = make_repo(base / "root" / "site")
    monitor = executable(repo / ".git" / "fsmonitor.sh", f"touch {base}/trap/fsmonitor; exit 1")
    sh(repo, "git", "config", "core.fsmonitor", monitor)
    git.switch(None, str(repo), "feature")
    assert traces(base) == []


def test_a_post_checkout_hook_does_not_run(base, git):
    repo = make_repo(base / "root" / "site")
    executable(repo / ".git" / "hooks" / "post-checkout", f"touch {repo}/.git/hook-ran {base}/trap/hook")
    git.switch(None, str(repo), "feature")
    assert traces(base) == []
    assert not (repo / ".git" / "hook-ran").exists()  # not even as nobody: hooks are off


def test_an_ext_remote_allowed_by_the_repository_leaves_no_trace(base, git):
    repo = make_repo(base / "root" / "site")
    sh(repo, "git", "config", "protocol.ext.allow", "always")
    sh(repo, "git", "remote", "add", "evil", f"ext::sh -c touch% {base}/trap/ext")
    with pytest.raises(GitFailed):
        git.branches(None, str(repo), fetch=True)
    assert traces(base) == []


def test_git_runs_as_the_owner_of_the_repository(base, git):
    repo = make_repo(base / "root" / "site")
    git.switch(None, str(repo), "feature")
    assert (repo / ".git" / "HEAD").read_text() == "ref: refs/heads/feature\n"
    assert (repo / ".git" / "HEAD").stat().st_uid == NOBODY.pw_uid  # written anew, by git, as nobody


def test_a_repository_root_owns_is_worked_in_as_root(base, git):
    repo = make_repo(base / "root" / "site", owner=None)
    assert git.current_branch(None, str(repo)) == "main"


def test_init_runs_as_the_owner_of_the_directory_it_creates_in(base, git):
    parent = base / "root" / "sites"
    parent.mkdir()
    os.chown(parent, NOBODY.pw_uid, NOBODY.pw_gid)
    git.init(None, str(parent / "new"))
    assert (parent / "new" / ".git").stat().st_uid == NOBODY.pw_uid


# --- never outside git_host_root ---------------------------------------------------------


def git_file(site: Path, gitdir: Path) -> None:
    """`site/.git` a file pointing at `gitdir`, all owned by nobody."""
    site.mkdir()
    (site / ".git").write_text(f"gitdir: {gitdir}\n")
    for p in (site, site / ".git"):
        os.lchown(p, NOBODY.pw_uid, NOBODY.pw_gid)


def test_a_git_file_pointing_outside_the_root_is_forbidden(base, git):
    outside = make_repo(base / "outside")
    site = base / "root" / "site"
    git_file(site, outside / ".git")
    with pytest.raises(Forbidden, match="outside git_host_root"):
        git.switch(None, str(site), "feature")
    assert sh(outside, "git", "symbolic-ref", "--short", "HEAD").strip() == "main"


def test_a_repository_above_the_root_is_not_found(base, git):
    make_repo(base, owner=None)  # the root's parent is a repository
    plain = base / "root" / "plain"
    plain.mkdir()
    with pytest.raises(GitFailed, match="not a git repository"):
        git.head(None, str(plain))


def test_init_over_a_git_file_pointing_outside_the_root_is_forbidden(base, git):
    outside = make_repo(base / "outside")
    site = base / "root" / "site"
    git_file(site, outside / ".git")
    with pytest.raises(Forbidden):
        git.init(None, str(site))
