"""A sink writes one batch while it reads the next, and commits each only once written.

Reading a batch of units (parsing the JSON, building the Arrow table) holds the GIL; the
INSERT that follows does not (chDB, or the HTTP request to a ClickHouse server, runs
outside Python). Done one after the other, each waits for the other; a `WriteBehind` lets
the sink prepare batch n+1 while batch n is written, one write at a time, in order.

Faust acknowledges a `take_events` batch as soon as the agent asks for the next one, which
would commit a batch still being written. `Held` keeps one more reference on each of the
batch's records until its write is done, so their offsets are committed only then:
delivery stays at least once, and a worker killed meanwhile has committed none of them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import faust

from lumina.agents.retry import until_done


class Held:
    """One extra reference on each record of a batch, let go when its write is done."""

    def __init__(self, events: Sequence[faust.EventT]) -> None:
        self.events = list(events)
        for event in self.events:
            event.message.incref()

    def release(self) -> None:
        """Drop the reference: a record no stream holds any more is acknowledged, and its
        offset can be committed."""
        for event in self.events:
            event.ack()
        self.events = []


class WriteBehind:
    """Writes run one at a time, in the order submitted, each in a task of its own, and
    each until it goes through (`until_done`): a write is never dropped."""

    def __init__(self) -> None:
        self._pending: asyncio.Future[None] | None = None

    async def submit(self, write: Callable[[], Awaitable[None]], what: str) -> None:
        """Wait for the previous write to finish, then start `write` and return at once.

        At most one write is in flight, so a store that slows down or refuses writes
        slows the sink's reading too (backpressure), one batch behind."""
        await self.drain()
        self._pending = asyncio.ensure_future(until_done(write, what))

    async def drain(self) -> None:
        """Wait for the write in flight, if any. Cancelling the wait (a rebalance, a stop)
        does not cancel the write: it still finishes and lets its records be committed."""
        pending = self._pending
        if pending is not None:
            await asyncio.shield(pending)
            if self._pending is pending:
                self._pending = None
