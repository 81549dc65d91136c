"""The reinforcement agent: access events in, new versions of the accessed units out.

Each access (a retrieval, or a duplicate absorbed at ingest) goes through the decay ledger
(`lumina.state.DecayLedger`); then each accessed unit's new version, with its stretched
half-life, reset clock and access count, goes to `lumina.units`, where the sink stores it
over the old one (a higher version) and the state agent leaves it alone (counted once).

The unit itself is read from the store. An access can arrive before the sink has written
its unit (a duplicate right behind the original): the agent waits for it, a sink flush at
a time, and after `MISSING_ATTEMPTS` flushes records the access in the ledger anyway and
logs that the unit's new version will come with its next access.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

import faust
from pydantic import ValidationError

from lumina.agents.retry import each_batch, until_stored
from lumina.config import Settings
from lumina.schemas import MemoryUnit
from lumina.schemas.state import AccessEvent
from lumina.state import DecayLedger
from lumina.state.reinforcement import DecayState, ingest_state, reinforced_unit
from lumina.store import MemoryStore
from lumina.streams.outbox import Outbox
from lumina.streams.tables import BatchOverlay, StateTables, persist_offsets
from lumina.streams.topics import Topics

log = logging.getLogger(__name__)

MISSING_ATTEMPTS = 10


async def fetch_units(
    store: MemoryStore,
    wanted: set[tuple[str, str]],
    wait_s: float,
) -> dict[tuple[str, str], MemoryUnit]:
    """The stored units among `wanted` (scope, id), waiting a little for missing ones, and
    as long as it takes for a store that does not answer."""
    found: dict[tuple[str, str], MemoryUnit] = {}
    for attempt in range(MISSING_ATTEMPTS):
        by_scope: dict[str, list[str]] = {}
        for scope, uid in sorted(wanted - found.keys()):
            by_scope.setdefault(scope, []).append(uid)
        for scope, ids in by_scope.items():
            units = await until_stored(
                partial(store.units_by_id, scope, ids), len(ids), "unit lookups"
            )
            found.update({(scope, uid): unit for uid, unit in units.items()})
        if found.keys() >= wanted or attempt == MISSING_ATTEMPTS - 1:
            break
        await asyncio.sleep(wait_s)
    return found


def parse_accesses(events: Sequence[faust.EventT]) -> list[tuple[AccessEvent, faust.EventT]]:
    accesses = []
    for event in events:
        try:
            accesses.append((AccessEvent.model_validate_json(event.message.value or b""), event))
        except ValidationError as exc:
            log.error("ignoring a malformed access event: %s", exc.errors()[0]["msg"])
    return accesses


def attach_reinforce_agent(
    app: faust.App, topics: Topics, tables: StateTables, store: MemoryStore, settings: Settings
) -> Any:
    async def apply(events: list[faust.EventT]) -> None:
        accesses = parse_accesses(events)
        wanted = {(a.scope, a.unit_id) for a, _ in accesses}
        units = await fetch_units(store, wanted, settings.sink_within_s)
        decay = BatchOverlay(tables.decay)
        ledger = DecayLedger(
            decay,
            alpha=settings.reinforce_alpha,
            half_life_max_s=settings.half_life_max_s,
        )
        latest: dict[tuple[str, str], DecayState] = {}
        sources: dict[str, faust.EventT] = {}
        for access, event in accesses:
            key = (access.scope, access.unit_id)
            unit = units.get(key)
            initial = ingest_state(unit) if unit else None
            if initial is None and ledger.get(*key) is None:
                # Never stored and never accessed: its ingest state is the default.
                initial = DecayState(settings.half_life_s, access.at_ms, 0)
            position = (event.message.partition, event.message.offset)
            latest[key] = ledger.access(
                access.scope, access.unit_id, access.at_ms, initial, position=position
            )
            sources[access.scope] = event
        outbox = Outbox()
        decay.flush(sources.__getitem__, outbox)
        for key, state in latest.items():
            unit = units.get(key)
            if unit is None:
                log.warning("unit %s of scope %s is not stored yet", key[1], key[0])
                continue
            outbox.add(topics.units, reinforced_unit(unit, state).to_json(), key[0].encode())
        persist_offsets([decay], await outbox.delivered())

    @app.agent(topics.access, name="lumina.reinforce")
    async def reinforce(stream: faust.StreamT) -> None:
        await each_batch(
            stream,
            settings.sink_batch_size,
            settings.sink_within_s,
            apply,
            "reinforcing {n} accesses",
        )

    return reinforce
