"""Sink agents: units and dead letters from their topics into the store, in batches."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import faust
from pydantic import ValidationError

from lumina.config import Settings
from lumina.errors import ReasonCode
from lumina.schemas import DeadLetter, MemoryUnit
from lumina.store import MemoryStore
from lumina.streams.topics import Topics

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BACKOFF_S = 30.0


async def write_until_stored(
    write: Callable[[Sequence[T]], int], rows: Sequence[T], what: str
) -> None:
    """Retry a failed write with backoff until it succeeds: the batch's offsets are not
    committed until then, so a store outage slows the stream instead of losing data."""
    delay = 0.5
    while True:
        try:
            await asyncio.to_thread(write, rows)
            return
        except Exception as exc:  # any store failure: keep the batch and try again
            log.warning("writing %d %s failed (%s); retrying in %.1fs", len(rows), what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)


def parse_units(
    raws: Sequence[tuple[bytes, bytes | None]], now_ms: int
) -> tuple[list[MemoryUnit], list[DeadLetter]]:
    """Units from their JSON; anything else on the units topic becomes a dead letter."""
    units, rejects = [], []
    for raw, key in raws:
        try:
            units.append(MemoryUnit.model_validate_json(raw))
        except ValidationError as exc:
            # Something other than Lumina wrote to the units topic: keep its bytes.
            rejects.append(
                DeadLetter.from_raw(
                    raw,
                    reason=ReasonCode.SCHEMA_VIOLATION,
                    time_ms=now_ms,
                    message=f"not a MemoryUnit: {exc.errors()[0]['msg']}",
                    key=key,
                )
            )
    return units, rejects


def attach_sink_agents(
    app: faust.App,
    topics: Topics,
    store: MemoryStore,
    settings: Settings,
    clock: Callable[[], int] = lambda: int(time.time() * 1000),
) -> tuple[Any, Any]:
    @app.agent(topics.units, name="lumina.sink-units")
    async def sink_units(stream: faust.StreamT) -> None:
        async for events in stream.take_events(  # type: ignore[attr-defined]
            settings.sink_batch_size, within=settings.sink_within_s
        ):
            # Parsing thousands of units is tens of milliseconds of CPU: in a thread, like the
            # insert, so the event loop keeps serving the other agents meanwhile.
            raws = [(event.message.value or b"", event.message.key) for event in events]
            units, rejects = await asyncio.to_thread(parse_units, raws, clock())
            await write_until_stored(store.insert_units, units, "units")
            for letter in rejects:
                await topics.dead_letter.send(value=letter.model_dump_json().encode())

    @app.agent(topics.dead_letter, name="lumina.sink-dead-letters")
    async def sink_dead_letters(stream: faust.StreamT) -> None:
        async for values in stream.take(settings.sink_batch_size, within=settings.sink_within_s):
            letters = []
            for raw in values:
                try:
                    letters.append(DeadLetter.model_validate_json(raw))
                except ValidationError:
                    log.error("dropping a malformed dead letter of %d bytes", len(raw or b""))
            await write_until_stored(store.insert_dead_letters, letters, "dead letters")

    return sink_units, sink_dead_letters
