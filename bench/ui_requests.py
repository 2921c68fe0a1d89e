"""How many requests the operator page (GET /ui/) sends with N sites (default 200).

What it measures: the requests a real headless chromium running the page's own script
sends, counted from the browser's side (the DevTools protocol's Network events), against
a real HTTP server over the app with the tests' fake engine and a stats store holding a
day of history for every site (no dockerd needed). The page refreshes every
`stats_interval`; the bench runs it at a short interval (default 2 s) to see many
refreshes quickly, counts requests per refresh, and gives the per-minute figure at the
default `stats_interval` (10 s) as per-refresh × 6. It does not measure the server's
cost of those requests (see bench/api_calls.py), nor a real engine's listing.

    .venv/bin/python bench/ui_requests.py [N] [seconds] [interval]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.ui_support import Browser, fake_host, serve  # noqa: E402

TOKEN = "bench-ui-token-0123456789"
VISIBLE_DRAWN = (
    "(() => { const rows = [...document.querySelectorAll('tr.site')].filter(r => {"
    " const b = r.getBoundingClientRect(); return b.bottom > 0 && b.top < innerHeight; });"
    " return rows.length > 0 && rows.every(r => (r.querySelector('svg path').getAttribute('d') || '').includes('L'))"
    " && rows.length; })()"
)


def kind(url: str) -> str:
    path = urlsplit(url).path
    return path.rsplit("/v1/", 1)[-1] if "/v1/" in path else "page assets"


def count(requests: list[dict]) -> Counter:
    return Counter(kind(r["url"]) for r in requests)


def main(n: int, seconds: float, interval: float) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        app, _, _ = fake_host(Path(tmp), TOKEN, sites=n, stats_interval=interval, history_step=600)
        print(f"{n} sites, a day of history each (filled in {time.perf_counter() - t0:.1f} s); window 1400x900")
        with serve(app) as base, Browser(Path(tmp) / "profile") as browser:
            browser.open(base + "/ui/")
            browser.type_token(TOKEN)
            visible = browser.wait_for(VISIBLE_DRAWN, timeout=120)
            everything = browser.requests()
            rounds = [i for i, r in enumerate(everything) if kind(r["url"]) == "health"]  # each refresh's first call
            first = count(everything[: rounds[1]] if len(rounds) > 1 else everything)
            assert browser.evaluate("document.querySelectorAll('tr.site').length") == n
            print(f"rows on screen: {visible} of {n}")
            print(f"first load (until the second refresh): {sum(first.values())} requests {dict(first)}")

            mark = len(browser.requests())
            start = time.monotonic()
            browser.pump(seconds)
            elapsed = time.monotonic() - start
            steady = count(browser.requests()[mark:])
            refreshes = steady["container"]
            total = sum(steady.values())
            per = total / max(1, refreshes)
            stats_per = steady["container/stats"] / max(1, refreshes)
            print(f"steady, {elapsed:.0f} s at stats_interval={interval:g} s: {total} requests, {refreshes} refreshes")
            print(f"  {dict(steady)}")
            print(f"  per refresh: {per:.1f} requests (1 listing, 1 health, {stats_per:.1f} stats)")
            print(f"  measured: {total / elapsed * 60:.0f} requests/min at this interval")
            print(f"  at stats_interval=10 s: {per * 6:.0f} requests/min (per refresh x 6)")

            mark = len(browser.requests())
            browser.evaluate("window.scrollTo(0, document.body.scrollHeight)")
            # The rows at the bottom are the ones never on screen yet (no figures: they
            # sort last); each refresh fills the rows on screen, which then sort up and
            # bring the next unseen ones down: all N take about N / rows-on-screen refreshes.
            browser.wait_for(VISIBLE_DRAWN, timeout=max(60.0, 2 * interval * n / max(1, visible)))
            browser.pump(1)
            scrolled = count(browser.requests()[mark:])
            print(f"scrolled to the bottom: {dict(scrolled)} (unseen rows come on screen as seen ones sort up)")


if __name__ == "__main__":
    args = sys.argv[1:]
    main(int(args[0]) if args else 200, float(args[1]) if len(args) > 1 else 20, float(args[2]) if len(args) > 2 else 2)
