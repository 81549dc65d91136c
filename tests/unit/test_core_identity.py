"""Text normalisation, content hashes, canonical encoding and unit ids."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lumina.core.identity import (
    IDENTITY_VERSION,
    IdentityKey,
    canonical_encoding,
    content_hash,
    normalize_text,
    unit_id,
)

PROPERTY = settings(max_examples=200, deadline=None, database=None)
HEX64 = re.compile(r"[0-9a-f]{64}")
EVENT: list[tuple[str, str | int | None]] = [("topic", "chat"), ("partition", 3), ("offset", 1042)]

messy_text = st.text(alphabet="aB é\u0301\t\n\r\u00a0\u2003\u3000漢", max_size=40)


def test_identity_normalize_collapses_whitespace_and_strips() -> None:
    assert normalize_text("  hello \t\n  world\u00a0\u2003again  ") == "hello world again"
    assert normalize_text("Case Kept") == "Case Kept"
    assert normalize_text(" \n\t ") == ""


def test_identity_normalize_nfc_composes() -> None:
    assert normalize_text("cafe\u0301") == "caf\u00e9"
    assert content_hash("cafe\u0301") == content_hash("café")
    assert content_hash("  café  ") == content_hash("café")


@PROPERTY
@given(text=messy_text)
def test_identity_normalize_is_idempotent_and_tidy(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert once == once.strip() and "  " not in once
    assert not re.search(r"[\t\n\r\u00a0\u2003\u3000]", once)


def test_identity_content_hash_is_64_hex_and_case_sensitive() -> None:
    digest = content_hash("Hello")
    assert HEX64.fullmatch(digest)
    assert digest != content_hash("hello")


def test_identity_unit_id_is_stable_64_hex() -> None:
    first = unit_id("team-a", EVENT)
    assert HEX64.fullmatch(first)
    assert unit_id("team-a", list(EVENT)) == first


def test_identity_unit_id_differs_by_scope_and_field_value() -> None:
    base = unit_id("team-a", EVENT)
    assert unit_id("team-b", EVENT) != base
    assert unit_id("team-a", [("topic", "chat"), ("partition", 3), ("offset", 1043)]) != base
    assert unit_id("team-a", list(reversed(EVENT))) != base


def test_identity_none_empty_and_none_string_are_distinct() -> None:
    ids = {unit_id("s", [("thread", value)]) for value in (None, "", "None", 0, "0")}
    assert len(ids) == 5


def test_identity_encoding_has_no_boundary_ambiguity() -> None:
    assert canonical_encoding(1, [("a", "bc")]) != canonical_encoding(1, [("ab", "c")])
    assert canonical_encoding(1, [("a", "b"), ("c", None)]) != canonical_encoding(
        1, [("a", "b\x00c")]
    )
    assert canonical_encoding(1, []) != canonical_encoding(2, [])
    assert canonical_encoding(IDENTITY_VERSION, []).startswith(b"lumina.unit")


def test_identity_encoding_rejects_values_outside_the_type_union() -> None:
    with pytest.raises(TypeError):
        canonical_encoding(1, [("flag", True)])
    with pytest.raises(TypeError):
        canonical_encoding(1, [("score", 1.5)])  # type: ignore[list-item]


def test_identity_keyed_ids_depend_on_the_secret() -> None:
    unkeyed = unit_id("s", EVENT)
    keyed = unit_id("s", EVENT, IdentityKey.from_secret("correct horse"))
    assert keyed != unkeyed
    assert unit_id("s", EVENT, IdentityKey.from_secret("correct horse")) == keyed
    assert unit_id("s", EVENT, IdentityKey.from_secret("battery staple")) != keyed
    assert unit_id("s", EVENT, IdentityKey.none()) == unkeyed


def test_identity_key_hides_its_secret() -> None:
    secret = "s3cr3t-value"
    key = IdentityKey.from_secret(secret)
    assert repr(key) == str(key) == "IdentityKey(<hidden>)"
    assert secret not in repr(key) and secret not in str(key) and secret not in f"{key!r}"
    assert repr(IdentityKey.none()) == "IdentityKey(<none>)"


def test_identity_key_rejects_empty_secret() -> None:
    with pytest.raises(ValueError, match="empty secret"):
        IdentityKey.from_secret("")


def test_identity_keys_compare_by_material() -> None:
    assert IdentityKey.from_secret("a") == IdentityKey.from_secret("a")
    assert IdentityKey.from_secret("a") != IdentityKey.from_secret("b")
    assert IdentityKey.none() == IdentityKey.none()
    assert IdentityKey.none() != IdentityKey.from_secret("a")
