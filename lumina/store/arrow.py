"""Memory units as one Arrow table per insert: the vectors go in as float32 buffers.

A unit carries 1,280 floats. Handing them to the driver as Python lists cost more than the
rest of the sink together (each float encoded in Python, under the GIL the worker's other
agents need); as Arrow they are two `np.concatenate` calls and a list offset array, and
ClickHouse reads the Arrow format natively.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from lumina.core.symbols import ROLES
from lumina.schemas import MemoryUnit
from lumina.schemas.unit_wire import WireUnit
from lumina.store.rows import UNIT_COLUMNS, unit_version

__all__ = ["unit_arrow_table"]

_MS_UTC = pa.timestamp("ms", tz="UTC")


def _vectors(vectors: Sequence[np.ndarray | bytes]) -> pa.ListArray:
    """One list column from float32 arrays (a `MemoryUnit`'s) or their little-endian bytes
    (a `WireUnit`'s, checked by `decode_units`), in one buffer either way."""
    buffers = [v if isinstance(v, bytes) else np.asarray(v, dtype="<f4").tobytes() for v in vectors]
    sizes = np.fromiter((len(b) // 4 for b in buffers), dtype=np.int32, count=len(buffers))
    offsets = np.zeros(len(buffers) + 1, dtype=np.int32)
    np.cumsum(sizes, out=offsets[1:])
    flat = np.frombuffer(b"".join(buffers), dtype="<f4")
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(flat, type=pa.float32()))


def _lists(rows: list[list[Any]], item: pa.DataType) -> pa.Array:
    return pa.array(rows, type=pa.list_(item))


def _maps(rows: list[dict[str, Any]], value: pa.DataType) -> pa.Array:
    return pa.array([list(r.items()) for r in rows], type=pa.map_(pa.string(), value))


def unit_arrow_table(units: Sequence[MemoryUnit | WireUnit]) -> pa.Table:
    """The `memory_units` columns (UNIT_COLUMNS, in order) for these units, validated ones
    or records the sink read with `decode_units` (same fields, vectors as bytes)."""
    p = [u.provenance for u in units]
    ts = [u.timestamps for u in units]
    origins = [x.origin for x in p]
    roles = [u.roles for u in units]
    columns: dict[str, pa.Array] = {
        "scope": pa.array([x.scope for x in p], pa.string()),
        "id": pa.array([u.id for u in units], pa.string()),
        "version": pa.array([unit_version(u) for u in units], pa.uint64()),
        "schema_version": pa.array([u.schema_version for u in units], pa.uint16()),
        "content_hash": pa.array([u.content_hash for u in units], pa.string()),
        "text": pa.array([u.text for u in units], pa.string()),
        "source": pa.array([x.source for x in p], pa.string()),
        "author": pa.array([x.author for x in p], pa.string()),
        "session": pa.array([x.session for x in p], pa.string()),
        "event_id": pa.array([x.event_id for x in p], pa.string()),
        "origin_topic": pa.array([o.topic if o else None for o in origins], pa.string()),
        "origin_partition": pa.array([o.partition if o else None for o in origins], pa.int32()),
        "origin_offset": pa.array([o.offset if o else None for o in origins], pa.int64()),
        "chain_link": pa.array([x.chain_link for x in p], pa.string()),
        "previous_link": pa.array([x.previous_link for x in p], pa.string()),
        "sequence": pa.array([x.sequence for x in p], pa.uint64()),
        "event_time": pa.array([t.event_ms for t in ts], _MS_UTC),
        "ingest_time": pa.array([t.ingest_ms for t in ts], _MS_UTC),
        "last_access": pa.array([t.last_access_ms for t in ts], _MS_UTC),
        "salience": pa.array([u.salience for u in units], pa.float32()),
        "attribution_tokens": _lists(
            [[a.token for a in u.attribution] for u in units], pa.string()
        ),
        "attribution_weights": _lists(
            [[a.weight for a in u.attribution] for u in units], pa.float32()
        ),
        **{
            f"role_{role}": pa.array([getattr(r, role) for r in roles], pa.string())
            for role in ROLES
        },
        "entity_texts": _lists([[e.text for e in u.entities] for u in units], pa.string()),
        "entity_labels": _lists([[e.label for e in u.entities] for u in units], pa.string()),
        "entity_starts": _lists([[e.start for e in u.entities] for u in units], pa.uint32()),
        "entity_ends": _lists([[e.end for e in u.entities] for u in units], pa.uint32()),
        "valence": pa.array([u.affect.valence for u in units], pa.float32()),
        "arousal": pa.array([u.affect.arousal for u in units], pa.float32()),
        "embedding": _vectors([u.embedding for u in units]),
        "shape": _vectors([u.shape.vector for u in units]),
        "shape_weights": _maps([u.shape.weights for u in units], pa.float32()),
        "half_life_s": pa.array([u.decay.half_life_s for u in units], pa.float64()),
        "decay_floor": pa.array([u.decay.floor for u in units], pa.float32()),
        "strength": pa.array([u.decay.strength for u in units], pa.float32()),
        "access_count": pa.array([u.decay.access_count for u in units], pa.uint32()),
        "stages": _maps([u.stages for u in units], pa.string()),
    }
    return pa.table([columns[name] for name in UNIT_COLUMNS], names=list(UNIT_COLUMNS))
