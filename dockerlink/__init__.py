"""dockerlink — the per-host agent of a web-hosting panel."""

__version__ = "0.1.0"
