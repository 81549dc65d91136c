"""The units sink writes a batch as soon as it holds `sink_batch_size` units, and a batch that
is not full once `sink_within_s` has passed, without waiting for more units.

The agent under test is the real one (`attach_sink_agents`: Faust's `take_events`, then
`store_units` and its `WriteBehind`), fed through Faust's in-memory test channel instead of
a broker, and writing to a real chDB store. The store's `insert_unit_table` is wrapped only
to record the size of each INSERT after it went through."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from lumina.agents.sink import attach_sink_agents
from lumina.config import Settings
from lumina.enrich import enrich
from lumina.schemas import MemoryUnit, TextEvent
from lumina.store import MemoryStore, open_store
from lumina.streams.app import create_app
from lumina.streams.topics import Topics

SCOPE = "batching"
# Far longer than any test waits: with it, only a full batch can be written.
NO_WINDOW_S = 600.0
# How long a test waits for a write it expects: generous, for a loaded machine (a batch is
# written in well under a second here).
PATIENCE_S = 60.0


@pytest.fixture
def units(lumina_env: dict[str, str]) -> list[MemoryUnit]:
    events = [
        TextEvent(
            scope=SCOPE,
            author="alice",
            text=f"Note {i}: I met Bob in Oslo about the release.",
            ts=1_780_000_000_000 + i,
            event_id=f"b-{i}",
        )
        for i in range(100)
    ]
    made = enrich(events, Settings())
    assert len({u.id for u in made}) == 100
    return made


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MemoryStore]:
    store = open_store(f"chdb://{tmp_path / 'store'}")
    try:
        yield store
    finally:
        store.close()


class Inserts:
    """The row count of every `memory_units` INSERT the store completed, in order."""

    def __init__(self, store: MemoryStore) -> None:
        self.sizes: list[int] = []
        insert = store.insert_unit_table

        def recorded(table: pa.Table, *args: Any, **kwargs: Any) -> int:
            written = insert(table, *args, **kwargs)
            self.sizes.append(table.num_rows)  # after the INSERT went through
            return written

        store.insert_unit_table = recorded  # type: ignore[method-assign]

    @property
    def rows(self) -> int:
        return sum(self.sizes)


def stored(store: MemoryStore) -> int:
    return int(store.query_rows("SELECT count() FROM memory_units FINAL")[0][0])


async def until(condition: Callable[[], bool], timeout: float = PATIENCE_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {timeout:.0f} s")
        await asyncio.sleep(0.05)


def sink_agent(tmp_path: Path, store: MemoryStore, size: int, within_s: float) -> Any:
    settings = Settings(home=tmp_path, sink_batch_size=size, sink_within_s=within_s)
    app = create_app(settings, "127.0.0.1:9")  # never connects: the test channel feeds it
    sink_units, _ = attach_sink_agents(app, Topics.declare(app, settings), store, settings)
    return sink_units.test_context()


async def queue(agent: Any, units: list[MemoryUnit]) -> None:
    """Put units on the agent's channel, all of them before it starts: its batches then
    depend on its limits only, not on how fast the test hands them over."""
    for unit in units:
        await agent.put(unit.to_json(), key=unit.scope.encode(), wait=False)


def test_a_full_batch_is_written_at_once_without_waiting_for_the_window(
    units: list[MemoryUnit], store: MemoryStore, tmp_path: Path
) -> None:
    inserts = Inserts(store)

    async def run() -> None:
        agent = sink_agent(tmp_path, store, size=40, within_s=NO_WINDOW_S)
        await queue(agent, units)
        async with agent:
            await until(lambda: inserts.rows >= 80)
            assert inserts.sizes == [40, 40]  # two full batches, long before the window ends
            assert stored(store) == 80
            await asyncio.sleep(0.5)
            # The last 20 are no full batch: they wait for the window, which is far off.
            assert inserts.sizes == [40, 40]
            assert stored(store) == 80

    asyncio.run(run())


def test_a_batch_that_is_not_full_is_written_when_its_window_ends(
    units: list[MemoryUnit], store: MemoryStore, tmp_path: Path
) -> None:
    inserts = Inserts(store)

    async def run() -> float:
        agent = sink_agent(tmp_path, store, size=2000, within_s=0.2)
        await queue(agent, units[:3])
        started = time.monotonic()
        async with agent:
            # Nothing more arrives: the window alone has the 3 units written.
            await until(lambda: inserts.rows >= 3)
            waited = time.monotonic() - started
            assert inserts.sizes == [3]
            assert stored(store) == 3
        return waited

    waited = asyncio.run(run())
    # A lower bound only (a loaded machine can only make it later): the batch was held for
    # its window, not written as each unit came.
    assert waited >= 0.15


def test_a_stream_is_written_in_full_batches_then_its_remainder_once_the_window_ends(
    units: list[MemoryUnit], store: MemoryStore, tmp_path: Path
) -> None:
    inserts = Inserts(store)

    async def run() -> None:
        # A 1 s window: each 40 queued units fill their batch in milliseconds, well within it.
        agent = sink_agent(tmp_path, store, size=40, within_s=1.0)
        await queue(agent, units)
        async with agent:
            await until(lambda: inserts.rows >= 100)
            assert inserts.sizes == [40, 40, 20]

    asyncio.run(run())
    back = store.units_by_id(SCOPE, [u.id for u in units])
    assert [back[u.id] for u in units] == units
