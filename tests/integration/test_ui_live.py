"""The operator's page against the real service (gunicorn, its collector, a real dockerd):
three sites created through the API show up in headless chromium with sparklines drawn
from real samples, after the token is typed."""

from __future__ import annotations

import json

import pytest

from tests.ui_support import Browser, chromium_available

from .live import live_service

pytestmark = pytest.mark.skipif(not chromium_available(), reason="needs chromium (scripts/bootstrap.sh test)")

TOKEN = "ui-live-token-0123456789abcdef"
ROOTS = (41000, 41500, 42000)


def test_the_page_shows_the_real_services_sites_with_sparklines(engine, unique_name, tmp_path):
    settings = {"api_token": TOKEN, "stats_interval": "1", "publish_ip": "127.0.0.1", "port_area_size": "500"}
    with live_service(tmp_path, **settings) as service:
        ids = []
        try:
            for i, root in enumerate(ROOTS):
                body = {"name": f"{unique_name}-{i}", "host_port_root": root, "memory": 0.25, "cpulimit": 0.5}
                r = service.request("PUT", "/v1/container", params={"start": "true"}, json=body)
                assert r.status_code == 200, r.text
                ids.append(r.json()["Id"])
            with Browser(tmp_path / "profile") as browser:
                browser.open(service.url + "/ui/")
                browser.type_token(TOKEN)
                rows = f"{json.dumps(ids)}.map(id => document.querySelector(`tr.site[data-id='${{id}}']`))"
                browser.wait_for(f"{rows}.every(Boolean)")
                for cid in ids:
                    # Another session's leftovers may be listed too: bring each of ours on screen.
                    row = f"document.querySelector(\"tr.site[data-id='{cid}']\")"
                    browser.evaluate(f"{row}.scrollIntoView()")
                    paths = f"[...{row}.querySelectorAll('svg path')]"
                    browser.wait_for(f"{paths}.every(p => (p.getAttribute('d') || '').startsWith('M'))")
                    cells = browser.evaluate(f"[...{row}.cells].map(c => c.textContent)")
                    assert cells[0].startswith(unique_name) and cells[1] == "running"
                    assert cells[3] == "0.50 CPU, 256 MiB"  # the limits the create asked for
                browser.screenshot(tmp_path / "ui-live.png")
                assert all(r["url"].startswith(service.url + "/") for r in browser.requests())
        finally:
            for cid in ids:
                service.request("DELETE", "/v1/container", params={"id": cid})
