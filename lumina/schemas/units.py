"""MemoryUnit: the enriched record with all 13 components of DESIGN.md."""

from __future__ import annotations

import orjson
from pydantic import BaseModel, ConfigDict, Field

from lumina.schemas.dead_letter import KafkaOrigin
from lumina.schemas.vectors import Vector, same_values, vector_json

# 3: vectors in JSON as base64 float32 (lists of numbers are still read).
SCHEMA_VERSION = 3


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _WithVectors(_Frozen):
    """A model holding numpy vectors: equal when every field is, arrays element-wise."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(
            same_values(getattr(self, f), getattr(other, f)) for f in type(self).model_fields
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking arrays: like lists, unhashable


class Provenance(_Frozen):
    """Component 3: where the unit came from and its place in the scope's hash chain."""

    scope: str
    source: str | None = None
    author: str | None = None
    session: str | None = None
    event_id: str | None = None
    origin: KafkaOrigin | None = None
    chain_link: str = Field(description="BLAKE3(previous link ‖ unit id ‖ event time).")
    previous_link: str = Field(description="The scope's chain head before this unit.")
    sequence: int = Field(ge=1, description="The unit's position in its scope's chain, from 1.")


class Timestamps(_Frozen):
    """Component 5, epoch milliseconds (UTC)."""

    event_ms: int
    ingest_ms: int
    last_access_ms: int


class TokenWeight(_Frozen):
    """Component 7: one attributed token and its weight in [0, 1]."""

    token: str
    weight: float = Field(ge=0.0, le=1.0)


class Roles(_Frozen):
    """Component 8: the 6W fillers; None when the text does not say."""

    who: str | None = None
    what: str | None = None
    when: str | None = None
    where: str | None = None
    why: str | None = None
    how: str | None = None

    def filled(self) -> dict[str, str]:
        return {role: value for role, value in self.model_dump().items() if value}


class Entity(_Frozen):
    """Component 9: a named entity with its label and character span in `text`."""

    text: str
    label: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)


class Affect(_Frozen):
    """Component 10: valence in [-1, 1], arousal in [0, 1]."""

    valence: float = Field(ge=-1.0, le=1.0)
    arousal: float = Field(ge=0.0, le=1.0)


class Shape(_WithVectors):
    """Component 12: the HRR vector normalize(Σ_r w_r · (R_r ⊛ f_r)) and the weights used."""

    dim: int
    weights: dict[str, float] = Field(description="Role → weight; missing roles are absent.")
    vector: Vector


class Decay(_Frozen):
    """Component 13: decay state at ingest."""

    half_life_s: float = Field(gt=0)
    floor: float = Field(ge=0.0, le=1.0)
    strength: float = Field(ge=0.0, le=1.0, description="Strength at ingest (1.0 when new).")
    access_count: int = Field(default=0, ge=0)


class MemoryUnit(_WithVectors):
    """One memory unit, published to `lumina.units` (key = scope) and stored in ClickHouse."""

    schema_version: int = SCHEMA_VERSION
    id: str = Field(description="1. BLAKE3-256 over (scope, event identity), versioned.")
    content_hash: str = Field(description="2. BLAKE3-256 of the normalized text.")
    provenance: Provenance = Field(description="3.")
    text: str = Field(description="4. Normalized content.")
    timestamps: Timestamps = Field(description="5.")
    salience: float = Field(ge=0.0, le=1.0, description="6. σ from lexical attribution.")
    attribution: list[TokenWeight] = Field(description="7. Top tokens with weights.")
    roles: Roles = Field(description="8. The 6W fillers.")
    entities: list[Entity] = Field(description="9.")
    affect: Affect = Field(description="10.")
    embedding: Vector = Field(description="11. L2-normalized semantic vector.")
    shape: Shape = Field(description="12. Holographic role binding.")
    decay: Decay = Field(description="13.")
    stages: dict[str, str] = Field(description="Stage name → versioned registry name.")

    @property
    def scope(self) -> str:
        return self.provenance.scope

    def to_json(self) -> bytes:
        """The unit's JSON, as `model_dump_json` gives it, about twice as fast: orjson over
        the Python dump, with the two vectors put in as their base64. The hot path of the
        enrich agent and `lumina enrich`."""
        dump = self.model_dump()
        dump["embedding"] = vector_json(self.embedding)
        dump["shape"]["vector"] = vector_json(self.shape.vector)
        return orjson.dumps(dump)
