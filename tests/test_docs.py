"""The front door stays readable and the docs stay true: README.md is short, every relative
link in it and in docs/ leads somewhere, the code's `docs/contract.md §N` cites name a
section there, the configuration table lists exactly the settings `Config` reads, and
every endpoint of the OpenAPI document has a curl example in docs/api.md."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from dockerlink.config import Config
from dockerlink.openapi import document
from dockerlink.statefiles import FILES

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]

FENCE = re.compile(r"^```.*?^```", re.M | re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+)$", re.M)


def _prose(text: str) -> str:
    """The text without its fenced code blocks (a `[x](y)` in code is not a link)."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(_prose(page.read_text()))}


def test_slug_matches_githubs_anchors():
    assert slug("3.0 What the panels send and read") == "30-what-the-panels-send-and-read"
    assert slug("The operator's page") == "the-operators-page"
    assert slug("Site access: login, web terminal, domains") == "site-access-login-web-terminal-domains"


def test_readme_is_a_front_door_of_at_most_200_lines():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200, len(lines)


def test_every_doc_is_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    for page in DOCS.glob("*.md"):
        assert f"(docs/{page.name})" in readme, page.name


def _links(page: Path) -> list[str]:
    return [t for t in LINK.findall(_prose(page.read_text())) if not re.match(r"^[a-z]+:", t)]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_leads_to_a_file_and_its_heading(page):
    links = _links(page)
    assert links, f"{page.name} links nowhere"
    broken = []
    for target in links:
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(target)
    assert not broken, f"{page.name}: {broken}"


def test_a_broken_link_is_found(tmp_path):
    page = tmp_path / "x.md"
    page.write_text("# Top\n\n[ok](#top) [gone](missing.md) [bad anchor](x.md#nowhere)\n")
    found = [t for t in _links(page) if not (tmp_path / t.partition("#")[0]).exists()]
    assert found == ["missing.md"]
    assert "nowhere" not in _anchors(page) and "top" in _anchors(page)


def test_the_codes_contract_cites_name_sections_of_contract_md():
    sections = set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", (DOCS / "contract.md").read_text(), re.M))
    cites = []
    for tree in ("dockerlink", "tests", "bench", "scripts"):
        for f in (ROOT / tree).rglob("*.py"):
            for m in re.finditer(r"docs/contract\.md (§[\d.]+(?:, §[\d.]+)*)", f.read_text()):
                cites += [(f.name, s.strip("§.")) for s in m.group(1).split(", ")]
    assert len(cites) >= 19, cites
    assert [c for c in cites if c[1] not in sections] == []
    old = "SPEC" + " §"  # the shared specification, which is not in the repository
    assert [f.name for t in ("dockerlink", "tests") for f in (ROOT / t).rglob("*.py") if old in f.read_text()] == []


#: Rows of the table that are the environment's (gunicorn's, prometheus-client's), not Config's.
ENVIRONMENT_ROWS = {"DOCKERLINK_WORKERS", "DOCKERLINK_THREADS", "PROMETHEUS_MULTIPROC_DIR"}
#: Config fields read under another name (`tls`: `Config.tls` is the engine connection's).
READ_AS = {"site_tls": "tls"}


def _table_names() -> list[str]:
    names = []
    for line in (DOCS / "configuration.md").read_text().splitlines():
        m = re.match(r"^\| (`[^|]+`) \|", line)
        if m:
            names += re.findall(r"`([^`]+)`", m.group(1))
    return names


def test_the_configuration_table_lists_exactly_the_settings():
    names = _table_names()
    assert len(names) == len(set(names)), "a setting listed twice"
    settings = {READ_AS.get(f.name, f.name) for f in dataclasses.fields(Config)}
    assert set(names) - ENVIRONMENT_ROWS == settings
    assert {"docker_sock", "port_area_size", "api_token", "tls", "site_firewall"} <= set(names)


def test_every_table_setting_is_read_from_the_environment():
    """A documented name that Config does not read would be a setting nobody can set."""
    defaults = Config()
    changed = {
        "port_area_size": ("500", lambda c: c.port_area_size == 500),
        "tls": ("certbot", lambda c: c.site_tls == "certbot"),
        "stats_interval": ("30", lambda c: c.stats_interval == 30),
        "site_network": ("other-sites", lambda c: c.site_network == "other-sites"),
    }
    for name, (raw, ok) in changed.items():
        assert ok(Config.from_mapping({name: raw})), name
    assert not changed["port_area_size"][1](defaults)


def _curl_calls(text: str) -> set[tuple[str, str]]:
    calls = set()
    for line in re.sub(r"\\\n\s*", " ", text).splitlines():
        if "curl " not in line:
            continue
        m = re.search(r"localhost:7200(/[^?'\"\s]*)", line)
        if not m:
            continue
        method = re.search(r"-X (\w+)", line)
        calls.add(((method.group(1) if method else "GET"), m.group(1).rstrip("/") or "/"))
    return calls


def test_every_openapi_operation_has_a_curl_example_in_api_md():
    calls = _curl_calls((DOCS / "api.md").read_text())
    prose = "".join(p.read_text() for p in PAGES)
    missing = []
    for path, ops in document()["paths"].items():
        for method in ops:
            if method not in {"get", "put", "post", "patch", "delete"}:
                continue
            if path.startswith("/ui/"):  # the operator page's static files: named, not curled
                if f"`{path}`" not in prose:
                    missing.append((method, path))
            elif (method.upper(), path) not in calls:
                missing.append((method, path))
    assert missing == []
    assert ("PATCH", "/v1/container") in calls and ("DELETE", "/v1/token") in calls


def test_curl_examples_are_read_with_their_method():
    text = "curl -s -X PUT localhost:7200/v1/container \\\n  -d '{}'\ncurl -s 'localhost:7200/v1/git?id=a'\n"
    assert _curl_calls(text) == {("PUT", "/v1/container"), ("GET", "/v1/git")}


def _state_files_table() -> list[str]:
    """The first name in the first cell of each row of architecture.md's files table."""
    text = (DOCS / "architecture.md").read_text()
    table = re.split(r"\n##+ ", text[text.index("## Which process writes which file") :], maxsplit=1)[0]
    return [m.group(1) for m in re.finditer(r"^\| `([^`]+)`", table, re.M)]


def test_the_state_files_table_names_the_code_list_in_its_order():
    assert _state_files_table() == [f.name for f in FILES.values()]
    assert {"<stats_db>.lock", "<stats_db>.revoked", "events_db", "create_lock"} <= set(_state_files_table())
