"""The library's public surface: every exported name exists, and nothing outside the
package reaches into its submodules (as httpx's test_exported_members)."""

from __future__ import annotations

import re
from pathlib import Path

import dockerlink.engine as engine

ROOT = Path(__file__).resolve().parents[2]
DEEP_IMPORT = re.compile(
    r"^\s*from\s+(?:dockerlink|\.+)\.?engine\.\w+\s+import|^\s*import\s+dockerlink\.engine\.",
    re.M,
)


def test_every_exported_name_exists():
    assert engine.__all__, "dockerlink.engine exports nothing"
    for name in engine.__all__:
        assert hasattr(engine, name), name


def test_exported_names_are_unique():
    assert len(engine.__all__) == len(set(engine.__all__))


def test_no_module_outside_the_engine_imports_its_submodules():
    outside = [
        p
        for folder in ("dockerlink", "bench", "scripts")
        for p in (ROOT / folder).rglob("*.py")
        if "engine" not in p.relative_to(ROOT).parts[:2]
    ]
    assert outside
    offenders = [str(p.relative_to(ROOT)) for p in outside if DEEP_IMPORT.search(p.read_text())]
    assert offenders == []
