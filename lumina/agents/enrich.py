"""The enrich agent: events in, units and dead letters out, batch by batch."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import faust

from lumina.config import Settings
from lumina.core.provenance import ProvenanceChain
from lumina.enrich import EnrichResult, Incoming, Pipeline
from lumina.errors import InvalidEvent, ReasonCode
from lumina.schemas import DeadLetter, KafkaOrigin, decode_event
from lumina.streams.tables import writing_for
from lumina.streams.topics import Topics

log = logging.getLogger(__name__)


def origin_of(event: faust.EventT) -> KafkaOrigin:
    message = event.message
    return KafkaOrigin(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        timestamp_ms=int(message.timestamp * 1000) if message.timestamp else None,
    )


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
            text_event = decode_event(
                raw,
                max_text_bytes=settings.max_text_bytes,
                max_metadata_bytes=settings.max_metadata_bytes,
            )
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
        batch.incoming.append(
            Incoming(event=text_event, origin=origin, kafka_ts_ms=origin.timestamp_ms, raw=raw)
        )
        batch.sources.append(event)
    return batch


def stage_dead_letters(result: EnrichResult, now_ms: int) -> list[tuple[bytes | None, DeadLetter]]:
    letters: list[tuple[bytes | None, DeadLetter]] = []
    for failure in result.failures:
        item = failure.incoming
        letter = DeadLetter.from_raw(
            item.raw if item.raw is not None else item.event.model_dump_json().encode(),
            reason=ReasonCode.STAGE_ERROR,
            message=failure.message,
            time_ms=now_ms,
            key=item.event.scope.encode(),
            origin=item.origin,
            stage=failure.stage,
        )
        letters.append((item.event.scope.encode(), letter))
    return letters


def attach_enrich_agent(
    app: faust.App,
    topics: Topics,
    pipeline: Pipeline,
    heads: Any,
    settings: Settings,
    clock: Callable[[], int] = lambda: int(time.time() * 1000),
) -> Any:
    """Register the agent. `heads` is the chain-heads table (scope → link)."""

    async def process(events: Sequence[faust.EventT]) -> None:
        now_ms = clock()
        batch = decode_batch(events, settings, now_ms)
        result = EnrichResult(units=[], failures=[])
        if batch.incoming:
            known = {}
            for item in batch.incoming:
                head = heads.get(item.event.scope)
                if head is not None:
                    known[item.event.scope] = head
            chain = ProvenanceChain(heads=dict(known))
            # Enrichment is CPU work; a thread keeps the loop free for heartbeats.
            result = await asyncio.to_thread(pipeline.run, batch.incoming, chain=chain)
            last_event = {
                item.event.scope: src
                for item, src in zip(batch.incoming, batch.sources, strict=True)
            }
            for scope, src in last_event.items():
                new_head = chain.heads.get(scope)
                if new_head is not None and new_head != known.get(scope):
                    with writing_for(src):
                        heads[scope] = new_head
        for unit in result.units:
            await topics.units.send(key=unit.scope.encode(), value=unit.to_json())
        for key, letter in batch.dead + stage_dead_letters(result, now_ms):
            await topics.dead_letter.send(key=key, value=letter.model_dump_json().encode())
        if batch.dead or result.failures:
            log.info(
                "batch of %d: %d units, %d dead letters",
                len(events),
                len(result.units),
                len(batch.dead) + len(result.failures),
            )

    @app.agent(topics.events, name="lumina.enrich")
    async def enrich(stream: faust.StreamT) -> None:
        async for events in stream.take_events(  # type: ignore[attr-defined]
            settings.batch_size, within=settings.batch_within_s
        ):
            await process(events)

    return enrich
