"""Vector: a unit's float vectors held as read-only float32 numpy arrays, in JSON as base64.

A unit carries 1,280 floats (a 256-d embedding and a 1,024-d shape). As Python lists they
cost ~24 bytes and an object each, and every consumer (the sink's columnar insert, search,
HRR recall) turns them back into arrays. So the contract keeps them as arrays:

- validation takes an array, a list of numbers or a base64 string of little-endian
  float32, checks one dimension and finite values, and stores float32 (the precision the
  models produce) read-only, since units are frozen;
- in JSON a vector is the base64 of its little-endian float32 bytes, as embedding APIs
  offer it (`encoding_format=base64`): 4 bytes a value, read back as a copy, where decimals
  were longer and every consumer of `lumina.units` (the sink, the state agent) parsed 1,280
  numbers a unit. Any language reads it back in one line; in Python
  `np.frombuffer(base64.b64decode(s), "<f4")`. Lists of numbers are still accepted;
- `quantize` rounds to VECTOR_DECIMALS decimals: float32 carries ~7 significant digits and
  cosine and HRR clean-up do not notice; it keeps vectors identical to the ones schema 2
  published as decimals.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import numpy as np
from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

__all__ = ["VECTOR_DECIMALS", "Vector", "quantize", "same_values", "vector_json", "vector_rows"]

VECTOR_DECIMALS = 6


def quantize(vectors: np.ndarray) -> np.ndarray:
    """float32 values at VECTOR_DECIMALS decimals, rounded in float64 (exact decimals)."""
    return np.round(np.asarray(vectors, dtype=np.float64), VECTOR_DECIMALS).astype(np.float32)


def _decoded(text: str) -> np.ndarray:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a vector string is the base64 of little-endian float32") from exc
    if len(raw) % 4:
        raise ValueError("a vector string is the base64 of little-endian float32")
    return np.frombuffer(raw, dtype="<f4").astype(np.float32)  # a copy, owned and native


def _as_vector(value: Any) -> np.ndarray:
    if isinstance(value, str):
        array = _decoded(value)
    else:
        try:
            array = np.array(value, dtype=np.float32)  # a copy: the unit owns its vector
        except (TypeError, ValueError) as exc:
            raise ValueError("a vector is a list of numbers or a base64 string") from exc
    if array.ndim != 1:
        raise ValueError(f"a vector has one dimension, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError("a vector's values must be finite")
    array.flags.writeable = False
    return array


def vector_rows(matrix: np.ndarray) -> list[np.ndarray | None]:
    """The rows of an (n, d) matrix as a Vector field holds them, checked once per matrix.

    Each row comes back as `_as_vector` would store it (a read-only float32 copy, so a unit
    never pins its whole batch in memory), or None where the row has a non-finite value.
    For producers that build many units at once; one vectorized check instead of n.
    """
    matrix = np.asarray(matrix, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"expected an (n, d) matrix, got shape {matrix.shape}")
    rows: list[np.ndarray | None] = []
    for row, finite in zip(matrix, np.isfinite(matrix).all(axis=1).tolist(), strict=True):
        if finite:
            row = row.copy()
            row.flags.writeable = False
            rows.append(row)
        else:
            rows.append(None)
    return rows


def vector_json(vector: np.ndarray) -> str:
    """A vector as JSON carries it: base64 of its little-endian float32 bytes."""
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


Vector = Annotated[
    np.ndarray,
    PlainValidator(_as_vector),
    PlainSerializer(vector_json, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {
                    "type": "string",
                    "contentEncoding": "base64",
                    "description": "little-endian float32 values, base64 (as Lumina writes)",
                },
                {"type": "array", "items": {"type": "number"}},
            ]
        }
    ),
]


def same_values(a: object, b: object) -> bool:
    """Equality that compares arrays element-wise instead of raising on `==`."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    return a == b
