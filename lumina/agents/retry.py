"""Store calls that wait out a store outage instead of failing the agent that makes them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_BACKOFF_S = 30.0


async def until_stored(call: Callable[[], T], rows: int, what: str) -> T:
    """Run a store call (in a thread) until it succeeds, retrying failures with backoff.

    The agent reads nothing more meanwhile and its batch is not acknowledged, so its offsets
    are not committed: a store outage slows the stream (the consumer pauses once its buffer
    fills) instead of losing data or crashing the agent. A worker stopped meanwhile waits
    for the batch (Faust's stop waits for acknowledgements); killed, it has committed
    nothing of it, and the restart reads it again."""
    delay = 0.5
    while True:
        try:
            return await asyncio.to_thread(call)
        except Exception as exc:  # any store failure: keep the batch and try again
            log.warning("storing %d %s failed (%s); retrying in %.1fs", rows, what, exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF_S)
