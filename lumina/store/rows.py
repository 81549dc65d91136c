"""The store's row layout: unit columns and versions, units read back, dead-letter columns."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from lumina.core.symbols import ROLES
from lumina.schemas import (
    Affect,
    DeadLetter,
    Decay,
    Entity,
    KafkaOrigin,
    MemoryUnit,
    Provenance,
    Roles,
    Shape,
    Timestamps,
    TokenWeight,
)
from lumina.schemas.unit_wire import WireUnit

UNIT_COLUMNS: tuple[str, ...] = (
    "scope",
    "id",
    "version",
    "schema_version",
    "content_hash",
    "text",
    "source",
    "author",
    "session",
    "event_id",
    "origin_topic",
    "origin_partition",
    "origin_offset",
    "chain_link",
    "previous_link",
    "sequence",
    "event_time",
    "ingest_time",
    "last_access",
    "salience",
    "attribution_tokens",
    "attribution_weights",
    "role_who",
    "role_what",
    "role_when",
    "role_where",
    "role_why",
    "role_how",
    "entity_texts",
    "entity_labels",
    "entity_starts",
    "entity_ends",
    "valence",
    "arousal",
    "embedding",
    "shape",
    "shape_weights",
    "half_life_s",
    "decay_floor",
    "strength",
    "access_count",
    "stages",
)

DEAD_LETTER_COLUMNS: tuple[str, ...] = (
    "time",
    "reason",
    "message",
    "stage",
    "original_b64",
    "original_key_b64",
    "origin_topic",
    "origin_partition",
    "origin_offset",
)


# ReplacingMergeTree keeps the row with the highest version. A unit's versions differ by
# reinforcement, so the access count leads and the ingest time breaks ties: a reinforced
# version beats a re-delivered copy of the original, and the newest copy wins among equals.
# 2^42 ms is the year 2109.
INGEST_BITS = 42


def unit_version(unit: MemoryUnit | WireUnit) -> int:
    return (unit.decay.access_count << INGEST_BITS) | unit.timestamps.ingest_ms


def datetime_to_ms(value: datetime) -> int:
    if value.tzinfo is None:  # the driver may hand back naive UTC
        value = value.replace(tzinfo=UTC)
    return round(value.timestamp() * 1000)


def _f4(value: float) -> float:
    # Float32 columns widen 0.6123 to 0.61229997…; units carry these at 4 decimals.
    return round(float(value), 4)


def unit_from_row(row: Sequence[Any]) -> MemoryUnit:
    """The MemoryUnit a `memory_units` row was written from (columns in UNIT_COLUMNS order).

    Equal to the unit written, except `provenance.origin.timestamp_ms`, which the table
    does not keep (the event time is kept).
    """
    r = dict(zip(UNIT_COLUMNS, row, strict=True))
    origin = None
    if r["origin_topic"] is not None:
        origin = KafkaOrigin(
            topic=r["origin_topic"], partition=r["origin_partition"], offset=r["origin_offset"]
        )
    return MemoryUnit(
        schema_version=r["schema_version"],
        id=r["id"],
        content_hash=r["content_hash"],
        provenance=Provenance(
            scope=r["scope"],
            source=r["source"],
            author=r["author"],
            session=r["session"],
            event_id=r["event_id"],
            origin=origin,
            chain_link=r["chain_link"],
            previous_link=r["previous_link"],
            sequence=r["sequence"],
        ),
        text=r["text"],
        timestamps=Timestamps(
            event_ms=datetime_to_ms(r["event_time"]),
            ingest_ms=datetime_to_ms(r["ingest_time"]),
            last_access_ms=datetime_to_ms(r["last_access"]),
        ),
        salience=_f4(r["salience"]),
        attribution=[
            TokenWeight(token=t, weight=_f4(w))
            for t, w in zip(r["attribution_tokens"], r["attribution_weights"], strict=True)
        ],
        roles=Roles(**{role: r[f"role_{role}"] for role in ROLES}),
        entities=[
            Entity(text=t, label=label, start=s, end=e)
            for t, label, s, e in zip(
                r["entity_texts"],
                r["entity_labels"],
                r["entity_starts"],
                r["entity_ends"],
                strict=True,
            )
        ],
        affect=Affect(valence=_f4(r["valence"]), arousal=_f4(r["arousal"])),
        embedding=r["embedding"],
        shape=Shape(
            dim=len(r["shape"]),
            weights={role: _f4(w) for role, w in r["shape_weights"].items()},
            vector=r["shape"],
        ),
        decay=Decay(
            half_life_s=r["half_life_s"],
            floor=round(float(r["decay_floor"]), 6),
            strength=_f4(r["strength"]),
            access_count=r["access_count"],
        ),
        stages=dict(r["stages"]),
    )


def dead_letter_table(letters: Sequence[DeadLetter]) -> pa.Table:
    """The `dead_letters` columns (DEAD_LETTER_COLUMNS, in order) for these letters; a
    letter without an origin is filed under topic "", partition -1, offset -1."""
    origins = [d.origin for d in letters]
    columns = {
        "time": pa.array([d.time_ms for d in letters], pa.timestamp("ms", tz="UTC")),
        "reason": pa.array([str(d.reason) for d in letters], pa.string()),
        "message": pa.array([d.message for d in letters], pa.string()),
        "stage": pa.array([d.stage for d in letters], pa.string()),
        "original_b64": pa.array([d.original_b64 for d in letters], pa.string()),
        "original_key_b64": pa.array([d.original_key_b64 for d in letters], pa.string()),
        "origin_topic": pa.array([o.topic if o else "" for o in origins], pa.string()),
        "origin_partition": pa.array([o.partition if o else -1 for o in origins], pa.int32()),
        "origin_offset": pa.array([o.offset if o else -1 for o in origins], pa.int64()),
    }
    return pa.table(
        [columns[name] for name in DEAD_LETTER_COLUMNS], names=list(DEAD_LETTER_COLUMNS)
    )
