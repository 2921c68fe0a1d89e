"""Running restic against the configured repository: no secret in any argv, one lock per
repository of our own, output read as `--json`, a failure as one line.

- The repository and its password reach restic through its environment
  (`RESTIC_REPOSITORY`, `RESTIC_PASSWORD_FILE`: a path, never the password), with the
  backend's own variables (`Config.restic_env`) and nothing else of dockerlink's: a
  repository URL may hold a backend's credentials, and an argv is readable by every user
  of the host (/proc/<pid>/cmdline), an environment only by its owner.
- Its cache lives under dockerlink's state directory (`--cache-dir`), not root's home.
- Restic locks a repository itself, but a second process meeting an exclusive lock just
  fails. So dockerlink takes a `flock` of its own per repository first: shared for what
  restic runs side by side (backup, dump, snapshots), exclusive for what needs the
  repository alone (forget, prune, check, unlock). A lock left by a killed restic is
  removed by `restic unlock`, which removes only stale ones (its process gone from this
  host, or older than 30 minutes), and the command is run once more.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..config import Config
from ..statefiles import StateFiles, acquire

log = logging.getLogger("dockerlink.backups")

__all__ = ["Output", "Restic", "ResticError", "ResticBusy", "Source", "Summary"]

#: Seconds a command waits for dockerlink's lock on the repository before giving up.
LOCK_WAIT = 120.0
#: Restic's way of saying another process holds a lock it needs.
_LOCKED = "repository is already locked"
#: Bytes a `dump`'s pipe holds (F_SETPIPE_SZ; Linux's own constant, which Python 3.11's fcntl lacks).
PIPE_SIZE = 1 << 20
_F_SETPIPE_SZ = 1031
#: Seconds a `dump` that closed its output is given to exit, so that its reason is the one told.
_EXIT_WAIT = 10.0
#: What restic may read of dockerlink's own environment besides the backend's variables.
_BASE_ENV = ("PATH", "TMPDIR", "LANG")


#: Called now and then while restic runs (a backup's record shows it is alive).
Progress = Callable[[], None]
#: Seconds between two calls of a run's `progress`, at most, while restic runs.
HEARTBEAT = 2.0
#: Opens what a `--stdin` backup reads (again, for a retry): chunks of bytes.
Source = Callable[[], AbstractContextManager[Iterable[bytes]]]


class ResticError(Exception):
    """restic failed; the message is one line, with no repository URL or password in it."""


class ResticBusy(ResticError):
    """Another dockerlink process held the repository longer than LOCK_WAIT."""


@dataclass(frozen=True)
class Summary:
    """What `restic backup --json` reports at its end."""

    snapshot: str
    added: int  # bytes added to the repository (after dedup and compression)
    processed: int  # bytes read

    @classmethod
    def from_json(cls, line: dict[str, Any]) -> Summary:
        return cls(str(line["snapshot_id"]), int(line.get("data_added", 0)), int(line.get("total_bytes_processed", 0)))


class Restic:
    def __init__(self, config: Config, binary: str = "restic") -> None:
        if not (config.restic_repository and config.restic_password_file):
            raise ValueError("restic_repository and restic_password_file are not set")
        self.repository = config.restic_repository
        self.password_file = config.restic_password_file
        self.binary = binary
        self.host = config.instance
        files = StateFiles.of(config)
        self.cache_dir = Path(files.path("restic_cache"))
        key = hashlib.sha256(self.repository.encode()).hexdigest()[:16]
        self.lock_path = Path(files.path("restic_lock", repository=key))
        self._backend_env = dict(config.restic_env)

    # -- what restic is started with ------------------------------------------------------

    def argv(self, *args: str) -> list[str]:
        """restic's argv: options and arguments only, no repository and no password."""
        return [self.binary, "--json", "--cache-dir", str(self.cache_dir), *args]

    def env(self) -> dict[str, str]:
        env = {k: os.environ[k] for k in _BASE_ENV if k in os.environ}
        env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
        env.update(self._backend_env)
        env.update(
            TZ="UTC",  # forget's days, weeks and months are the retention policy's: UTC ones
            HOME=str(self.cache_dir.parent),
            RESTIC_REPOSITORY=self.repository,
            RESTIC_PASSWORD_FILE=self.password_file,
        )
        return env

    def one_line(self, text: str) -> str:
        """restic's error as one line: its last `Fatal:` line (or last line), secrets out."""
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        fatal = [ln for ln in lines if ln.startswith("Fatal:")]
        line = (fatal or lines or ["restic failed without a message"])[-1]
        line = line.removeprefix("Fatal: ").replace(self.repository, "<restic_repository>")
        return line[:400]

    # -- locking --------------------------------------------------------------------------

    @contextmanager
    def locked(self, exclusive: bool) -> Iterator[None]:
        self.lock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        deadline = time.monotonic() + LOCK_WAIT
        while True:
            try:
                fd = acquire(self.lock_path, wait=False, mode=0o600, shared=not exclusive)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ResticBusy(f"the restic repository stayed busy for {LOCK_WAIT:g} s") from None
                time.sleep(0.1)
        try:
            yield
        finally:
            os.close(fd)

    # -- running --------------------------------------------------------------------------

    def run(
        self, *args: str, exclusive: bool = False, stdin: Source | None = None, progress: Progress | None = None
    ) -> list[dict]:
        """Run one command under the lock; its `--json` output, one value per line. A stale
        lock in the repository is removed and the command run once more (with `stdin`
        opened again: restic refuses a lock before it reads any)."""
        with self.locked(exclusive):
            try:
                return self._run(args, stdin, progress)
            except ResticError as exc:
                if _LOCKED not in str(exc):
                    raise
            self._unlock()
            return self._run(args, stdin, progress)

    def unlock(self) -> None:
        """Remove the stale locks (restic decides which; a live process's lock stays)."""
        with self.locked(exclusive=True):
            self._unlock()

    def _unlock(self) -> None:
        self._run(("unlock",), None)

    def _run(self, args: Sequence[str], stdin: Source | None, progress: Progress | None = None) -> list[dict]:
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = self._start(args, subprocess.PIPE if stdin is not None else subprocess.DEVNULL, out, err)
            try:
                if stdin is not None:
                    with stdin() as chunks:
                        _feed(proc.stdin, chunks, progress)  # type: ignore[arg-type]
                code = _wait(proc, progress)
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            self._check(code, err)
            out.seek(0)
            return _json_lines(out.read())

    @contextmanager
    def reading(self, *args: str) -> Iterator[Output]:
        """A command whose stdout is data (`dump`), under a shared lock: its stdout, read by
        the caller; ResticError on leaving if restic failed. When reading it failed after
        the stream had ended (restic stopped writing: a tar cut short), restic's own
        failure, if it failed, is raised instead: its reason, not what the cut made of it
        (`Output.failure` tells it to a reader that fails elsewhere)."""
        with self.locked(exclusive=False), tempfile.TemporaryFile() as err:
            proc = self._start(args, subprocess.DEVNULL, subprocess.PIPE, err)
            _widen(proc.stdout)  # type: ignore[arg-type]
            out = Output(proc.stdout, lambda: self._failure(proc, err))  # type: ignore[arg-type]
            try:
                yield out  # type: ignore[misc]
                while out.read(1 << 20):
                    pass
                code = proc.wait()
            except Exception:
                failed = out.failure()
                proc.kill()
                proc.wait()
                if failed is not None:
                    raise failed from None
                raise
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                out.close()
            self._check(code, err)

    def _failure(self, proc: subprocess.Popen, err: IO[bytes]) -> ResticError | None:
        """restic's failure once it has closed its output (None: it exited 0, or is not
        done within a few seconds)."""
        try:
            self._check(proc.wait(timeout=_EXIT_WAIT), err)
        except subprocess.TimeoutExpired:
            return None
        except ResticError as exc:
            return exc
        return None

    def _start(self, args: Sequence[str], stdin: Any, stdout: Any, err: IO[bytes]) -> subprocess.Popen:  # noqa: ANN401
        try:
            return subprocess.Popen(
                self.argv(*args), stdin=stdin, stdout=stdout, stderr=err, env=self.env(), start_new_session=True
            )
        except OSError as exc:
            raise ResticError(f"cannot run restic: {exc.strerror}") from None

    def _check(self, code: int, err: IO[bytes]) -> None:
        """ResticError unless restic exited 0; after a kill, its stale lock removed first."""
        if code < 0:  # killed: its lock stays in the repository, stale; restic removes it
            self._unlock_after_kill()
            raise ResticError(f"restic was killed (signal {-code})")
        if code != 0:
            err.seek(0)
            raise ResticError(self.one_line(err.read().decode(errors="replace")))

    def _unlock_after_kill(self) -> None:
        try:
            self._unlock()
        except ResticError as exc:
            log.warning("restic unlock after a killed run failed: %s", exc)

    # -- the commands dockerlink uses -------------------------------------------------------

    def init_if_missing(self) -> None:
        """Create the repository unless one is there (tests and first runs)."""
        try:
            self.run("cat", "config")
        except ResticError:
            self.run("init")

    def backup(
        self, paths: Sequence[str], tags: Sequence[str], stdin: Source | None = None, progress: Progress | None = None
    ) -> Summary:
        """Back up `paths` (or, with `stdin`, the bytes it opens as the one file `paths[0]` names)."""
        args = ["backup", "--host", self.host, *_tag_args(tags)]
        if stdin is not None:
            args += ["--stdin", "--stdin-filename", paths[0]]
        else:
            args += ["--", *paths]
        summaries = [m for m in self.run(*args, stdin=stdin, progress=progress) if m.get("message_type") == "summary"]
        if not summaries:
            raise ResticError("restic backup ended without a summary")
        return Summary.from_json(summaries[-1])

    def snapshots(self, tags: Sequence[str]) -> list[dict[str, Any]]:
        """The repository's snapshots carrying every one of `tags`, whichever host took them."""
        listed = self.run("snapshots", *_tag_args([",".join(tags)]))
        return [s for s in (listed[0] if listed and isinstance(listed[0], list) else []) if isinstance(s, dict)]

    def forget_snapshots(self, snapshots: Sequence[str]) -> None:
        self.run("forget", "--", *snapshots, exclusive=True)

    def forget_policy(
        self, tags: Sequence[str], keep_daily: int, keep_weekly: int, keep_monthly: int, prune: bool
    ) -> list[str]:
        """`forget --keep-*` over this host's snapshots carrying every one of `tags`, one
        group per backed-up path (a site); the full ids of the snapshots removed."""
        args = ["forget", "--host", self.host, "--group-by", "host,paths", *_tag_args([",".join(tags)])]
        args += ["--keep-daily", str(keep_daily), "--keep-weekly", str(keep_weekly)]
        args += ["--keep-monthly", str(keep_monthly)]
        if prune:
            args.append("--prune")
        removed = []
        for group in self.run(*args, exclusive=True):
            if isinstance(group, list):  # restic prints the groups as one JSON array
                removed += [s["id"] for g in group for s in g.get("remove") or []]
            elif isinstance(group, dict):
                removed += [s["id"] for s in group.get("remove") or []]
        return removed

    def check(self) -> None:
        self.run("check", exclusive=True)

    def stats_raw(self) -> int:
        """Bytes the repository stores (`stats --mode raw-data`)."""
        return int(self.run("stats", "--mode", "raw-data")[-1]["total_size"])


def _tag_args(tags: Sequence[str]) -> list[str]:
    return [a for t in tags for a in ("--tag", t)]


def _widen(pipe: IO[bytes]) -> None:
    """A pipe of PIPE_SIZE: restic writes ahead while the reader works, and each read takes
    more (the default 64 KiB made a restore's reads several times as many; bench/backup.py)."""
    try:
        fcntl.fcntl(pipe.fileno(), _F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:  # over /proc/sys/fs/pipe-max-size for an unprivileged process: the default
        pass


class Output:
    """restic's stdout, noting whether its end was read (restic stopped writing)."""

    def __init__(self, f: IO[bytes], failure: Callable[[], ResticError | None]) -> None:
        self._f = f
        self._failure = failure
        self.ended = False

    def failure(self) -> ResticError | None:
        """Once the end was read: restic's failure, if it failed (None: not known to)."""
        return self._failure() if self.ended else None

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        if not data and n != 0:
            self.ended = True
        return data

    def close(self) -> None:
        self._f.close()


def _feed(pipe: IO[bytes], chunks: Iterable[bytes], progress: Progress | None) -> None:
    try:
        for chunk in chunks:
            pipe.write(chunk)
            if progress:
                progress()
    except BrokenPipeError:
        pass  # restic stopped reading: its exit code and message say why
    finally:
        try:
            pipe.close()
        except BrokenPipeError:
            pass


def _wait(proc: subprocess.Popen, progress: Progress | None) -> int:
    """restic's exit code, calling `progress` every HEARTBEAT seconds meanwhile."""
    while True:
        try:
            return proc.wait(timeout=HEARTBEAT)
        except subprocess.TimeoutExpired:
            if progress:
                progress()


def _json_lines(data: bytes) -> list[Any]:
    out = []
    for line in data.splitlines():
        line = line.strip()
        if line.startswith((b"{", b"[")):
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
    return out
