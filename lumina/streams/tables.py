"""Faust tables, and the helpers that keep each table change on its scope's partition.

Every table is keyed by a string that starts with the scope (`lumina.state.keys`), holds
JSON values, and lives in RocksDB (or memory) with a changelog topic it is rebuilt from.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import faust
from faust.stores.base import SerializedStore
from faust.streams import _current_event
from faust.types import TP

from lumina.config import Settings
from lumina.state.keys import SEPARATOR
from lumina.streams.outbox import Outbox

# Faust's RocksDB defaults are for one big table: 64 MiB write buffers (three of them) and a
# 2 GiB block cache, per table and per partition. A worker here has eight tables times its
# partitions, and the defaults let its RSS pass 2 GiB within minutes of a 10,000-scope
# backlog (measured with bench/stream.py). These bound each partition's database to ~16 MiB.
ROCKSDB_OPTIONS: dict[str, int] = {
    "write_buffer_size": 4 * 1024**2,
    "max_write_buffer_number": 2,
    "block_cache_size": 8 * 1024**2,
    "block_cache_compressed_size": 0,
}


def state_table(app: faust.App, settings: Settings, name: str, help: str) -> Any:
    return app.Table(
        name,
        default=None,
        partitions=settings.partitions,
        # A copy per table: Faust pops keys from the options it is given.
        options=dict(ROCKSDB_OPTIONS),
        schema=faust.Schema(
            key_type=str, value_type=None, key_serializer="json", value_serializer="json"
        ),
        help=help,
    )


@dataclass(frozen=True)
class StateTables:
    """The tables of a worker's agents, declared once so its agents share them. A table no
    agent of the worker uses is None: declaring it would make the worker recover it."""

    chain: Any  # scope → head and length of its chain; scope ␟ unit id → the unit's link
    content: Any  # scope ␟ content hash → kept unit id and duplicate count
    recent: Any  # scope → recent units' embeddings, for near duplicates
    activations: Any  # scope ␟ entity → activation, clock, mentions
    windows: Any  # scope ␟ window start → units, salience, entity counts
    window_index: Any  # scope → window starts kept
    timelines: Any  # scope ␟ who → latest where/what with valid_from
    decay: Any  # scope ␟ unit id → half-life, last access, access count

    @classmethod
    def declare(cls, app: faust.App, settings: Settings) -> StateTables:
        used = {field for agent in settings.agents for field in AGENT_TABLES[agent]}
        return cls(
            **{
                field: state_table(app, settings, name, help) if field in used else None
                for field, (name, help) in TABLES.items()
            }
        )


# StateTables field → (table name, help). The names also name the changelog topics
# (`changelog_topics`), which `lumina.streams.admin` creates before Faust starts.
TABLES: dict[str, tuple[str, str]] = {
    "chain": ("provenance-chain", "Chain heads per scope and links per unit."),
    "content": ("content-index", "Kept unit per (scope, content hash)."),
    "recent": ("recent-units", "Recent embeddings per scope, for near duplicates."),
    "activations": ("entity-activation", "Decaying activation per entity."),
    "windows": ("activity-windows", "Units and entities per tumbling window."),
    "window_index": ("window-index", "Live window starts per scope."),
    "timelines": ("role-timelines", "Latest where/what per (scope, who)."),
    "decay": ("unit-decay", "Reinforced decay state per unit."),
}


# Agent → the StateTables fields it reads and writes.
AGENT_TABLES: dict[str, tuple[str, ...]] = {
    "enrich": ("chain", "content", "recent"),
    "state": ("activations", "windows", "window_index", "timelines"),
    "reinforce": ("decay",),
    "sink": (),
}


def changelog_topics(settings: Settings) -> list[str]:
    """The changelog topic of every table, as Faust names them (app id, table, suffix)."""
    return [f"{settings.group_id}-{name}-changelog" for name, _ in TABLES.values()]


def scope_of(key: str) -> str:
    return key.split(SEPARATOR, 1)[0]


@contextmanager
def writing_for(event: faust.EventT) -> Iterator[None]:
    """Make `event` the current one while table keys of its scope are written.

    A batch from `take_events` spans partitions, and Faust writes a table change to the
    changelog partition of the *current* event. Without this, a head for a scope read from
    partition 2 could land in partition 0's changelog and be lost to the worker that owns
    partition 2 after a rebalance. This keeps state next to its events whatever partitioner
    the producers used.
    """
    token = _current_event.set(weakref.ref(event))
    try:
        yield
    finally:
        _current_event.reset(token)


class BatchOverlay(MutableMapping[str, Any]):
    """A table seen through a batch: reads fall through, writes wait for `flush`.

    State logic runs over this instead of the table, so a key changed by many units of a
    batch reaches the changelog once, with its last value, and the logic can run away from
    the event loop (Faust tables are not thread-safe) when the keys were read beforehand
    with `prefetch`.
    """

    def __init__(self, table: Any) -> None:
        self.table = table
        self.cache: dict[str, Any] = {}
        self.changed: set[str] = set()

    def prefetch(self, keys: Iterator[str] | list[str]) -> None:
        for key in keys:
            if key not in self.cache:
                self.cache[key] = self._read(key)

    def _lookup(self, key: str) -> Any:
        if key not in self.cache:
            self.cache[key] = self._read(key)
        return self.cache[key]

    def _read(self, key: str) -> Any:
        # From the table's store: one lookup. `table.get` asks the store whether it has the
        # key and then for the key (each a RocksDB read in every partition's database when
        # no event is current) and reports the read to Faust's sensors.
        return self.table.data.get(key)

    def __getitem__(self, key: str) -> Any:
        value = self._lookup(key)
        if value is None:
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        value = self._lookup(key)
        return default if value is None else value

    def __setitem__(self, key: str, value: Any) -> None:
        self.cache[key] = value
        self.changed.add(key)

    def __delitem__(self, key: str) -> None:
        if self._lookup(key) is None:
            raise KeyError(key)
        self.cache[key] = None
        self.changed.add(key)

    def __iter__(self) -> Iterator[str]:  # only what this batch has seen
        return (k for k, v in self.cache.items() if v is not None)

    def __len__(self) -> int:
        return sum(1 for v in self.cache.values() if v is not None)

    def flush(self, source_of_scope: Callable[[str], faust.EventT], outbox: Outbox) -> int:
        """Write each changed key once: to the table's local store now, and its changelog
        record, on the partition of an event of its scope, into `outbox`, to go with the
        batch's other records. Once the outbox is delivered, `persist_offsets` records how
        far the changelog goes, as Faust's own write path does per record.

        A scope's own key (a chain head, a window index) is written after the scope's other
        keys. They share one changelog partition, which Kafka keeps in order, so a head that
        survives a crash implies the unit links written before it survived too.

        Faust's `table[key] = value` sends the changelog record itself, through a message
        object, a future and a callback per record, and queues it in a producer buffer the
        agent then has to wait on; at ~7 records a unit that was much of the worker's time
        (`bench/stream.py`). Here the local write goes straight to the table's store and the
        changelog records go as record batches.
        """
        store = self.table.data
        changelog = self.table.changelog_topic
        serializers = self.table.app.serializers
        # A serialized store (RocksDB) takes the changelog record's own bytes: each value is
        # encoded once, not once for the store and again for the changelog.
        raw = isinstance(store, SerializedStore)
        for key in sorted(self.changed, key=lambda k: (SEPARATOR not in k, k)):
            value = self.cache[key]
            event = source_of_scope(scope_of(key))
            key_bytes = serializers.dumps_key(
                self.table.key_type, key, serializer=self.table.key_serializer
            )
            value_bytes = (
                None
                if value is None
                else serializers.dumps_value(
                    self.table.value_type, value, serializer=self.table.value_serializer
                )
            )
            with writing_for(event):  # the store files a key under the current event's partition
                if value is None:
                    store.pop(key, None)
                elif raw:
                    store._set(key_bytes, value_bytes)
                else:
                    store[key] = value
            outbox.add(changelog, value_bytes, key_bytes, partition=event.message.partition)
        count = len(self.changed)
        self.changed.clear()
        return count


def persist_offsets(overlays: Iterable[BatchOverlay], delivered: Mapping[TP, int]) -> None:
    """Record in each table's store the last changelog offset the broker took, so a restart
    or a rebalance reads the changelog on from there instead of from its start."""
    for overlay in overlays:
        topic = overlay.table.changelog_topic.get_topic_name()
        for tp, offset in delivered.items():
            if tp.topic == topic:
                overlay.table.data.set_persisted_offset(tp, offset)
