"""Memory units as one Arrow table per insert: the vectors go in as float32 buffers.

A unit carries 1,280 floats. Handing them to the driver as Python lists cost more than the
rest of the sink together (each float encoded in Python, under the GIL the worker's other
agents need); as Arrow they are two `np.concatenate` calls and a list offset array, and
ClickHouse reads the Arrow format natively.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain
from operator import attrgetter
from typing import Any

import numpy as np
import pyarrow as pa

from lumina.core.symbols import ROLES
from lumina.schemas import MemoryUnit
from lumina.schemas.unit_wire import WireUnit
from lumina.store.rows import UNIT_COLUMNS, unit_version

__all__ = ["unit_arrow_table"]

_MS_UTC = pa.timestamp("ms", tz="UTC")


def _offsets(sizes: Iterable[int], count: int) -> pa.Array:
    """A list column's offsets (int32, count + 1 of them) from its `count` lists' sizes."""
    offsets = np.zeros(count + 1, dtype=np.int32)
    np.cumsum(np.fromiter(sizes, dtype=np.int32, count=count), out=offsets[1:])
    return pa.array(offsets)


def _vectors(vectors: Sequence[np.ndarray | bytes]) -> pa.ListArray:
    """One list column from float32 arrays (a `MemoryUnit`'s) or their little-endian bytes
    (a `WireUnit`'s, checked by `decode_units`), in one buffer either way."""
    buffers = [v if isinstance(v, bytes) else np.asarray(v, dtype="<f4").tobytes() for v in vectors]
    flat = np.frombuffer(b"".join(buffers), dtype="<f4")
    offsets = _offsets((len(b) // 4 for b in buffers), len(buffers))
    return pa.ListArray.from_arrays(offsets, pa.array(flat, type=pa.float32()))


# Nested columns are built flat: every unit's items in one Python list, converted once, and
# the units' boundaries as offsets. A list of per-unit lists (or, for a map, of per-unit
# lists of (key, value) pairs) costs a Python list per unit and a pyarrow walk over each;
# the map columns were the dearest of the table that way.


def _lists(groups: Sequence[Sequence[Any]], field: str, item: pa.DataType) -> pa.Array:
    """A list column of `field` of every record in each group (a unit's entities, say)."""
    items = list(map(attrgetter(field), chain.from_iterable(groups)))
    offsets = _offsets(map(len, groups), len(groups))
    return pa.ListArray.from_arrays(offsets, pa.array(items, type=item))


def _maps(rows: Sequence[dict[str, Any]], value: pa.DataType) -> pa.Array:
    """A map column with string keys: each row's keys and values in the row's own order."""
    keys = pa.array(list(chain.from_iterable(rows)), pa.string())
    values = pa.array(list(chain.from_iterable(r.values() for r in rows)), value)
    return pa.MapArray.from_arrays(_offsets(map(len, rows), len(rows)), keys, values)


def unit_arrow_table(units: Sequence[MemoryUnit | WireUnit]) -> pa.Table:
    """The `memory_units` columns (UNIT_COLUMNS, in order) for these units, validated ones
    or records the sink read with `decode_units` (same fields, vectors as bytes)."""
    p = [u.provenance for u in units]
    ts = [u.timestamps for u in units]
    origins = [x.origin for x in p]
    roles = [u.roles for u in units]
    attributions = [u.attribution for u in units]
    entities = [u.entities for u in units]
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
        "attribution_tokens": _lists(attributions, "token", pa.string()),
        "attribution_weights": _lists(attributions, "weight", pa.float32()),
        **{
            f"role_{role}": pa.array([getattr(r, role) for r in roles], pa.string())
            for role in ROLES
        },
        "entity_texts": _lists(entities, "text", pa.string()),
        "entity_labels": _lists(entities, "label", pa.string()),
        "entity_starts": _lists(entities, "start", pa.uint32()),
        "entity_ends": _lists(entities, "end", pa.uint32()),
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
