"""MemoryUnit JSON read back in bulk: a msgspec mirror of the contract, for the sink.

The sink reads every unit the workers publish. Validating each through pydantic costs
~300 µs a unit (nested models, two Python vector validators), which held the sink's parse
near 3,000 units/s on the faster machine whatever the store could take. The mirror below
validates the same JSON in C (msgspec: the parse 5× faster in bench/sink.py) and leaves the
vectors as their decoded bytes, checked once per batch with numpy;
`lumina.store.arrow.unit_arrow_table` reads these records as it reads `MemoryUnit`s, by
attribute.

The mirror may only be stricter than the contract, never looser: a record it refuses is
handed to `MemoryUnit` itself, which takes the lax forms the mirror does not (a vector as a
list of numbers, "5" for an int) or refuses the record with pydantic's own message. So what
the sink stores and rejects is what `MemoryUnit` would; `tests/unit/test_unit_wire.py`
keeps the two field for field and feeds both the same good and broken units.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import msgspec
import numpy as np
from msgspec import Meta

from lumina.schemas.units import SCHEMA_VERSION

__all__ = ["WireUnit", "decode_units"]

Unit01 = Annotated[float, Meta(ge=0.0, le=1.0)]
NonNegative = Annotated[int, Meta(ge=0)]


# gc=False: a record decoded from JSON cannot hold a reference cycle, so the collector need
# not track it. A unit decodes into a dozen structs or more (one per token weight and
# entity), and not tracking them took about a tenth off the sink's parse (bench/sink.py).
class _Strict(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, gc=False):
    """Like the contract's `_Frozen` models: unknown fields are an error."""


class WireOrigin(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """`KafkaOrigin`, which ignores unknown fields."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None = None


class WireProvenance(_Strict, frozen=True, kw_only=True):
    scope: str
    source: str | None = None
    author: str | None = None
    session: str | None = None
    event_id: str | None = None
    origin: WireOrigin | None = None
    chain_link: str
    previous_link: str
    sequence: Annotated[int, Meta(ge=1)]


class WireTimestamps(_Strict, frozen=True, kw_only=True):
    event_ms: int
    ingest_ms: int
    last_access_ms: int


class WireTokenWeight(_Strict, frozen=True, kw_only=True):
    token: str
    weight: Unit01


class WireRoles(_Strict, frozen=True, kw_only=True):
    who: str | None = None
    what: str | None = None
    when: str | None = None
    where: str | None = None
    why: str | None = None
    how: str | None = None


class WireEntity(_Strict, frozen=True, kw_only=True):
    text: str
    label: str
    start: NonNegative
    end: NonNegative


class WireAffect(_Strict, frozen=True, kw_only=True):
    valence: Annotated[float, Meta(ge=-1.0, le=1.0)]
    arousal: Unit01


class WireShape(_Strict, frozen=True, kw_only=True):
    dim: int
    weights: dict[str, float]
    vector: bytes  # base64 in JSON, as Lumina writes it; little-endian float32


class WireDecay(_Strict, frozen=True, kw_only=True):
    half_life_s: Annotated[float, Meta(gt=0.0)]
    floor: Unit01
    strength: Unit01
    access_count: NonNegative = 0


class WireUnit(_Strict, frozen=True, kw_only=True):
    """One `MemoryUnit` as its JSON carries it, vectors still as bytes."""

    schema_version: int = SCHEMA_VERSION
    id: str
    content_hash: str
    provenance: WireProvenance
    text: str
    timestamps: WireTimestamps
    salience: Unit01
    attribution: list[WireTokenWeight]
    roles: WireRoles
    entities: list[WireEntity]
    affect: WireAffect
    embedding: bytes
    shape: WireShape
    decay: WireDecay
    stages: dict[str, str]


_DECODER = msgspec.json.Decoder(WireUnit)


def _vectors_ok(vectors: Sequence[bytes]) -> np.ndarray:
    """Per vector: whole float32 values, all finite (the contract's Vector rule)."""
    sizes = np.fromiter((len(v) for v in vectors), dtype=np.int64, count=len(vectors))
    ok = sizes % 4 == 0
    if not ok.all():  # a ragged buffer cannot be read as float32 at all: check the rest
        return ok & _vectors_ok([v if len(v) % 4 == 0 else b"" for v in vectors])
    values = np.frombuffer(b"".join(vectors), dtype="<f4")
    finite = np.isfinite(values)
    if finite.all():
        return ok
    # A vector is finite when it holds no non-finite value: count them per vector.
    bad = np.concatenate(([0], np.cumsum(~finite)))
    bounds = np.concatenate(([0], np.cumsum(sizes // 4)))
    return bad[bounds[1:]] == bad[bounds[:-1]]


def decode_units(raws: Sequence[bytes]) -> tuple[list[WireUnit], list[int]]:
    """The records the mirror accepts, and the positions in `raws` it leaves to
    `MemoryUnit` (refused by the mirror: lax forms, or broken)."""
    units: list[WireUnit] = []
    positions: list[int] = []
    others: list[int] = []
    for i, raw in enumerate(raws):
        try:
            units.append(_DECODER.decode(raw))
            positions.append(i)
        except msgspec.DecodeError:  # ValidationError is one
            others.append(i)
    if units:
        ok = _vectors_ok([u.embedding for u in units]) & _vectors_ok(
            [u.shape.vector for u in units]
        )
        if not ok.all():
            others.extend(p for p, good in zip(positions, ok.tolist(), strict=True) if not good)
            others.sort()
            units = [u for u, good in zip(units, ok.tolist(), strict=True) if good]
    return units, others
