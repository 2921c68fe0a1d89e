"""The Prometheus files docs/operations.md shows (contrib/prometheus/) pass promtool, and the
alerts fire on the series they are about (`promtool test rules`)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTRIB = ROOT / "contrib" / "prometheus"


def _promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: install Debian's prometheus (scripts/bootstrap.sh test does)"
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_the_operations_doc_shows_the_checked_files():
    doc = (ROOT / "docs" / "operations.md").read_text()
    for name in ("prometheus.yml", "dockerlink-alerts.yml"):
        assert (CONTRIB / name).read_text().strip() in doc, name


def test_alert_rules_pass_promtool_check_rules():
    result = _promtool("check", "rules", str(CONTRIB / "dockerlink-alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 rules found" in result.stdout


def test_scrape_config_passes_promtool_check_config(tmp_path):
    text = (CONTRIB / "prometheus.yml").read_text().replace("/etc/prometheus/", f"{tmp_path}/")
    (tmp_path / "prometheus.yml").write_text(text)
    shutil.copy(CONTRIB / "dockerlink-alerts.yml", tmp_path)
    for host in ("host1", "host2"):
        (tmp_path / f"dockerlink-{host}.token").write_text("token-0123456789abcdef")
    result = _promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


#: Every rule test: the alert rules, evaluated each minute over series a minute apart.
RULES_HEAD = """
rule_files: [dockerlink-alerts.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
"""

RULE_TESTS = (
    RULES_HEAD
    + """
      - series: 'dockerlink_site_running{id="a", name="site1", host="h1"}'
        values: '1x10 0x10'
      - series: 'dockerlink_site_running{id="b", name="site2", host="h1"}'
        values: '1x20'
      - series: 'dockerlink_site_oom_kills_total{id="a", name="site1", host="h1"}'
        values: '0x5 1 1 1x10'
      - series: 'dockerlink_site_oom_kills_total{id="b", name="site2", host="h1"}'
        values: '0x20'
    alert_rule_test:
      - eval_time: 9m
        alertname: DockerlinkSiteDown
        exp_alerts: []
      - eval_time: 17m
        alertname: DockerlinkSiteDown
        exp_alerts:
          - exp_labels: {id: a, name: site1, host: h1, severity: warning}
            exp_annotations: {summary: "site site1 on h1 is down"}
      - eval_time: 8m
        alertname: DockerlinkSiteOOMKilling
        exp_alerts:
          - exp_labels: {id: a, name: site1, host: h1, severity: warning}
            exp_annotations:
              summary: "site site1 on h1 is OOM-killing (1 in 10 min): memory limit too low"
      - eval_time: 20m
        alertname: DockerlinkSiteOOMKilling
        exp_alerts: []
"""
)


def test_the_alerts_fire_on_a_stopped_site_and_on_oom_kills_only(tmp_path):
    _test_rules(tmp_path, RULE_TESTS)


def _test_rules(tmp_path: Path, tests: str) -> None:
    """`promtool test rules` of the alert rules against `tests`."""
    shutil.copy(CONTRIB / "dockerlink-alerts.yml", tmp_path)
    (tmp_path / "tests.yml").write_text(tests)
    result = _promtool("test", "rules", "tests.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


# Minutes: site a's last backup stays at t=0; b is backed up again at 24 h; c never is (it
# appears at 0); d appears at 10 h and is backed up at 20 h.
BACKUP_RULE_TESTS = (
    RULES_HEAD
    + """
      - series: 'dockerlink_site_running{id="a", name="site1", host="h1"}'
        values: '1x1800'
      - series: 'dockerlink_site_running{id="b", name="site2", host="h1"}'
        values: '1x1800'
      - series: 'dockerlink_site_running{id="c", name="site3", host="h1"}'
        values: '0x1800'
      - series: 'dockerlink_site_running{id="d", name="site4", host="h1"}'
        values: '_x600 1x1200'
      - series: 'dockerlink_site_last_backup_timestamp_seconds{id="a", name="site1", host="h1"}'
        values: '0x1800'
      - series: 'dockerlink_site_last_backup_timestamp_seconds{id="b", name="site2", host="h1"}'
        values: '0x1439 86400x360'
      - series: 'dockerlink_site_last_backup_timestamp_seconds{id="d", name="site4", host="h1"}'
        values: '_x1200 72000x600'
    alert_rule_test:
      - eval_time: 26h
        alertname: DockerlinkSiteBackupStale
        exp_alerts: []
      - eval_time: 26h1m
        alertname: DockerlinkSiteBackupStale
        exp_alerts:
          - exp_labels: {id: a, name: site1, host: h1, severity: warning}
            exp_annotations:
              summary: "site site1 on h1 has had no good backup for 1d 2h 1m 0s"
      - eval_time: 25h59m
        alertname: DockerlinkSiteNeverBackedUp
        exp_alerts: []
      - eval_time: 26h
        alertname: DockerlinkSiteNeverBackedUp
        exp_alerts:
          - exp_labels: {id: c, name: site3, host: h1, severity: warning}
            exp_annotations: {summary: "site site3 on h1 has never had a good backup"}
"""
)


def test_the_backup_alerts_fire_after_26_hours_without_a_good_backup_only(tmp_path):
    _test_rules(tmp_path, BACKUP_RULE_TESTS)
