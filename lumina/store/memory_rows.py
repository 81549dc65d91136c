"""Arrow tables for what the stream's memory publishes: entity activations, activity
windows, consolidations and role timeline changes (schema: migration 0005)."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from lumina.schemas.state import ActivityWindow, Consolidation, EntityActivation, TimelineChange

_MS_UTC = pa.timestamp("ms", tz="UTC")
_TOP = pa.list_(pa.struct([("entity", pa.string()), ("count", pa.uint64())]))


def activation_table(records: Sequence[EntityActivation]) -> pa.Table:
    return pa.table(
        {
            "scope": pa.array([r.scope for r in records], pa.string()),
            "entity": pa.array([r.entity for r in records], pa.string()),
            "activation": pa.array([r.activation for r in records], pa.float64()),
            "half_life_s": pa.array([r.half_life_s for r in records], pa.float64()),
            "mentions": pa.array([r.mentions for r in records], pa.uint64()),
            "event_time": pa.array([r.event_ms for r in records], _MS_UTC),
        }
    )


def window_table(records: Sequence[ActivityWindow]) -> pa.Table:
    return pa.table(
        {
            "scope": pa.array([r.scope for r in records], pa.string()),
            "window_start": pa.array([r.start_ms for r in records], _MS_UTC),
            "window_end": pa.array([r.end_ms for r in records], _MS_UTC),
            "units": pa.array([r.units for r in records], pa.uint64()),
            "salience_sum": pa.array([r.salience_sum for r in records], pa.float64()),
            "top_entities": pa.array(
                [[{"entity": e.entity, "count": e.count} for e in r.top_entities] for r in records],
                _TOP,
            ),
        }
    )


def consolidation_table(records: Sequence[Consolidation]) -> pa.Table:
    return pa.table(
        {
            "scope": pa.array([r.scope for r in records], pa.string()),
            "kind": pa.array([r.kind for r in records], pa.string()),
            "kept_id": pa.array([r.kept_id for r in records], pa.string()),
            "absorbed_id": pa.array([r.absorbed_id for r in records], pa.string()),
            "similarity": pa.array([r.similarity for r in records], pa.float32()),
            # A near duplicate is absorbed once; exact ones count up, and the count orders them.
            "duplicates": pa.array([r.duplicates or 1 for r in records], pa.uint64()),
            "event_time": pa.array([r.event_ms for r in records], _MS_UTC),
        }
    )


def timeline_table(records: Sequence[TimelineChange]) -> pa.Table:
    """One row per value change: the value holds from its event time until the next row of
    its (scope, who, role) — the `role_intervals` view works out that end."""
    return pa.table(
        {
            "scope": pa.array([r.scope for r in records], pa.string()),
            "who": pa.array([r.who for r in records], pa.string()),
            "role": pa.array([r.role for r in records], pa.string()),
            "value": pa.array([r.value for r in records], pa.string()),
            "valid_from": pa.array([r.valid_from_ms for r in records], _MS_UTC),
            "unit_id": pa.array([r.unit_id for r in records], pa.string()),
        }
    )
