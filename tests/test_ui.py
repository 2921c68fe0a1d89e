"""The operator's page is served from the package without a token, only from this host,
and opens nothing else: every other path still needs the token."""

from __future__ import annotations

import configparser
import fnmatch
import re
from pathlib import Path

import pytest
from falcon.testing import TestClient

from dockerlink import ui
from dockerlink.app import create_app
from dockerlink.config import Config
from tests.fakes import FakeEngine, FakeStore

TOKEN = "ui-unit-token-0123456789"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def client(tmp_path) -> TestClient:
    config = Config(stats_db=str(tmp_path / "stats.sqlite3"), api_token=TOKEN)
    return TestClient(create_app(config, engine=FakeEngine(), store=FakeStore()))


def test_the_page_is_served_without_a_token_with_a_same_origin_policy(client):
    resp = client.simulate_get("/ui/")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/html")
    assert '<script src="ui.js"' in resp.text
    policy = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy and "connect-src 'self'" in policy
    assert "unsafe-inline" not in policy and "http" not in policy


def test_ui_without_its_slash_redirects_there_so_relative_urls_resolve(client):
    resp = client.simulate_get("/ui")
    assert resp.status_code == 301
    assert resp.headers["Location"].endswith("ui/")


@pytest.mark.parametrize(("name", "kind"), [("ui.js", "text/javascript"), ("ui.css", "text/css")])
def test_the_assets_are_served_without_a_token(client, name, kind):
    resp = client.simulate_get(f"/ui/{name}")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith(kind)
    assert resp.content == ui.asset(name)
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/ui/other.js", "/ui/index.html", "/ui/..%2fsetup.cfg", "/v1/env", "/v1/container"])
def test_any_other_path_still_needs_the_token(client, path):
    assert client.simulate_get(path).status_code == 401


@pytest.mark.parametrize("name", ["other.js", "index.html", "__init__.py", "..%2f__init__.py"])
def test_with_the_token_a_name_that_is_not_an_asset_is_not_found(client, name):
    resp = client.simulate_get(f"/ui/{name}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 404


# A URL with a scheme or a protocol-relative one, in an attribute, CSS url()/@import, or a JS string.
_OTHER_HOST = re.compile(r"""(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}|@import|url\(""")
# The one such string allowed: the SVG namespace name, which is an identifier, never fetched.
_SVG_NAMESPACE = "http://www.w3.org/2000/svg"


@pytest.mark.parametrize("name", sorted(ui.ASSETS))
def test_no_asset_refers_to_another_host(name):
    text = ui.asset(name).decode().replace(_SVG_NAMESPACE, "")
    assert _OTHER_HOST.findall(text) == []


def test_the_page_calls_the_api_by_relative_urls_with_the_token_in_a_header_only():
    js = ui.asset("ui.js").decode()
    assert 'const API = "../v1/"' in js
    assert 'Authorization: "Bearer " + state.token' in js
    assert "localStorage" not in js  # sessionStorage only: the token dies with the tab
    assert not re.search(r"token=|[?&]access_token", js)


def test_the_package_data_ships_every_asset():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    patterns = [p.strip() for p in cfg["options.package_data"]["dockerlink.ui"].split(",")]
    for name in ui.ASSETS:
        assert any(fnmatch.fnmatch(f"static/{name}", p) for p in patterns), name
        assert (ROOT / "dockerlink" / "ui" / "static" / name).is_file()
