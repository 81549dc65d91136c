"""Every partition gets its turn when the worker's consumer hands fetched records over.

One consumer reads every topic of the worker: events for the enrich agent, units for the
state and sink agents. aiokafka hands a poll's records over partition by partition in the
order their fetches arrived, and keeps a partition first until it is drained: with a poll
bounded to `MAX_POLL_RECORDS` (lumina.streams.app), the events of a backlog (a 1 MB fetch
is ~3,000 of them) came first poll after poll, and the units behind them waited. After
each poll the partitions it took from go to the back of the line, so each poll starts
where the last one stopped.

With the bounded poll and the agents handing over their own table writes (then through
Faust's producer buffer, now `BatchOverlay.flush` in lumina.streams.tables), a worker
working through 20,000 events across 10,000 scopes had 74% of the units stored when the
last one reached `lumina.units`, against 3-5% before, in the same total time
(`bench/stream.py --events 20000 --scopes 10000`).

Faust polls in the consumer's own thread through `_fetch_records` (faust-streaming 0.15.3
on aiokafka 0.14); the line is the fetcher's `_records`, an OrderedDict of partition to
fetched records. Both are internals: re-run the bench's backlog on an upgrade.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust

FetchRecords = Callable[..., Awaitable[dict[Any, list[Any]]]]


def take_turns(fetch_records: FetchRecords) -> FetchRecords:
    """Wrap a poll `(aiokafka consumer, partitions, timeout, max_records) -> records` so
    the partitions it drained from go to the back of the fetcher's line."""

    async def poll(consumer: Any, *args: Any, **kwargs: Any) -> dict[Any, list[Any]]:
        drained = await fetch_records(consumer, *args, **kwargs)
        line = consumer._fetcher._records
        for tp in drained:
            if tp in line:  # records left: its next turn comes after the others'
                line.move_to_end(tp)
        return drained

    return poll


def attach_fair_fetch(app: faust.App) -> None:
    """Call before the worker starts."""
    thread = app.consumer._thread  # type: ignore[attr-defined]
    thread._fetch_records = take_turns(thread._fetch_records)
