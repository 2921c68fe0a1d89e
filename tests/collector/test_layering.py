"""The background process's packages import in one direction: the collector uses the
capabilities, the capabilities use the job shape and the cgroups below them, never the
collector nor one another in a circle (so no import has to hide inside a function)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "dockerlink"
PACKAGES = {"collector", "stats", "events", "backups", "isolation", "cgroups", "jobs"}


def _unit(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _imports() -> dict[str, set[str]]:
    """dockerlink's top-level units → the units they import (anywhere in a module)."""
    edges: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        module = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        package = module.removesuffix(".__init__") if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                target = ".".join([*base, node.module] if node.module else base)
                targets = [target] if node.module else [f"{target}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            for target in targets:
                if target.startswith("dockerlink.") and _unit(target) != _unit(module):
                    edges.setdefault(_unit(module), set()).add(_unit(target))
    return edges


def _circles(edges: dict[str, set[str]]) -> list[str]:
    """The units from which an import path leads back to themselves."""

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    return [unit for unit in sorted(edges) if reaches(unit, unit, {unit})]


def test_no_circle_among_the_background_process_packages():
    edges = {k: v & PACKAGES for k, v in _imports().items() if k in PACKAGES}
    assert _circles(edges) == []
    assert edges["collector"] >= {"stats", "events", "backups", "isolation", "jobs"}
    assert "events" not in edges.get("stats", set()) and "stats" not in edges.get("events", set())


def test_no_circle_among_any_of_dockerlinks_units():
    """The configuration below the site isolation (its port lists live in `hostports`), the
    resources below the OpenAPI document (handed to its resource by `app.py`)."""
    edges = _imports()
    assert _circles(edges) == []
    assert "isolation" not in edges["config"] and "config" in edges["isolation"]
    assert "openapi" not in edges["resources"] and "resources" in edges["openapi"]


def test_a_circle_is_found():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c"]


def test_only_the_entry_points_and_the_health_check_import_the_collector():
    users = sorted(unit for unit, targets in _imports().items() if "collector" in targets)
    assert users == ["cli", "gunicorn_conf", "resources"]
