"""DeliveryGuard: a stream partition's records reach the streams in offset order, and a
record Faust drained but never delivered is fetched again, not skipped or committed over.

The consumer here is a stand-in holding the few methods and fields of Faust's consumer
the guard wraps or reads: the races that make Faust drop records cannot be triggered on
demand. The real path runs in tests/integration/test_e2e_recovery.py on Apache Kafka."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, NamedTuple

from faust.exceptions import Skip

from lumina.streams.delivery import STALL_LOOKS, DeliveryGuard


class TP(NamedTuple):
    topic: str
    partition: int


class InFlight(NamedTuple):  # a message Faust tracks until its stream acks it
    tp: TP
    offset: int


EVENTS = TP("lumina.events", 0)
UNITS = TP("lumina.units", 1)
CHANGELOG = TP("group-provenance-chain-changelog", 0)


@dataclass
class Consumer:
    """Faust's consumer as the guard sees it; `batches` are what `getmany` will drain."""

    batches: list[list[tuple[Any, int]]] = field(default_factory=list)
    committed: dict[Any, int | None] = field(default_factory=dict)
    earliest: dict[Any, int] = field(default_factory=dict)
    positions: dict[Any, int] = field(default_factory=dict)
    seeks: list[tuple[Any, int]] = field(default_factory=list)
    _acked: dict[Any, list[int]] = field(default_factory=lambda: defaultdict(list))
    _committed_offset: dict[Any, int | None] = field(default_factory=dict)
    _unacked_messages: set[Any] = field(default_factory=set)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        for tp, offset in self.batches.pop(0):
            yield tp, SimpleNamespace(offset=offset)

    async def seek(self, tp: Any, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def seek_to_committed(self) -> Mapping[Any, int | None]:
        # As aiokafka does: only partitions with a committed offset above 0 are sought.
        for tp, offset in self.committed.items():
            if offset:
                self.seeks.append((tp, offset))
        return dict(self.committed)

    async def earliest_offsets(self, *tps: Any) -> Mapping[Any, int]:
        return {tp: self.earliest[tp] for tp in tps}

    def _new_offset(self, tp: Any) -> int | None:  # Faust's rule, shortened: up to a gap
        acked = sorted(self._acked[tp])
        return acked[-1] + 1 if acked else None

    def assignment(self) -> set[Any]:
        return {EVENTS, UNITS, CHANGELOG}

    async def position(self, tp: Any) -> int | None:
        return self.positions.get(tp)


def guard(consumer: Consumer) -> DeliveryGuard:
    app = SimpleNamespace(
        tables=SimpleNamespace(changelog_topics={CHANGELOG.topic}),
        in_recovery=False,
        rebalancing=False,
    )
    return DeliveryGuard(app, consumer)  # type: ignore[arg-type]


def drain(consumer: Consumer) -> list[tuple[Any, int]]:
    """One batch through the guarded `getmany`: what the streams receive."""

    async def run() -> list[tuple[Any, int]]:
        return [(tp, m.offset) async for tp, m in consumer.getmany(1.0)]

    return asyncio.run(run())


def test_a_partition_with_nothing_committed_starts_again_at_its_earliest_offset() -> None:
    consumer = Consumer(committed={EVENTS: None, UNITS: 7, CHANGELOG: None}, earliest={EVENTS: 0})
    guarded = guard(consumer)
    asyncio.run(consumer.seek_to_committed())
    # aiokafka would leave EVENTS where a dropped fetch put it; the guard seeks it to 0.
    assert consumer.seeks == [(UNITS, 7), (EVENTS, 0)]
    assert guarded.next_offset == {EVENTS: 0, UNITS: 7}


def test_records_past_a_dropped_range_are_held_back_and_the_range_fetched_again() -> None:
    consumer = Consumer(committed={EVENTS: 5}, earliest={EVENTS: 0})
    consumer.batches = [
        [(EVENTS, 9), (UNITS, 0), (EVENTS, 10), (UNITS, 1)],  # 5…8 drained and dropped
        [(EVENTS, n) for n in range(5, 11)],
    ]
    guard(consumer)
    asyncio.run(consumer.seek_to_committed())
    assert drain(consumer) == [(UNITS, 0), (UNITS, 1)]
    assert consumer.seeks[-1] == (EVENTS, 5)
    assert drain(consumer) == [(EVENTS, n) for n in range(5, 11)]


def test_a_range_missing_again_after_its_refetch_is_passed_over() -> None:
    # Retention deleted it, or it held transaction markers: the broker has nothing there.
    consumer = Consumer(committed={EVENTS: 5})
    consumer.batches = [[(EVENTS, 9), (EVENTS, 10)], [(EVENTS, 9), (EVENTS, 10)]]
    guard(consumer)
    asyncio.run(consumer.seek_to_committed())
    assert drain(consumer) == []
    assert drain(consumer) == [(EVENTS, 9), (EVENTS, 10)]
    assert consumer.seeks == [(EVENTS, 5), (EVENTS, 5)]


def test_changelog_records_pass_as_faust_delivers_them() -> None:
    consumer = Consumer(committed={CHANGELOG: 3})
    consumer.batches = [[(CHANGELOG, 40), (CHANGELOG, 42)]]
    guard(consumer)
    asyncio.run(consumer.seek_to_committed())
    assert drain(consumer) == [(CHANGELOG, 40), (CHANGELOG, 42)]
    assert consumer.seeks == [(CHANGELOG, 3)]


def test_no_commit_passes_an_offset_that_is_not_acked() -> None:
    consumer = Consumer(committed={EVENTS: None, UNITS: 10}, earliest={EVENTS: 0})
    guard(consumer)
    asyncio.run(consumer.seek_to_committed())
    consumer._committed_offset = {EVENTS: None, UNITS: 10}
    consumer._acked[UNITS] = [11, 12]  # 10 is still in work: Faust would commit 13
    assert consumer._new_offset(UNITS) is None
    consumer._acked[UNITS] = [10, 11, 12]
    assert consumer._new_offset(UNITS) == 13
    consumer._acked[EVENTS] = [1, 2]  # nothing committed yet, and offset 0 not acked
    assert consumer._new_offset(EVENTS) is None
    consumer._acked[EVENTS] = [0, 1, 2]
    assert consumer._new_offset(EVENTS) == 3


def test_a_partition_that_stops_moving_is_sought_back_to_its_committed_offset() -> None:
    consumer = Consumer(committed={EVENTS: 5}, positions={EVENTS: 30})
    guarded = guard(consumer)
    asyncio.run(consumer.seek_to_committed())
    consumer._committed_offset[EVENTS] = 5
    consumer._unacked_messages.add(InFlight(EVENTS, 5))
    for _ in range(STALL_LOOKS + 1):
        asyncio.run(guarded.rescue_stalls())
    assert consumer.seeks == [(EVENTS, 5)]  # its records in flight: not a stall
    consumer._unacked_messages = {InFlight(UNITS, 3)}  # another partition's do not count
    for _ in range(STALL_LOOKS - 1):
        asyncio.run(guarded.rescue_stalls())
    consumer._committed_offset[EVENTS] = 6  # it moved: the looks start over
    for _ in range(STALL_LOOKS - 1):
        asyncio.run(guarded.rescue_stalls())
    assert consumer.seeks == [(EVENTS, 5)]
    asyncio.run(guarded.rescue_stalls())  # still for STALL_LOOKS looks
    assert consumer.seeks == [(EVENTS, 5), (EVENTS, 6)]
    assert guarded.next_offset[EVENTS] == 6


def test_a_partition_delivered_up_to_its_position_is_not_stalled() -> None:
    consumer = Consumer(committed={EVENTS: None}, earliest={EVENTS: 0}, positions={EVENTS: 0})
    guarded = guard(consumer)
    asyncio.run(consumer.seek_to_committed())
    consumer._committed_offset[EVENTS] = None  # nothing committed: its floor is where it began
    for _ in range(2 * STALL_LOOKS):
        asyncio.run(guarded.rescue_stalls())
    assert consumer.seeks == [(EVENTS, 0)]


@dataclass(eq=False)
class Message:
    tp: TP
    offset: int
    acked: bool = False


def through_stream(guarded: DeliveryGuard, offsets: list[int]) -> list[int]:
    """Records of EVENTS as an agent's stream receives them: the offsets it processes."""
    stream = SimpleNamespace(current_event=None)
    order = guarded.keep_order(stream)
    processed = []
    for offset in offsets:
        message = Message(EVENTS, offset)
        guarded.consumer._unacked_messages.add(message)  # the stream tracks it first
        stream.current_event = SimpleNamespace(message=message)
        try:
            asyncio.run(order(f"value {offset}"))
        except Skip:
            assert message.acked and message not in guarded.consumer._unacked_messages
            continue
        processed.append(offset)
    return processed


def test_a_stream_skips_nothing_a_record_past_a_gap_waits_for_it() -> None:
    # Faust's stream dropped 5 (received while a rebalance had its flow off) and went on.
    consumer = Consumer(committed={EVENTS: 3})
    guarded = guard(consumer)
    asyncio.run(consumer.seek_to_committed())
    consumer._committed_offset[EVENTS] = 3
    assert through_stream(guarded, [3, 4, 6, 7, 8]) == [3, 4]
    assert consumer.seeks == [(EVENTS, 3), (EVENTS, 5)]  # once, not once per record
    consumer._acked[EVENTS] = [3, 4]
    assert consumer._new_offset(EVENTS) == 5  # 6, 7, 8 were never acked: not passed


def test_a_stream_takes_the_refetch_and_then_a_real_gap() -> None:
    consumer = Consumer(committed={EVENTS: 3})
    guarded = guard(consumer)
    asyncio.run(consumer.seek_to_committed())
    consumer._committed_offset[EVENTS] = 3
    order = guarded.keep_order(stream := SimpleNamespace(current_event=None))

    def offer(offset: int) -> bool:
        stream.current_event = SimpleNamespace(message=Message(EVENTS, offset))
        try:
            asyncio.run(order(offset))
        except Skip:
            return False
        return True

    assert [offer(n) for n in (3, 5, 6)] == [True, False, False]
    assert [offer(n) for n in (4, 5, 6, 3)] == [True, True, True, True]  # 3: a replay
    assert [offer(n) for n in (9, 9, 10)] == [False, True, True]  # 7, 8: not there
    assert consumer.seeks == [(EVENTS, 3), (EVENTS, 4), (EVENTS, 7)]


def test_a_stream_starts_again_from_the_committed_offset_after_a_rebalance() -> None:
    consumer = Consumer(committed={EVENTS: 3})
    guarded = guard(consumer)
    asyncio.run(consumer.seek_to_committed())
    consumer._committed_offset[EVENTS] = 3
    assert through_stream(guarded, [3, 4, 5]) == [3, 4, 5]
    consumer.committed[EVENTS] = consumer._committed_offset[EVENTS] = 10
    asyncio.run(consumer.seek_to_committed())  # the partition came back at 10
    assert through_stream(guarded, [10, 11]) == [10, 11]


@dataclass(eq=False)
class Tracked:  # a message Faust tracks, shared by the streams of its topic
    tp: TP
    offset: int
    acked: bool = False


def reading(topic: str, queued: int = 0) -> SimpleNamespace:
    """An agent's stream as the guard sees it: what it reads and how much waits for it."""
    return SimpleNamespace(
        current_event=None,
        channel=SimpleNamespace(topics=[topic], queue=SimpleNamespace(qsize=lambda: queued)),
    )


def test_a_record_one_stream_of_its_topic_never_received_is_fetched_again() -> None:
    # Two agents read UNITS; after a rebalance Faust's compiled stream skipped 5 and 6 for
    # the sink without acking them, while the state agent took and acked them.
    consumer = Consumer(committed={UNITS: 3})
    guarded = guard(consumer)
    asyncio.run(consumer.seek_to_committed())
    consumer._committed_offset[UNITS] = 3
    sink = guarded.keep_order(sink_stream := reading(UNITS.topic))
    state = guarded.keep_order(state_stream := reading(UNITS.topic))
    skipped = [Tracked(UNITS, 5), Tracked(UNITS, 6)]
    for message in [Tracked(UNITS, 3), Tracked(UNITS, 4), *skipped]:
        state_stream.current_event = SimpleNamespace(message=message)
        asyncio.run(state(message.offset))
        if message.offset < 5:  # the sink processed these, and never got 5 and 6
            sink_stream.current_event = SimpleNamespace(message=message)
            asyncio.run(sink(message.offset))
    consumer._unacked_messages.update(skipped)
    consumer._unacked_messages.add(Tracked(UNITS, 4))  # received by the sink: not missed
    for _ in range(STALL_LOOKS - 1):
        asyncio.run(guarded.rescue_skipped())
    assert consumer.seeks == [(UNITS, 3)]  # not yet: it may be on its way
    asyncio.run(guarded.rescue_skipped())
    assert consumer.seeks == [(UNITS, 3), (UNITS, 5)]  # once, for the sink only
    assert all(m.acked and m not in consumer._unacked_messages for m in skipped)
    assert guarded.next_offset[UNITS] == 5
    for _ in range(2 * STALL_LOOKS):  # let go once, not sought back again
        asyncio.run(guarded.rescue_skipped())
    assert consumer.seeks == [(UNITS, 3), (UNITS, 5)]


def test_records_still_queued_for_a_stream_are_not_missed() -> None:
    consumer = Consumer(committed={UNITS: 3})
    guarded = guard(consumer)
    asyncio.run(consumer.seek_to_committed())
    consumer._committed_offset[UNITS] = 3
    guarded.keep_order(reading(UNITS.topic, queued=2))  # a slow agent: 3 and 4 wait for it
    guarded.keep_order(reading(EVENTS.topic))  # another topic's stream has nothing to get
    consumer._unacked_messages.update({Tracked(UNITS, 3), Tracked(UNITS, 4)})
    for _ in range(2 * STALL_LOOKS):
        asyncio.run(guarded.rescue_skipped())
    assert consumer.seeks == [(UNITS, 3)]
