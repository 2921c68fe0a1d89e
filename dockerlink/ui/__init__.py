"""The operator's page (`GET /ui/`): static HTML, CSS and JavaScript shipped in the package.

No build step and no request to any other host (no CDN, no web fonts): the page is three
files read from `static/`; every figure it shows comes from the token-protected API,
which the page calls with the token the operator types once (kept in sessionStorage,
sent as a bearer header). The assets themselves need no token: they hold no data.
"""

from __future__ import annotations

from importlib.resources import files

__all__ = ["ASSETS", "PAGE", "PREFIX", "PUBLIC_PATHS", "SECURITY_HEADERS", "asset"]

PREFIX = "/ui"

#: The page itself, served at /ui/.
PAGE = "index.html"

#: Every file the page is made of, and its content type; nothing else is served.
ASSETS = {
    PAGE: "text/html; charset=utf-8",
    "ui.css": "text/css; charset=utf-8",
    "ui.js": "text/javascript; charset=utf-8",
}

#: Request paths (after Falcon strips a trailing slash) answered without a token.
PUBLIC_PATHS = frozenset({PREFIX} | {f"{PREFIX}/{name}" for name in ASSETS if name != PAGE})

#: On every answer of the page: only this host (proves no CDN, no web font, no beacon),
#: no inline script or style, never framed, no referrer sent.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def asset(name: str) -> bytes:
    """The bytes of one of `ASSETS` (KeyError for anything else: no path is ever built from input)."""
    if name not in ASSETS:
        raise KeyError(name)
    return files(__package__).joinpath("static", name).read_bytes()
