"""Vector: a unit's float vectors held as read-only float32 numpy arrays, JSON as numbers.

A unit carries 1,280 floats (a 256-d embedding and a 1,024-d shape). As Python lists they
cost ~24 bytes and an object each, and every consumer (the sink's columnar insert, search,
HRR recall) turns them back into arrays. So the contract keeps them as arrays and only
JSON sees numbers:

- validation takes a list or an array, checks one dimension and finite values, and stores
  float32 (the precision the models produce) read-only, since units are frozen;
- `quantize` rounds to VECTOR_DECIMALS decimals: float32 carries ~7 significant digits,
  cosine and HRR clean-up do not notice, and JSON is about half as long. A quantized
  vector survives a JSON round trip bit for bit (see `test_schemas`);
- in JSON a vector is an array of numbers, so the published JSON Schema is unchanged.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import PlainSerializer, PlainValidator, WithJsonSchema

__all__ = ["VECTOR_DECIMALS", "Vector", "quantize", "same_values", "vector_rows"]

VECTOR_DECIMALS = 6


def quantize(vectors: np.ndarray) -> np.ndarray:
    """float32 values at VECTOR_DECIMALS decimals, rounded in float64 (exact decimals)."""
    return np.round(np.asarray(vectors, dtype=np.float64), VECTOR_DECIMALS).astype(np.float32)


def _as_vector(value: Any) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float32)  # a copy: the unit owns its vector
    except (TypeError, ValueError) as exc:
        raise ValueError("a vector is a list of numbers") from exc
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


def _to_json(vector: np.ndarray) -> list[float]:
    # float64 of a quantized float32 value prints as its decimals again ("0.012346").
    return np.round(vector.astype(np.float64), VECTOR_DECIMALS).tolist()


Vector = Annotated[
    np.ndarray,
    PlainValidator(_as_vector),
    PlainSerializer(_to_json, return_type=list[float], when_used="json"),
    WithJsonSchema({"items": {"type": "number"}, "type": "array"}),
]


def same_values(a: object, b: object) -> bool:
    """Equality that compares arrays element-wise instead of raising on `==`."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and np.array_equal(a, b)
    return a == b
