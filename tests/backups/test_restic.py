"""The restic runner and target without a repository: a fake `restic` executable that
records its argv and environment and answers as restic 0.14 does (`--json`). What restic
is started with (no password, no repository URL in the argv; the backend's variables and
nothing of dockerlink's own in the environment), the stale-lock retry, one-line errors
with no URL in them, the settings, and restic's tar rewritten into the engine's shape."""

from __future__ import annotations

import io
import json
import stat
import sys
import tarfile
import textwrap

import pytest

from dockerlink.backups.members import Rules
from dockerlink.backups.restic import Restic, ResticError
from dockerlink.backups.targets import as_www, www_renamer
from dockerlink.config import Config, ConfigError

PASSWORD = "fake-password-1b2c3d"
REPO = "rest:https://backup:s3cr3t-in-url@restic.example/host1/"

FAKE = textwrap.dedent(
    """\
    #!{python}
    import json, os, sys
    log = "{log}"
    with open(log, "a") as f:
        f.write(json.dumps({{"argv": sys.argv, "env": dict(os.environ)}}) + "\\n")
    calls = [json.loads(l) for l in open(log)]
    cmd = [a for a in sys.argv[1:] if not a.startswith("-")][1:2]
    mode = open("{mode}").read() if os.path.exists("{mode}") else ""
    if mode == "locked-once" and cmd == ["snapshots"] and sum("snapshots" in c["argv"] for c in calls) == 1:
        sys.stderr.write("unable to create lock in backend: repository is already locked by PID 9 on vm\\n")
        sys.exit(1)
    if mode == "down":
        sys.stderr.write("Fatal: unable to open config file: Head \\"{repo}config\\": connection refused\\n")
        sys.stderr.write("Is there a repository at the following location?\\n{repo}\\n")
        sys.exit(1)
    if "backup" in sys.argv:
        sys.stdin.read() if "--stdin" in sys.argv else None
        print(json.dumps({{"message_type": "status", "percent_done": 0.5}}))
        print(json.dumps({{"message_type": "summary", "snapshot_id": "abcd1234", "data_added": 7,
                          "total_bytes_processed": 99}}))
    else:
        print("[]")
    """
)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    exe = tmp_path / "restic"
    log = tmp_path / "calls.jsonl"
    exe.write_text(FAKE.format(python=sys.executable, repo=REPO, log=log, mode=tmp_path / "mode"))
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("api_token", "the-panels-token-0123456789")  # dockerlink's own: never restic's
    (tmp_path / "pw").write_text(PASSWORD)
    config = Config.from_mapping(
        {
            "restic_repository": REPO,
            "restic_password_file": str(tmp_path / "pw"),
            "stats_db": str(tmp_path / "state" / "stats.sqlite3"),
            "AWS_ACCESS_KEY_ID": "AKIAFAKE",
            "instance_id": "host1",
        }
    )
    restic = Restic(config, binary=str(exe))

    def calls() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    return restic, calls, tmp_path


def test_restic_is_started_with_no_secret_in_its_argv_and_only_its_own_environment(fake):
    restic, calls, tmp = fake
    summary = restic.backup(["/srv/site"], ["dockerlink", "dockerlink-site=s1"])
    assert (summary.snapshot, summary.added, summary.processed) == ("abcd1234", 7, 99)
    [call] = calls()
    argv, env = call["argv"], call["env"]
    assert argv[1:] == [
        "--json",
        "--cache-dir",
        str(tmp / "state" / "restic" / "cache"),
        "backup",
        "--host",
        "host1",
        "--tag",
        "dockerlink",
        "--tag",
        "dockerlink-site=s1",
        "--",
        "/srv/site",
    ]
    assert not [a for a in argv if PASSWORD in a or "s3cr3t" in a]
    assert env["RESTIC_PASSWORD_FILE"] == str(tmp / "pw")
    assert env["RESTIC_REPOSITORY"] == REPO
    assert env["AWS_ACCESS_KEY_ID"] == "AKIAFAKE"
    assert "RESTIC_PASSWORD" not in env and "api_token" not in env and PASSWORD not in json.dumps(env)


def test_a_stale_lock_is_unlocked_and_the_command_run_once_more(fake):
    restic, calls, tmp = fake
    (tmp / "mode").write_text("locked-once")
    assert restic.run("snapshots") == [[]]
    assert [c["argv"][4] for c in calls()] == ["snapshots", "unlock", "snapshots"]


def test_a_failure_is_one_line_without_the_repository(fake):
    restic, _, tmp = fake
    (tmp / "mode").write_text("down")
    with pytest.raises(ResticError) as failed:
        restic.run("snapshots")
    assert str(failed.value) == 'unable to open config file: Head "<restic_repository>config": connection refused'


def test_a_stream_backup_reads_what_is_opened(fake):
    restic, calls, _ = fake
    from contextlib import contextmanager

    @contextmanager
    def opened():
        yield iter([b"a" * 10, b"b" * 10])

    assert restic.backup(["s1.tar"], ["dockerlink"], stdin=opened).snapshot == "abcd1234"
    assert calls()[0]["argv"][-3:] == ["--stdin", "--stdin-filename", "s1.tar"]


@pytest.mark.parametrize(
    ("settings", "error"),
    [
        ({"backup_target": "restic"}, "backup_target: restic needs restic_repository and restic_password_file"),
        ({"backup_target": "restic", "restic_repository": "/srv/r"}, "backup_target: restic needs"),
        ({"backup_target": "s3"}, "backup_target: expected local or restic, got 's3'"),
        ({"restic_password_file": "pw"}, "restic_password_file: must be an absolute path, got 'pw'"),
        ({"restic_repository": "--password-command=x"}, "restic_repository: expected a repository"),
    ],
)
def test_restic_settings_are_checked(settings, error):
    with pytest.raises(ConfigError) as refused:
        Config.from_mapping(settings)
    assert str(refused.value).startswith(error)


def test_the_backend_variables_are_kept_only_with_a_repository():
    assert Config.from_mapping({"AWS_ACCESS_KEY_ID": "x"}).restic_env == ()
    c = Config.from_mapping({"restic_repository": "/srv/repo-xyz", "B2_ACCOUNT_ID": "b", "HOME": "/root"})
    assert c.restic_env == (("B2_ACCOUNT_ID", "b"),)
    assert "repo-xyz" not in repr(c)


def _restic_dump(root: str) -> bytes:
    """A tar as `restic dump --archive tar <snapshot> <root's parent>` writes it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, data in (
            (root, tarfile.DIRTYPE, None),
            (f"{root}/html", tarfile.DIRTYPE, None),
            (f"{root}/html/été.txt", tarfile.REGTYPE, b"accent"),
            (f"{root}/html/hard", tarfile.LNKTYPE, f"{root}/html/été.txt"),
            (f"{root}/html/link", tarfile.SYMTYPE, "/etc/passwd"),
        ):
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.LNKTYPE or kind == tarfile.SYMTYPE:
                info.linkname = data
                data = None
            info.size = len(data) if data else 0
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def test_restics_tar_is_rewritten_as_the_engines_www_tree():
    root = "var/lib/docker/volumes/dockerlink-s1-www/_data"
    out = io.BytesIO()
    as_www(io.BytesIO(_restic_dump(root)), www_renamer("/" + root), out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        members = [(m.name, m.linkname) for m in tar.getmembers()]
        rules = Rules()
        for m in tar.getmembers():
            rules.check(m)
        assert tar.extractfile("www/html/été.txt").read() == b"accent"
    assert members == [
        ("www", ""),
        ("www/html", ""),
        ("www/html/été.txt", ""),
        ("www/html/hard", "www/html/été.txt"),
        ("www/html/link", "/etc/passwd"),
    ]
    assert not [n for n, _ in members if "volumes" in n]


def test_the_restic_target_is_refused_where_it_is_not_set_up(tmp_path):
    from dockerlink.backups import Backups
    from dockerlink.errors import Conflicting, InvalidInput
    from tests.fakes import FakeEngine

    backups = Backups(FakeEngine(), Config(backup_dir=str(tmp_path)), notify=lambda *_: None)
    with pytest.raises(Conflicting) as refused:
        backups.check_target("restic")
    assert str(refused.value).startswith("target: restic is not set up")
    with pytest.raises(InvalidInput):
        backups.check_target("tape")
    assert backups.check_target(None) == "local"


def test_a_restic_backup_on_a_host_no_longer_set_up_for_restic_is_a_conflict(tmp_path):
    from dockerlink.backups import Backups, Catalog, Record
    from dockerlink.errors import Conflicting
    from tests.fakes import FakeEngine

    Catalog(tmp_path).site_dir("site1", create=True)
    record = Record(
        backup="20260101T000000Z-0000000a", name="site1", kind="manual", state="done", started=1.0, target="restic"
    )
    record.snapshot, record.source, record.path = "abcd1234", "files", "/srv/x"
    Catalog(tmp_path).save(record)
    backups = Backups(FakeEngine(), Config(backup_dir=str(tmp_path)), notify=lambda *_: None)
    for call in (backups.download, backups.remove):
        with pytest.raises(Conflicting) as refused:
            call("site1", record.backup)
        assert str(refused.value) == "target: restic is not set up on this host (restic_repository)"
    assert [b["backup"] for b in backups.list("site1")] == [record.backup]  # kept: its snapshot may still be there
