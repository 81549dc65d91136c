"""Batches that are tried again until they go through, instead of being lost or crashing.

Faust acknowledges a `take_events` batch in a `finally` block: when an agent's body raises,
the batch is acknowledged all the same, its offsets are committed with the next commit,
and Faust restarts the agent on the records after it. A batch that failed halfway (a
broker or store error, a bug) would be lost without a trace but a log line. So every agent
runs its batch through `until_done`: the batch is kept and tried again with backoff, and
nothing after it is read meanwhile (the consumer pauses once its buffer fills). Trying a
batch again is what a redelivery after a crash does, and the stages absorb that: stable unit
ids, chain positions, content claims, state keyed by chain position, ReplacingMergeTree in
the store, the reinforcement ledger keyed by the access's position.
A failure that never clears stalls its agent, visibly, rather than dropping data; a worker
stopped meanwhile waits for the batch, and killed, has committed nothing of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

import faust

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BACKOFF_S = 30.0


async def until_done(attempt: Callable[[], Awaitable[T]], what: str) -> T:
    """Await `attempt()` until it succeeds, retrying any exception with backoff.

    Cancellation (a rebalance, a stop) is not an exception here and ends the wait. The first
    failure is logged with its traceback, the ones after it in a line each.
    """
    delay = 0.5
    failures = 0
    while True:
        try:
            return await attempt()
        except Exception as exc:  # whatever failed, the batch is kept and tried again
            failures += 1
            log.warning(
                "%s failed (%s); retrying in %.1fs", what, exc, delay, exc_info=failures == 1
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)


async def each_batch(
    stream: faust.StreamT,
    size: int,
    within: float,
    handle: Callable[[list[faust.EventT]], Awaitable[None]],
    what: str,
) -> None:
    """An agent's loop: `handle` every batch of the stream until it goes through.

    `what` names the work in the log, with `{n}` for the batch's size."""
    async for events in stream.take_events(size, within=within):  # type: ignore[attr-defined]
        await until_done(partial(handle, events), what.format(n=len(events)))


async def until_stored(call: Callable[[], T], rows: int, what: str) -> T:
    """Run a store call (in a thread) until it succeeds: a store outage slows the stream
    instead of losing data or crashing the agent."""
    return await until_done(lambda: asyncio.to_thread(call), f"storing {rows} {what}")
