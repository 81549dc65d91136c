"""The state agent: every new unit updates the scope's activations, windows and timelines.

Thin wiring around `lumina.state.StreamMemory`: the tables are read through batch
overlays, each changed key is written once per batch on its scope's partition, and the
latest record of each changed activation and window goes to `lumina.activations`,
every timeline change to `lumina.timelines`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import faust
from pydantic import BaseModel, ConfigDict, ValidationError

from lumina.agents.retry import each_batch
from lumina.config import Settings
from lumina.schemas import Entity, Roles
from lumina.schemas.state import ActivityWindow, EntityActivation
from lumina.state import StateChanges, StreamMemory
from lumina.streams.outbox import Outbox
from lumina.streams.tables import BatchOverlay, StateTables, persist_offsets
from lumina.streams.topics import Topics

log = logging.getLogger(__name__)


class _Place(BaseModel):
    model_config = ConfigDict(extra="ignore")
    scope: str
    sequence: int


class _Times(BaseModel):
    model_config = ConfigDict(extra="ignore")
    event_ms: int


class _Decay(BaseModel):
    model_config = ConfigDict(extra="ignore")
    access_count: int


class UnitFacts(BaseModel):
    """The parts of a MemoryUnit the state reads: parsing skips the vectors, which are most
    of a unit's bytes and most of the cost of validating one."""

    model_config = ConfigDict(extra="ignore")

    id: str
    provenance: _Place
    timestamps: _Times
    salience: float
    roles: Roles
    entities: list[Entity]
    decay: _Decay

    @property
    def scope(self) -> str:
        return self.provenance.scope


def parse_facts(values: list[bytes | None]) -> list[UnitFacts | None]:
    out: list[UnitFacts | None] = []
    for value in values:
        try:
            out.append(UnitFacts.model_validate_json(value or b""))
        except ValidationError:
            out.append(None)
    return out


def attach_state_agent(
    app: faust.App, topics: Topics, tables: StateTables, settings: Settings
) -> Any:
    async def apply(events: list[faust.EventT]) -> None:
        overlays = [
            BatchOverlay(t)
            for t in (tables.activations, tables.windows, tables.window_index, tables.timelines)
        ]
        memory = StreamMemory(
            *overlays,
            half_life_s=settings.activation_half_life_s,
            window_s=settings.window_s,
            expiry_s=settings.window_expiry_s,
        )
        changes = StateChanges()
        sources: dict[str, faust.EventT] = {}
        # Parsing is CPU work without tables: in a thread, so the loop serves the others.
        facts = await asyncio.to_thread(parse_facts, [e.message.value for e in events])
        for event, unit in zip(events, facts, strict=True):
            if unit is None or unit.decay.access_count:
                # Not a unit (the sink dead-letters it), or a reinforced version, whose
                # mentions were counted at ingest.
                continue
            changes.merge(memory.apply(unit))
            sources[unit.scope] = event
        outbox = Outbox()
        for overlay in overlays:
            overlay.flush(sources.__getitem__, outbox)
        records: list[EntityActivation | ActivityWindow] = [
            *changes.activations.values(),
            *changes.windows.values(),
        ]
        for record in records:
            outbox.add(topics.activations, record.model_dump_json().encode(), record.scope.encode())
        for change in changes.timeline:
            outbox.add(topics.timelines, change.model_dump_json().encode(), change.scope.encode())
        persist_offsets(overlays, await outbox.delivered())
        if changes.late_units:
            log.info("%d units too late for their activity window", changes.late_units)

    @app.agent(topics.units, name="lumina.state")
    async def remember(stream: faust.StreamT) -> None:
        await each_batch(
            stream, settings.batch_size, settings.batch_within_s, apply, "remembering {n} units"
        )

    return remember
