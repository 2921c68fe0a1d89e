"""Re-takes docs/ui.png, the picture of the operator page in docs/operations.md: six sites on the
tests' fake engine with a day of made-up history (one of them exited with 137), in
headless chromium. No daemon needed.

    .venv/bin/python scripts/ui_screenshot.py [out.png]
"""

from __future__ import annotations

import base64
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dockerlink.app import create_app  # noqa: E402
from dockerlink.config import Config  # noqa: E402
from dockerlink.stats.samples import Reading, derive  # noqa: E402
from dockerlink.stats.store import StatsStore  # noqa: E402
from tests.fakes import FakeEngine  # noqa: E402
from tests.ui_support import Browser, fill_history, serve  # noqa: E402

TOKEN = "screenshot-token-0123456789"
SITES = ("shop", "blog", "wiki", "forum", "api", "legacy")


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        engine = FakeEngine()
        now = time.time()
        added = [
            engine.containers.add(
                name,
                labels={"dockerlink": "0.1.0", "dockerlink.host_port_root": str(10000 + 1000 * i)},
                started_at=int(now - 3600 * (5 + 17 * i)),
            )
            for i, name in enumerate(SITES[:-1])
        ]
        stopped = engine.containers.add("legacy", labels={"dockerlink": "0.1.0"}, running=False, exit_code=137)
        engine.containers.add("postgres")
        store = StatsStore(f"{tmp}/stats.sqlite3")
        fill_history(store, [c.id for c in [*added, stopped]], now - 60)
        off = Reading(stopped.id, now, False)
        store.record_round(now, [(off, derive(None, off, now))])
        config = Config(stats_db=store.path, api_token=TOKEN)
        with serve(create_app(config, engine=engine, store=store)) as base, Browser(Path(tmp) / "p") as browser:
            browser.open(base + "/ui/")
            browser.type_token(TOKEN)
            browser.wait_for(f"document.querySelectorAll('tr.site').length === {len(SITES)}")
            browser.wait_for("[...document.querySelectorAll('tr.site svg path')].every(p => p.getAttribute('d'))")
            browser.evaluate("document.querySelector('tr.site').click()")
            browser.wait_for("!document.querySelector('tr.detail').textContent.includes('loading')")
            height = browser.evaluate("Math.ceil(document.querySelector('#footnote').getBoundingClientRect().bottom)")
            clip = {"x": 0, "y": 0, "width": 1400, "height": min(height + 16, 900), "scale": 1}
            data = browser.send("Page.captureScreenshot", format="png", clip=clip)["data"]
            out.write_bytes(base64.b64decode(data))
            print(f"{out}: {out.stat().st_size} bytes")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "docs" / "ui.png")
