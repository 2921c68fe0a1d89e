"""The shipped systemd units pass `systemd-analyze verify` (contrib/systemd/)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNITS = ROOT / "contrib" / "systemd"
INSTALLED_AT = "/opt/dockerlink"  # where the install steps of docs/operations.md put the checkout


def _installed_from_here(unit: Path, target: Path) -> Path:
    """The unit as installed from this checkout: its /opt/dockerlink paths point here, so
    `verify` checks an ExecStart that exists (it refuses a missing executable)."""
    text = unit.read_text().replace(INSTALLED_AT, str(ROOT))
    out = target / unit.name
    out.write_text(text)
    return out


def _verify(path: Path) -> subprocess.CompletedProcess:
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing: install Debian's systemd (scripts/bootstrap.sh test does)"
    return subprocess.run([tool, "verify", str(path)], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", ["dockerlink.service", "dockerlink-collect.service"])
def test_unit_passes_systemd_analyze_verify(name: str, tmp_path: Path) -> None:
    assert (ROOT / ".venv/bin/dockerlink").exists(), "the package is not installed in .venv (scripts/bootstrap.sh)"
    result = _verify(_installed_from_here(UNITS / name, tmp_path))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # warnings count too


def test_verify_refuses_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a misspelt option is reported."""
    unit = _installed_from_here(UNITS / "dockerlink.service", tmp_path)
    unit.write_text(unit.read_text().replace("ProtectSystem=", "ProtectSystm="))
    result = _verify(unit)
    assert "Unknown key 'ProtectSystm'" in result.stderr  # exit status 0: stderr is what tells


@pytest.mark.parametrize("name", ["dockerlink.service", "dockerlink-collect.service"])
def test_unit_restarts_on_failure_and_runs_the_console_script(name: str) -> None:
    text = (UNITS / name).read_text()
    assert "Restart=on-failure" in text
    command = "serve" if name == "dockerlink.service" else "collect"
    assert f"ExecStart={INSTALLED_AT}/.venv/bin/dockerlink {command}\n" in text
