import os
import signal
import subprocess
import sys
from pathlib import Path

import dockerlink
from dockerlink.collector.supervisor import CollectorSupervisor, collector_argv
from tests.waiting import until

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]  # a child that stays up


def test_a_collector_that_dies_is_started_again():
    sup = CollectorSupervisor(SLEEPER, poll=0.02, first_delay=0.02)
    sup.start()
    try:
        first = sup.process
        first.send_signal(signal.SIGKILL)
        until(lambda: sup.restarts == 1, "the killed collector was started again")
        assert sup.process is not first and sup.process.poll() is None
    finally:
        sup.stop()


def test_stop_terminates_the_collector_and_no_restart_follows():
    sup = CollectorSupervisor(SLEEPER, poll=0.02, first_delay=0.02)
    sup.start()
    child = sup.process
    sup.stop(timeout=10)
    assert child.poll() is not None
    until(lambda: not sup._thread.is_alive(), "the watchdog thread ended")  # nothing left to restart it
    assert sup.process is child and sup.restarts == 0


def _exited(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")  # a zombie has exited
    except FileNotFoundError:
        return True


def test_the_collector_exits_by_itself_when_the_master_is_gone(tmp_path):
    """The master is SIGKILLed (no on_exit hook runs): its collector must not live on."""
    log = tmp_path / "collector.log"
    master = (
        "import subprocess, sys, os\n"
        f"out = open({str(log)!r}, 'wb')\n"
        f"p = subprocess.Popen({collector_argv(0)[:-1]!r} + [str(os.getpid())], stdout=out, stderr=out)\n"
        "print(p.pid, flush=True)\n"
        "import time; deadline = time.monotonic() + 20\n"  # a liveness bound only
        f"while b'collecting every' not in open({str(log)!r}, 'rb').read():\n"  # the collector started
        "    if time.monotonic() > deadline: sys.exit('the collector did not start within 20 s')\n"
        "    time.sleep(0.02)\n"
    )
    env = {"docker_sock": str(tmp_path / "none.sock"), "stats_db": str(tmp_path / "s.sqlite3"), "stats_interval": "1"}
    env["PYTHONPATH"] = str(Path(dockerlink.__file__).parents[1])  # this checkout's code, not the venv's install
    out = subprocess.run(
        [sys.executable, "-c", master], env={**os.environ, **env}, cwd=tmp_path, capture_output=True, timeout=30
    )
    assert out.returncode == 0, out.stderr.decode()
    collector = int(out.stdout)
    until(lambda: _exited(collector), "the collector exited after its master")
    assert "collecting every 1 s" in log.read_text()  # it did run, and stopped
    assert "collector stopped" in log.read_text()
