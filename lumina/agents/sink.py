"""Sink agents: units, dead letters and the stream memory's records from their topics into
the store, in batches, each batch written before its offsets are committed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Annotated, Any, TypeVar

import faust
import pyarrow as pa
from pydantic import Field, TypeAdapter, ValidationError

from lumina.agents.retry import each_batch, until_stored
from lumina.agents.write_behind import Held, WriteBehind
from lumina.config import Settings
from lumina.errors import ReasonCode
from lumina.schemas import DeadLetter, KafkaOrigin, MemoryUnit
from lumina.schemas.state import ActivityWindow, Consolidation, EntityActivation, TimelineChange
from lumina.schemas.unit_wire import WireUnit, decode_units
from lumina.store import MemoryStore
from lumina.store.arrow import unit_arrow_table
from lumina.store.memory_rows import (
    activation_table,
    consolidation_table,
    timeline_table,
    window_table,
)
from lumina.streams.outbox import Outbox
from lumina.streams.topics import Topics, origin_of

log = logging.getLogger(__name__)
T = TypeVar("T")
Table = tuple[str, pa.Table]  # a store table's name and rows for it


# The origin of the i-th record of a batch, asked for a rejected record only: the dead
# letters table keeps one row per origin (and reason), so letters without one would
# collapse into a single row.
OriginAt = Callable[[int], KafkaOrigin | None]


def _no_origin(_: int) -> None:
    return None


def parse_records(
    raws: Sequence[tuple[bytes, bytes | None]],
    parse: Callable[[bytes], T],
    what: str,
    now_ms: int,
    origin_at: OriginAt = _no_origin,
) -> tuple[list[T], list[DeadLetter]]:
    """Records from their JSON; anything else on a Lumina topic becomes a dead letter, with
    its original bytes and where it was read."""
    records, rejects = [], []
    for i, (raw, key) in enumerate(raws):
        try:
            records.append(parse(raw))
        except ValidationError as exc:
            # Something other than Lumina wrote to the topic: keep its bytes.
            rejects.append(
                DeadLetter.from_raw(
                    raw,
                    reason=ReasonCode.SCHEMA_VIOLATION,
                    time_ms=now_ms,
                    message=f"not a {what}: {exc.errors()[0]['msg']}",
                    key=key,
                    origin=origin_at(i),
                )
            )
    return records, rejects


def parse_units(
    raws: Sequence[tuple[bytes, bytes | None]], now_ms: int, origin_at: OriginAt = _no_origin
) -> tuple[list[MemoryUnit | WireUnit], list[DeadLetter]]:
    """Units from their JSON: the msgspec mirror reads the batch, and what it refuses gets
    `MemoryUnit`'s own verdict, so the lax forms still pass and the rest is dead-lettered
    with pydantic's message (lumina/schemas/unit_wire.py)."""
    wire, others = decode_units([raw for raw, _ in raws])
    units, rejects = parse_records(
        [raws[i] for i in others],
        MemoryUnit.model_validate_json,
        "MemoryUnit",
        now_ms,
        lambda j: origin_at(others[j]),
    )
    return [*wire, *units], rejects


def unit_rows(
    raws: Sequence[tuple[bytes, bytes | None]], now_ms: int, origin_at: OriginAt = _no_origin
) -> tuple[pa.Table, list[DeadLetter]]:
    """The `memory_units` rows of a batch of units' JSON, and the dead letters of the rest."""
    units, rejects = parse_units(raws, now_ms, origin_at)
    return unit_arrow_table(units), rejects


def _origin_at(events: Sequence[faust.EventT], i: int) -> KafkaOrigin:
    return origin_of(events[i])


ActivationRecord = Annotated[EntityActivation | ActivityWindow, Field(discriminator="kind")]
_ACTIVATION = TypeAdapter(ActivationRecord)
_CONSOLIDATION = TypeAdapter(Consolidation)
_TIMELINE = TypeAdapter(TimelineChange)


def activation_tables(records: Sequence[EntityActivation | ActivityWindow]) -> list[Table]:
    entities = [r for r in records if isinstance(r, EntityActivation)]
    windows = [r for r in records if isinstance(r, ActivityWindow)]
    return [
        ("entity_activations", activation_table(entities)),
        ("activity_windows", window_table(windows)),
    ]


def consolidation_tables(records: Sequence[Consolidation]) -> list[Table]:
    return [("consolidations", consolidation_table(records))]


def timeline_tables(records: Sequence[TimelineChange]) -> list[Table]:
    return [("role_timelines", timeline_table(records))]


def attach_sink_agents(
    app: faust.App,
    topics: Topics,
    store: MemoryStore,
    settings: Settings,
    clock: Callable[[], int] = lambda: int(time.time() * 1000),
) -> tuple[Any, Any]:
    batching = (settings.sink_batch_size, settings.sink_within_s)

    async def dead_letter(letters: list[DeadLetter]) -> None:
        outbox = Outbox()
        for letter in letters:
            outbox.add(topics.dead_letter, letter.model_dump_json().encode())
        await outbox.delivered()

    writes = WriteBehind()

    async def store_units(events: list[faust.EventT]) -> None:
        # Reading thousands of units is tens of milliseconds of CPU: in a thread, so the
        # event loop keeps serving the other agents, and while the batch before is written.
        raws = [(event.message.value or b"", event.message.key) for event in events]
        origin_at = partial(_origin_at, events)
        rows, rejects = await asyncio.to_thread(unit_rows, raws, clock(), origin_at)
        await writes.drain()  # the batch before, written meanwhile
        # No await from here to the submit: a batch held is a batch being written.
        held = Held(events)  # committed once written, not when the next batch is taken

        async def write() -> None:
            await until_stored(partial(store.insert_unit_table, rows), rows.num_rows, "units")
            await dead_letter(rejects)
            held.release()

        await writes.submit(write, f"writing {len(events)} units")

    @app.agent(topics.units, name="lumina.sink-units")
    async def sink_units(stream: faust.StreamT) -> None:
        try:
            await each_batch(stream, *batching, store_units, "sinking {n} units")
        finally:
            await writes.drain()  # a stop waits for the batch being written

    def memory_sink(
        topic: faust.TopicT, adapter: TypeAdapter[Any], tables: Callable[[Any], list[Table]]
    ) -> Any:
        """An agent storing one of the stream memory's record topics, batch by batch."""
        what = topic.get_topic_name()

        async def store_records(events: list[faust.EventT]) -> None:
            raws = [(event.message.value or b"", event.message.key) for event in events]
            origin_at = partial(_origin_at, events)
            records, rejects = parse_records(raws, adapter.validate_json, what, clock(), origin_at)
            for name, table in tables(records):
                await until_stored(partial(store.insert_table, name, table), table.num_rows, name)
            await dead_letter(rejects)

        @app.agent(topic, name=f"lumina.sink-{what.rsplit('.', 1)[-1]}")
        async def sink(stream: faust.StreamT) -> None:
            await each_batch(stream, *batching, store_records, f"sinking {{n}} {what}")

        return sink

    memory_sink(topics.activations, _ACTIVATION, activation_tables)
    memory_sink(topics.consolidations, _CONSOLIDATION, consolidation_tables)
    memory_sink(topics.timelines, _TIMELINE, timeline_tables)

    async def store_dead_letters(events: list[faust.EventT]) -> None:
        letters = []
        for event in events:
            raw = event.message.value or b""
            try:
                letters.append(DeadLetter.model_validate_json(raw))
            except ValidationError:
                log.error("dropping a malformed dead letter of %d bytes", len(raw))
        await until_stored(
            partial(store.insert_dead_letters, letters), len(letters), "dead letters"
        )

    @app.agent(topics.dead_letter, name="lumina.sink-dead-letters")
    async def sink_dead_letters(stream: faust.StreamT) -> None:
        await each_batch(stream, *batching, store_dead_letters, "sinking {n} dead letters")

    return sink_units, sink_dead_letters
