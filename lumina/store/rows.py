"""Turns memory units and dead letters into column-oriented data for inserts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from lumina.schemas import DeadLetter, MemoryUnit

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


def ms_to_datetime(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def unit_row(unit: MemoryUnit) -> list[Any]:
    p, ts, roles, origin = unit.provenance, unit.timestamps, unit.roles, unit.provenance.origin
    return [
        p.scope,
        unit.id,
        ts.ingest_ms,
        unit.schema_version,
        unit.content_hash,
        unit.text,
        p.source,
        p.author,
        p.session,
        p.event_id,
        origin.topic if origin else None,
        origin.partition if origin else None,
        origin.offset if origin else None,
        p.chain_link,
        p.previous_link,
        ms_to_datetime(ts.event_ms),
        ms_to_datetime(ts.ingest_ms),
        ms_to_datetime(ts.last_access_ms),
        unit.salience,
        [a.token for a in unit.attribution],
        [a.weight for a in unit.attribution],
        roles.who,
        roles.what,
        roles.when,
        roles.where,
        roles.why,
        roles.how,
        [e.text for e in unit.entities],
        [e.label for e in unit.entities],
        [e.start for e in unit.entities],
        [e.end for e in unit.entities],
        unit.affect.valence,
        unit.affect.arousal,
        unit.embedding,
        unit.shape.vector,
        unit.shape.weights,
        unit.decay.half_life_s,
        unit.decay.floor,
        unit.decay.strength,
        unit.decay.access_count,
        unit.stages,
    ]


def unit_columns(units: Sequence[MemoryUnit]) -> list[list[Any]]:
    """Column-major data: one list per column of UNIT_COLUMNS."""
    rows = [unit_row(u) for u in units]
    return (
        [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in UNIT_COLUMNS]
    )


def dead_letter_columns(letters: Sequence[DeadLetter]) -> list[list[Any]]:
    rows = [
        [
            ms_to_datetime(d.time_ms),
            str(d.reason),
            d.message,
            d.stage,
            d.original_b64,
            d.original_key_b64,
            d.origin.topic if d.origin else "",
            d.origin.partition if d.origin else -1,
            d.origin.offset if d.origin else -1,
        ]
        for d in letters
    ]
    if not rows:
        return [[] for _ in DEAD_LETTER_COLUMNS]
    return [list(column) for column in zip(*rows, strict=True)]
