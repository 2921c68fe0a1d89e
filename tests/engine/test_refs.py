"""Strict patterns for values that become engine path segments."""

from __future__ import annotations

import pytest

from dockerlink.engine import InvalidReference
from dockerlink.engine.refs import check_container_ref, check_exec_id, check_image_ref, check_volume_name

FULL_ID = "a42d519714d616e9411dbceec4b52808bd6b1ee53e6f6497a281d655357d8b71"

# Values that could steer a request to another endpoint or object, or are not names at all.
HOSTILE = [
    "",
    ".",
    "..",
    "../x",
    "a/../b",
    f"{FULL_ID}/../{FULL_ID}",
    "a/b",
    "a%2Fb",
    "a%2e%2e",
    "a?b",
    "a#b",
    "a b",
    "a\nb",
    "-rm",
    "_x",
    ".hidden",
    "名前",
]


@pytest.mark.parametrize("ref", [FULL_ID, FULL_ID[:12], "a", "site-1", "My_Site.example.com", "a" * 128])
def test_container_ref_accepts_full_ids_prefixes_and_names(ref: str):
    assert check_container_ref(ref) == ref


@pytest.mark.parametrize("ref", [*HOSTILE, "a" * 129])
def test_container_ref_refuses_anything_else(ref: str):
    with pytest.raises(InvalidReference):
        check_container_ref(ref)


@pytest.mark.parametrize("value", [None, 42, b"site", ["site"]])
def test_container_ref_refuses_non_strings(value: object):
    with pytest.raises(InvalidReference):
        check_container_ref(value)


def test_invalid_reference_is_a_value_error_naming_the_value():
    with pytest.raises(ValueError, match=r"invalid container id or name: 'a/\.\./b'"):
        check_container_ref("a/../b")


def test_exec_id_must_be_64_lowercase_hex():
    assert check_exec_id(FULL_ID) == FULL_ID
    for bad in [FULL_ID[:12], FULL_ID.upper(), FULL_ID + "0", "x" * 64, f"{FULL_ID[:30]}/..{FULL_ID[:32]}"]:
        with pytest.raises(InvalidReference):
            check_exec_id(bad)


@pytest.mark.parametrize("name", ["dockerlink-site-www", "v1", "a.b_c-d", "a" * 255])
def test_volume_name_accepts_engine_style_names(name: str):
    assert check_volume_name(name) == name


@pytest.mark.parametrize("name", [*HOSTILE, "a" * 256])
def test_volume_name_refuses_anything_else(name: str):
    with pytest.raises(InvalidReference):
        check_volume_name(name)


@pytest.mark.parametrize(
    "ref",
    [
        "debian",
        "dockerlink/base:latest",
        "localhost:5000/team/app:1.0",
        "ghcr.io/org/app-name_x:v2.1",
        "debian@sha256:" + "b" * 64,
        "sha256:" + "a" * 64,
        "6105d6cc76af",
    ],
)
def test_image_ref_accepts_names_tags_digests_and_ids(ref: str):
    assert check_image_ref(ref) == ref


@pytest.mark.parametrize(
    "ref", ["../etc", "a/../b", "a/./b", "a//b", "/abs", "Debian", "ghcr.io/Org/x", "a:b:c", "a?x", "a%2Fb", ""]
)
def test_image_ref_refuses_traversal_and_malformed_references(ref: str):
    with pytest.raises(InvalidReference):
        check_image_ref(ref)
