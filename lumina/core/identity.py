"""Stable identities: text normalisation, content hashes and (optionally keyed) unit ids."""

from __future__ import annotations

import hmac
import unicodedata
from collections.abc import Sequence

from blake3 import blake3

__all__ = [
    "IDENTITY_VERSION",
    "IdentityKey",
    "canonical_encoding",
    "content_hash",
    "normalize_text",
    "unit_id",
]

IDENTITY_VERSION = 1

FieldValue = str | int | None

_DOMAIN = b"lumina.unit"
_KEY_CONTEXT = "lumina 2026 unit id v1"
# One byte per value type, so None, "" and "None" (or 1 and "1") can never encode alike.
_NONE, _STR, _INT = b"N", b"S", b"I"


def normalize_text(text: str) -> str:
    """NFC-compose, strip, and collapse every whitespace run to one space; case is kept."""
    # NFC first so that visually identical text from different keyboards hashes the same.
    return " ".join(unicodedata.normalize("NFC", text).split())


def content_hash(text: str) -> str:
    """BLAKE3-256 hex of the normalised text in UTF-8."""
    return blake3(normalize_text(text).encode()).hexdigest()


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def _encode_value(value: FieldValue) -> bytes:
    # bool is an int subclass; letting True pass as 1 would give two spellings one identity.
    if value is None:
        return _NONE
    if isinstance(value, bool):
        raise TypeError("bool is not an identity field type; pass an int or a str")
    if isinstance(value, str):
        return _STR + _length_prefixed(value.encode())
    if isinstance(value, int):
        # Decimal text is canonical for any size of int (no leading zeros, no "-0").
        return _INT + _length_prefixed(str(value).encode())
    raise TypeError(f"identity field values must be str, int or None, not {type(value).__name__}")


def canonical_encoding(version: int, fields: Sequence[tuple[str, FieldValue]]) -> bytes:
    """Unambiguous bytes for `fields` in the caller's order, tagged with domain and version."""
    if version < 0:
        raise ValueError(f"version must be non-negative, got {version}")
    parts = [_DOMAIN, version.to_bytes(8, "big")]
    for name, value in fields:
        parts.append(_length_prefixed(name.encode()))
        parts.append(_encode_value(value))
    return b"".join(parts)


class IdentityKey:
    """Secret key for keyed unit ids; its material never appears in repr() or str()."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes | None) -> None:
        if key is not None and len(key) != 32:
            raise ValueError("an identity key must be 32 bytes")
        self._key = key

    @classmethod
    def from_secret(cls, secret: str) -> IdentityKey:
        # An empty secret is almost always an unset environment variable, not a choice.
        if not secret:
            raise ValueError("empty secret; use IdentityKey.none() for unkeyed ids")
        return cls(blake3(secret.encode(), derive_key_context=_KEY_CONTEXT).digest())

    @classmethod
    def none(cls) -> IdentityKey:
        """The unkeyed identity: same ids as passing `key=None`."""
        return cls(None)

    @property
    def keyed(self) -> bool:
        return self._key is not None

    def __repr__(self) -> str:
        return "IdentityKey(<hidden>)" if self.keyed else "IdentityKey(<none>)"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, IdentityKey):
            return NotImplemented
        if self._key is None or other._key is None:
            return self._key is other._key
        return hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self._key)


def unit_id(
    scope: str,
    event_identity: Sequence[tuple[str, FieldValue]],
    key: IdentityKey | None = None,
) -> str:
    """BLAKE3-256 hex id of a unit within `scope`; keyed when a keyed `key` is given."""
    encoded = canonical_encoding(IDENTITY_VERSION, [("scope", scope), *event_identity])
    if key is not None and key._key is not None:
        return blake3(encoded, key=key._key).hexdigest()
    return blake3(encoded).hexdigest()
