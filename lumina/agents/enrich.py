"""The enrich agent: events in, units and dead letters out, batch by batch."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import faust
from pydantic import BaseModel

from lumina.agents.retry import each_batch
from lumina.config import Settings
from lumina.core.identity import content_hash
from lumina.enrich import EnrichResult, Incoming, Pipeline
from lumina.errors import InvalidEvent
from lumina.schemas import DeadLetter, MemoryUnit
from lumina.schemas.state import AccessEvent, Consolidation
from lumina.state import ContentIndex, NearDuplicates, NearMatch
from lumina.state.chain import resume_chain, save_chain
from lumina.state.keys import scoped
from lumina.streams.outbox import Outbox
from lumina.streams.tables import BatchOverlay, StateTables, persist_offsets
from lumina.streams.topics import Topics, origin_of

log = logging.getLogger(__name__)


@dataclass
class DecodedBatch:
    """A batch split into events the pipeline can take and dead letters."""

    incoming: list[Incoming] = field(default_factory=list)
    sources: list[faust.EventT] = field(default_factory=list)  # parallel to `incoming`
    dead: list[tuple[bytes | None, DeadLetter]] = field(default_factory=list)


def decode_batch(events: Sequence[faust.EventT], settings: Settings, now_ms: int) -> DecodedBatch:
    batch = DecodedBatch()
    for event in events:
        raw: bytes = event.message.value or b""
        origin = origin_of(event)
        try:
            incoming = Incoming.decode(raw, settings, origin)
        except InvalidEvent as exc:
            letter = DeadLetter.from_raw(
                raw,
                reason=exc.reason,
                message=exc.message,
                time_ms=now_ms,
                key=event.message.key,
                origin=origin,
            )
            batch.dead.append((event.message.key, letter))
            continue
        batch.incoming.append(incoming)
        batch.sources.append(event)
    return batch


def stage_dead_letters(result: EnrichResult, now_ms: int) -> list[tuple[bytes | None, DeadLetter]]:
    """Each event a stage raised on, keyed by its scope like the units."""
    letters: list[tuple[bytes | None, DeadLetter]] = []
    for failure in result.failures:
        key = failure.incoming.event.scope.encode()
        letters.append((key, failure.to_dead_letter(now_ms, key=key)))
    return letters


def record_json(record: BaseModel) -> bytes:
    return record.model_dump_json().encode()


def source_by_scope(
    items: Sequence[Incoming], sources: Sequence[faust.EventT]
) -> dict[str, faust.EventT]:
    """The last event of each scope in a batch: table writes for the scope go to its partition."""
    return {item.event.scope: src for item, src in zip(items, sources, strict=True)}


Absorbed = tuple[Consolidation, AccessEvent | None]


def near_duplicate_records(unit: MemoryUnit, match: NearMatch | None) -> Absorbed | None:
    """A near duplicate's record pointing it at the kept unit, and the kept unit's access
    (none for a replay, which reinforced the kept unit the first time)."""
    if match is None:
        return None
    scope, at_ms = unit.scope, unit.timestamps.event_ms
    record = Consolidation(
        kind="near",
        scope=scope,
        kept_id=match.kept_id,
        absorbed_id=unit.id,
        similarity=match.similarity,
        event_ms=at_ms,
    )
    if match.repeat:
        return record, None
    return record, AccessEvent(
        scope=scope, unit_id=match.kept_id, at_ms=at_ms, reason="near_duplicate"
    )


def duplicate_records(result: EnrichResult) -> list[Absorbed]:
    """For each absorbed duplicate: its consolidation record and the kept unit's access
    (none for a repeat: a redelivered duplicate reinforced the kept unit the first time)."""
    out = []
    for dup in result.duplicates:
        scope = dup.incoming.event.scope
        out.append(
            (
                Consolidation(
                    kind="exact",
                    scope=scope,
                    kept_id=dup.kept_id,
                    absorbed_id=dup.absorbed_id,
                    similarity=1.0,
                    duplicates=dup.duplicates,
                    event_ms=dup.event_ms,
                ),
                None
                if dup.repeat
                else AccessEvent(
                    scope=scope, unit_id=dup.kept_id, at_ms=dup.event_ms, reason="duplicate"
                ),
            )
        )
    return out


def attach_enrich_agent(
    app: faust.App,
    topics: Topics,
    pipeline: Pipeline,
    tables: StateTables,
    settings: Settings,
    clock: Callable[[], int] = lambda: int(time.time() * 1000),
) -> Any:
    """Register the agent: events → units (or dead letters, or consolidated duplicates)."""

    async def enrich_batch(
        batch: DecodedBatch, outbox: Outbox
    ) -> tuple[EnrichResult, list[Absorbed], list[BatchOverlay]]:
        # Read every key the batch may touch here, in the loop: the pipeline runs in a
        # thread, and Faust tables are not thread-safe.
        scopes = sorted({item.event.scope for item in batch.incoming})
        ids = [(item.event.scope, pipeline.unit_id_for(item.event)) for item in batch.incoming]
        chain_state = BatchOverlay(tables.chain)
        chain_state.prefetch([*scopes, *(scoped(scope, uid) for scope, uid in ids)])
        chain = resume_chain(chain_state, scopes, ids)
        content = BatchOverlay(tables.content)
        content.prefetch(
            [scoped(item.event.scope, content_hash(item.event.text)) for item in batch.incoming]
        )
        # Enrichment is CPU work; a thread keeps the loop free for heartbeats.
        result = await asyncio.to_thread(
            pipeline.run, batch.incoming, chain=chain, claims=ContentIndex(content)
        )
        save_chain(chain_state, chain, result.units)
        recent = BatchOverlay(tables.recent)
        near = NearDuplicates(
            recent,
            threshold=settings.near_duplicate_threshold,
            window_s=settings.near_duplicate_window_s,
        )
        absorbed = [near_duplicate_records(unit, near.check(unit)) for unit in result.units]
        sources = source_by_scope(batch.incoming, batch.sources)
        overlays = [chain_state, content, recent]
        for overlay in overlays:
            overlay.flush(sources.__getitem__, outbox)
        return result, [records for records in absorbed if records is not None], overlays

    async def process(events: Sequence[faust.EventT]) -> None:
        now_ms = clock()
        batch = decode_batch(events, settings, now_ms)
        outbox = Outbox()
        result, near, overlays = (
            await enrich_batch(batch, outbox) if batch.incoming else (EnrichResult(), [], [])
        )
        encoded = await asyncio.to_thread(
            lambda: [(u.scope.encode(), u.to_json()) for u in result.units]
        )
        for unit_key, value in encoded:
            outbox.add(topics.units, value, unit_key)
        for consolidation, access in duplicate_records(result) + near:
            scope_key = consolidation.scope.encode()
            outbox.add(topics.consolidations, record_json(consolidation), scope_key)
            if access is not None:
                outbox.add(topics.access, record_json(access), scope_key)
        for key, letter in batch.dead + stage_dead_letters(result, now_ms):
            outbox.add(topics.dead_letter, record_json(letter), key)
        persist_offsets(overlays, await outbox.delivered())
        if batch.dead or result.failures or result.duplicates:
            log.info(
                "batch of %d: %d units, %d duplicates, %d dead letters",
                len(events),
                len(result.units),
                len(result.duplicates),
                len(batch.dead) + len(result.failures),
            )

    @app.agent(topics.events, name="lumina.enrich")
    async def enrich(stream: faust.StreamT) -> None:
        await each_batch(
            stream, settings.batch_size, settings.batch_within_s, process, "enriching {n} events"
        )

    return enrich
