"""The operator's page in a real browser (Debian's chromium, headless, driven over the
DevTools protocol) against a real HTTP server over the app, a fake engine and a stats
store holding a day of history. `scripts/bootstrap.sh test` installs chromium."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.request
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.ui_support import Browser, chromium_available, fake_host, fill_history, serve

pytestmark = pytest.mark.skipif(not chromium_available(), reason="needs chromium (scripts/bootstrap.sh test)")

TOKEN = "ui-browser-token-0123456789"

ROWS = "document.querySelectorAll('tr.site').length"
# Every sparkline of every row has a drawn line (an SVG path with at least one segment).
SPARKLINES_DRAWN = (
    "(() => { const paths = [...document.querySelectorAll('tr.site svg path')];"
    " return paths.length > 0 && paths.every(p => (p.getAttribute('d') || '').includes('L')); })()"
)


def _loaded(browser: Browser, rows: int) -> None:
    browser.wait_for(f"{ROWS} === {rows} && {SPARKLINES_DRAWN}")


def test_the_page_shows_three_sites_with_sparklines_once_the_token_is_typed(tmp_path):
    app, _, _ = fake_host(tmp_path, TOKEN, sites=3)
    with serve(app) as base, Browser(tmp_path / "profile") as browser:
        browser.open(base + "/ui/")
        browser.type_token(TOKEN)
        _loaded(browser, 3)
        shot = browser.screenshot(tmp_path / "ui.png")

        names = browser.evaluate("[...document.querySelectorAll('tr.site td:first-child')].map(td => td.textContent)")
        assert sorted(names) == ["site1", "site2", "site3"]
        assert browser.evaluate("document.querySelectorAll('tr.site svg path').length") == 9
        assert "20.10.24-fake" in browser.evaluate("document.querySelector('#host').textContent")
        assert browser.evaluate("document.querySelector('#login').hidden") is True
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        requests = browser.requests()
        assert requests and all(r["url"].startswith(base + "/") for r in requests)  # no other host
        assert not any(TOKEN in r["url"] for r in requests)  # never in a URL
        api = [r for r in requests if "/v1/" in r["url"] and not r["url"].endswith("/v1/health")]
        assert api and all(r["headers"].get("Authorization") == f"Bearer {TOKEN}" for r in api)
        static = [r for r in requests if "/ui/" in r["url"]]
        assert static and not any("Authorization" in r["headers"] for r in static)


def test_a_wrong_token_shows_one_clear_line_and_asks_again(tmp_path):
    app, _, _ = fake_host(tmp_path, TOKEN, sites=3)
    with serve(app) as base, Browser(tmp_path / "profile") as browser:
        browser.open(base + "/ui/")
        browser.type_token("not-the-token-at-all")
        # Once the answer is in: the form is back, with a message that is not the "Loading…" note.
        message = browser.wait_for(
            "(() => { const m = document.querySelector('#message');"
            " return !document.querySelector('#login').hidden && !m.hidden && m.className !== 'info'"
            " && m.textContent; })()"
        )
        browser.screenshot(tmp_path / "wrong-token.png")
        assert message.startswith("The token was refused") and "Enter it again" in message
        assert "\n" not in message
        assert browser.evaluate("document.querySelector('#login').hidden") is False
        assert browser.evaluate(ROWS) == 0
        assert browser.evaluate("sessionStorage.length") == 0


def test_refreshes_pick_up_new_sites_and_ask_only_for_new_points_without_reloading(tmp_path):
    app, engine, store = fake_host(tmp_path, TOKEN, sites=3, stats_interval=0.5)
    with serve(app) as base, Browser(tmp_path / "profile") as browser:
        browser.open(base + "/ui/")
        browser.type_token(TOKEN)
        _loaded(browser, 3)
        browser.evaluate("window.notReloaded = true")

        # The history first, then the container. Listed while its history was being written
        # (into the past, which the collector never does), the page's first call saw only
        # the oldest samples; the roll-up then covered only the newest window (the store rolls
        # up after its last roll-up), which hides the raw samples before it from scale=day:
        # a one-point sparkline, never drawn (seen in 3 of 26 runs under load).
        new_id = hashlib.sha256(b"site4").hexdigest()
        fill_history(store, [new_id], time.time(), hours=2)
        engine.containers.add("site4", labels={"dockerlink": "0.1.0", "dockerlink.host_port_root": "30000"}, id=new_id)
        _loaded(browser, 4)
        assert browser.evaluate("window.notReloaded") is True

        def stats(requests: list[dict]) -> list[dict]:
            return [parse_qs(urlsplit(r["url"]).query) for r in requests if "/v1/container/stats" in r["url"]]

        # Each site asks again after its last point: wait for that (bounded), not for time.
        asked = browser.wait_for_requests(lambda rs: len({q["id"][0] for q in stats(rs) if q["since"] != ["0"]}) == 4)
        assert all(q["scale"] == ["day"] for q in stats(asked))
        first = {}
        for q in stats(asked):
            first.setdefault(q["id"][0], q["since"][0])
        assert set(first.values()) == {"0"}  # each site's first call asks for the whole day


def test_refreshes_never_overlap_even_when_the_listing_is_slower_than_the_interval(tmp_path):
    app, _, _ = fake_host(tmp_path, TOKEN, sites=3, stats_interval=0.2)
    lock = threading.Lock()
    seen = {"now": 0, "max": 0, "calls": 0}

    def slow_listing(environ, start_response):  # noqa: ANN001, ANN202
        if environ["PATH_INFO"] != "/v1/container":
            return app(environ, start_response)
        with lock:
            seen["now"] += 1
            seen["calls"] += 1
            seen["max"] = max(seen["max"], seen["now"])
        try:
            time.sleep(0.6)  # three intervals
            return app(environ, start_response)
        finally:
            with lock:
                seen["now"] -= 1

    with serve(slow_listing) as base, Browser(tmp_path / "profile") as browser:
        browser.open(base + "/ui/")
        browser.type_token(TOKEN)
        _loaded(browser, 3)
        browser.pump(2)  # three slow listings and more
    assert seen["calls"] >= 3  # it kept refreshing
    assert seen["max"] == 1


def test_a_sites_row_opens_its_events_and_log_or_says_they_are_not_available(tmp_path):
    app, _, _ = fake_host(tmp_path, TOKEN, sites=3)
    with serve(app) as base, Browser(tmp_path / "profile") as browser:
        browser.open(base + "/ui/")
        browser.type_token(TOKEN)
        _loaded(browser, 3)
        browser.evaluate("document.querySelector('tr.site').click()")
        text = browser.wait_for(
            "(() => { const d = document.querySelector('tr.detail');"
            " return d && !d.textContent.includes('loading') && d.textContent; })()"
        )
        assert "Last events" in text and "Log (last 100 lines)" in text
        assert "could not be read" not in text
        # On an agent without /v1/events and /v1/container/logs: one quiet line each.
        sections = browser.evaluate("[...document.querySelectorAll('tr.detail h3 + *')].map(e => e.textContent)")
        assert len(sections) == 2
        for section in sections:
            assert section == "not available on this dockerlink" or section.strip()
        asked = [r["url"] for r in browser.requests()]
        assert any("/v1/events?" in u and "limit=" in u for u in asked)
        assert any("/v1/container/logs?" in u and "tail=100" in u for u in asked)


def test_a_scoped_token_sees_its_one_site(tmp_path):
    app, _, _ = fake_host(tmp_path, TOKEN, sites=3)
    with serve(app) as base, Browser(tmp_path / "profile") as browser:
        mint = urllib.request.Request(
            base + "/v1/token",
            data=json.dumps({"id": "site2", "scopes": ["stats"]}).encode(),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            method="POST",
        )
        scoped = json.load(urllib.request.urlopen(mint, timeout=10))["token"]
        browser.open(base + "/ui/")
        browser.type_token(scoped)
        _loaded(browser, 1)  # /v1/env is the panel's: refused to this token, the page goes on without it
        assert browser.evaluate("document.querySelector('tr.site td').textContent") == "site2"
        assert browser.evaluate("document.querySelector('#message').hidden") is True


def test_an_unreachable_service_is_one_line_over_the_last_figures_until_it_answers_again(tmp_path):
    app, _, _ = fake_host(tmp_path, TOKEN, sites=3, stats_interval=0.5)
    with Browser(tmp_path / "profile") as browser:
        with serve(app) as base:
            browser.open(base + "/ui/")
            browser.type_token(TOKEN)
            _loaded(browser, 3)
        message = browser.wait_for(
            "!document.querySelector('#message').hidden && document.querySelector('#message').textContent"
        )
        assert message.startswith("dockerlink did not answer")
        assert browser.evaluate(ROWS) == 3 and browser.evaluate(SPARKLINES_DRAWN)  # the last figures stay
        with serve(app, port=int(urlsplit(base).port)):
            browser.wait_for("document.querySelector('#message').hidden")  # the next refresh clears it
            _loaded(browser, 3)


MARKUP_NAMES = (
    '<img src=x onerror="window.__injected = (window.__injected || 0) + 1">',
    '"><svg onload="window.__injected = (window.__injected || 0) + 1"></svg>',
)


def test_names_and_log_lines_with_markup_show_as_text_and_run_nothing(tmp_path):
    """The fake engine takes any name (the real one refuses these): a name or a log line that
    is markup must reach the page as text, never as elements or script."""
    app, engine, store = fake_host(tmp_path, TOKEN, sites=1, stats_interval=1)
    added = [
        engine.containers.add(name, labels={"dockerlink": "0.1.0", "dockerlink.host_port_root": str(20000 + 10 * i)})
        for i, name in enumerate(MARKUP_NAMES)
    ]
    fill_history(store, [c.id for c in added], time.time(), hours=2)
    engine.containers.logged[added[0].id] = [
        (1, b'2026-01-01T00:00:01Z <img src=y onerror="window.__injected = 99">log line\n')
    ]
    with serve(app) as base, Browser(tmp_path / "profile") as browser:
        browser.open(base + "/ui/")
        browser.type_token(TOKEN)
        _loaded(browser, 3)
        names = browser.evaluate("[...document.querySelectorAll('tr.site td:first-child')].map(td => td.textContent)")
        assert sorted(names) == sorted(["site1", *MARKUP_NAMES])
        browser.evaluate(
            "[...document.querySelectorAll('tr.site')]"
            f".find(tr => tr.cells[0].textContent === {json.dumps(MARKUP_NAMES[0])}).click()"
        )
        log = browser.wait_for(
            "(() => { const d = document.querySelector('tr.detail');"
            " return d && d.textContent.includes('log line') && d.textContent; })()"
        )
        assert '<img src=y onerror="window.__injected = 99">log line' in log
        # A later refresh redraws every row: wait for one, then nothing may have run or been made.
        seen = browser.evaluate("performance.getEntriesByType('resource').length")
        browser.wait_for(f"performance.getEntriesByType('resource').length > {seen + 3}")
        assert browser.evaluate("document.querySelectorAll('img, svg[onload], script:not([src])').length") == 0
        assert browser.evaluate("window.__injected === undefined") is True
