"""Stopping and restoring the real dockerd, for the tests that need an engine to go away.

Every integration run on this machine shares this one daemon: when several run at once,
hold /tmp/dl-integration.lock around them. A dockerd that comes back is started by scripts/ensure_dockerd.sh, as
the run and test commands start it: on its own (systemd unit, or `setsid`), never in the
process group or session of the test run, so a signal to the run's group cannot reach it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

from .live import ROOT


def dockerd_pid() -> int | None:
    out = subprocess.run(["pgrep", "-x", "dockerd"], capture_output=True, text=True).stdout.split()
    return int(out[0]) if out else None


def stop_dockerd(seconds: float = 90) -> None:
    """SIGTERM dockerd and wait (bounded) for it to be gone."""
    pid = dockerd_pid()
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + seconds
    while dockerd_pid() is not None:
        if time.monotonic() > end:
            raise RuntimeError("dockerd did not exit after SIGTERM")
        time.sleep(0.2)


def ensure_dockerd() -> None:
    """Start dockerd again if none answers (scripts/ensure_dockerd.sh, as scripts/test.sh does)."""
    subprocess.run(
        ["bash", str(ROOT / "scripts/ensure_dockerd.sh")],
        check=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def lives_on_its_own(pid: int) -> bool:
    """dockerd is neither in this process's group nor in its session."""
    return os.getpgid(pid) != os.getpgrp() and os.getsid(pid) != os.getsid(0)
