"""Fair fetch: a backlog of events does not keep the units behind it from the agents.

The fetcher is a stand-in for aiokafka's: `_records` in fetch order, drained in that order
up to `max_records` a poll, a partition leaving the line once drained (what aiokafka 0.14's
`Fetcher.fetched_records` does). A real fetcher needs a broker and a fetch in flight; the
real path runs in tests/integration against Apache Kafka, and `bench/stream.py` reports
how much of the stream is stored when the last unit reaches the topic."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

from lumina.streams.fair_fetch import take_turns


def fetched(backlog: dict[str, int]) -> Any:
    """A consumer whose fetcher holds `backlog[topic]` records of one partition each."""
    line: OrderedDict[str, list[int]] = OrderedDict(
        (topic, list(range(count))) for topic, count in backlog.items()
    )
    return SimpleNamespace(_fetcher=SimpleNamespace(_records=line))


async def aiokafka_poll(
    consumer: Any, partitions: Any, timeout: float = 0, max_records: int | None = None
) -> dict[str, list[int]]:
    line = consumer._fetcher._records
    drained: dict[str, list[int]] = {}
    left = max_records
    for tp in list(line):
        take = line[tp][:left] if left is not None else line[tp]
        del line[tp][: len(take)]
        if not line[tp]:
            del line[tp]
        drained[tp] = take
        if left is not None:
            left -= len(take)
            if left == 0:
                break
    return drained


def polls_until_units(poll: Any, consumer: Any) -> int:
    for n in range(1, 100):
        if "units" in asyncio.run(poll(consumer, None, timeout=0, max_records=500)):
            return n
    raise AssertionError("the units never came")


def test_units_wait_out_the_whole_event_backlog_without_turns() -> None:
    # The failure this module fixes: 3,000 events fetched first come before any unit.
    assert polls_until_units(aiokafka_poll, fetched({"events": 3000, "units": 120})) == 7


def test_units_come_in_the_second_poll_with_turns() -> None:
    backlog = fetched({"events": 3000, "units": 120})
    assert polls_until_units(take_turns(aiokafka_poll), backlog) == 2


def test_turns_go_round_every_partition_with_records_left() -> None:
    consumer = fetched({"events-0": 1000, "events-1": 1000, "units-0": 50, "units-1": 50})
    poll = take_turns(aiokafka_poll)
    served = [list(asyncio.run(poll(consumer, None, timeout=0, max_records=500))) for _ in range(4)]
    assert served == [["events-0"], ["events-1"], ["units-0", "units-1", "events-0"], ["events-1"]]


def test_nothing_is_lost_or_repeated_by_the_turns() -> None:
    consumer = fetched({"events": 1234, "units": 77})
    poll = take_turns(aiokafka_poll)
    seen: dict[str, list[int]] = {"events": [], "units": []}
    while consumer._fetcher._records:
        for tp, records in asyncio.run(poll(consumer, None, timeout=0, max_records=500)).items():
            seen[tp] += records
    assert seen == {"events": list(range(1234)), "units": list(range(77))}
