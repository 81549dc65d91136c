"""Every fetched offset of a stream partition reaches the worker's streams, in order.

Faust (faust-streaming 0.15.3 on aiokafka 0.14) can lose records between the fetch and
the stream, and on this project's tests against real Kafka it did, after restarts and
rebalances (`tests/integration/test_e2e_recovery.py`). aiokafka moves its position when
Faust drains a fetch; records went missing after that in four ways:

1. Records of a partition Faust paused after the fetch (table recovery starts and ends,
   flow control), or fetched across a rebalance, are dropped without a seek back.
2. `seek_to_committed`, which Faust runs at the end of every recovery, does not seek a
   partition whose committed offset is 0 or none (nothing committed yet): its position
   stays wherever a dropped fetch left it, and Faust sets its read offset to None, which
   turns off its own gap check. Records were skipped without a trace (11 of 160 events
   in one partition, a failed CI run of the backlog restart test).
3. When a later fetch delivers records after a dropped range, Faust records the range as
   a "gap" (its handling of compacted topics and transaction markers) and its next commit
   passes over it; and a single unacked offset at the head of the acked ones is committed
   over even without a gap (faust-streaming #606). Those events were lost for good.
4. Faust's stream skips a record it receives while a rebalance has its flow control off,
   without acking it, while the records after it are processed: seen as events processed
   out of order after a restart (a chain position given twice, with 512 kB producer
   batches) and as one event left undelivered in a three-worker rebalance.
5. The skip of case 4 with no record after it. Faust's compiled stream iterator
   (`faust/_cython/streams.pyx`, which runs where the extension is built, as here) skips
   the record before tracking it; where a second agent reads the same topic and took the
   record, the record stays tracked and unacked for good: the commit cannot pass it, the
   stall check sees a record in flight, and the stream that skipped it never processes it.
   Seen as two follow-up units never stored after a restart
   (`test_e2e_changelog_records_the_broker_refuses_are_sent_again_not_lost`: 3 of 16 runs
   in a loop here failed so).

`DeliveryGuard` wraps four methods of the consumer Faust created and adds a stream
processor and a timer, for the worker's stream topics only (changelogs keep Faust's
behaviour):

- `seek_to_committed`: partitions with nothing committed are sought to their earliest
  offset, and the guard learns where delivery starts on each partition.
- `getmany`: it knows the next offset each partition must deliver. A record past it is
  not passed on: the partition is sought back to the missing offset, and the rest of that
  partition's batch is held back (it comes again after the missing records). A range
  found missing again right after being fetched again is real (deleted by retention, a
  transaction marker) and is passed over, as Faust would.
- `seek`: any seek, Faust's or the guard's, moves the next offset with it.
- `_new_offset`: no commit while the first offset after the committed one is not acked.
- A processor on every agent's stream (`keep_order`) does the same one step later: a
  record the stream receives past the next one it expects is not processed and not
  acked, and the partition is sought back to the missing record.
- A timer catches what no later record reveals (a dropped fetch at the tail, or a loss
  the checks above miss): a partition fetched past its committed offset that does not
  move while nothing is in flight is sought back to its committed offset; and a record
  one stream took while another stream of its topic, its queue empty, never received it
  (case 5) is fetched again from its offset.

Whatever is delivered twice (a refetch) is absorbed by the idempotent pipeline: stable
unit ids, chain positions, content claims.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from functools import partial
from typing import Any

import faust
from faust.exceptions import Skip

log = logging.getLogger(__name__)

CHECK_EVERY_S = 2.0
# Looks (CHECK_EVERY_S apart) a partition must stay still before it counts as stalled:
# more than Faust's commit interval (2.8 s), so an idle partition waiting for its commit
# is not one.
STALL_LOOKS = 3


async def seek_in_thread(thread: Any, tp: Any, offset: int) -> None:
    await thread.call_thread(thread.seek, tp, offset)


class DeliveryGuard:
    """Holds a stream partition's delivery to its offsets in order (see the module doc)."""

    def __init__(self, app: faust.App, consumer: Any, every_s: float = CHECK_EVERY_S) -> None:
        self.app = app
        self.consumer = consumer
        self.every_s = every_s
        # tp → the next offset the streams must get; unknown until a seek or a delivery.
        self.next_offset: dict[Any, int] = {}
        # tp → the offset delivery started from, where nothing is committed yet.
        self.start: dict[Any, int] = {}
        # tp → the missing range last fetched again there: one per partition.
        self.refetched: dict[Any, tuple[int, int]] = {}
        self.epoch = 0  # counts Faust's seeks to the committed offsets (rebalances)
        self.in_batch = False  # a fetched batch is being handed to the streams
        # tp → (committed, next offset, position) at the last look, and for how many looks.
        self.suspects: dict[Any, tuple[tuple[int, int | None, int], int]] = {}
        self.orders: list[StreamOrder] = []  # every agent stream's, for `rescue_skipped`
        self._getmany = consumer.getmany
        self._seek = consumer.seek
        self._seek_to_committed = consumer.seek_to_committed
        self._faust_new_offset = consumer._new_offset
        consumer.getmany = self.getmany
        consumer.seek = self.seek
        consumer.seek_to_committed = self.seek_to_committed
        consumer._new_offset = self._new_offset
        # Faust seeks with the aiokafka consumer from the event loop's thread while that
        # consumer polls in a thread of its own: a seek landing in the middle of a poll took
        # a partition's fetched records away under it (KeyError in aiokafka's
        # `fetched_records`, which stopped a worker's fetcher in a CI run). Every seek, the
        # guard's and Faust's, runs in the consumer's thread instead, between polls.
        thread = getattr(consumer, "_thread", None)
        if thread is not None:
            consumer._seek = partial(seek_in_thread, thread)

    def guarded(self, tp: Any) -> bool:
        return tp.topic not in self.app.tables.changelog_topics

    async def seek(self, tp: Any, offset: int) -> None:
        await self._seek(tp, offset)
        if self.guarded(tp):
            self.next_offset[tp] = offset

    async def seek_to_committed(self) -> Mapping[Any, int]:
        committed: Mapping[Any, int] = await self._seek_to_committed()
        fresh = [
            tp
            for tp, offset in committed.items()
            if self.guarded(tp) and (offset is None or offset <= 0)
        ]
        earliest = await self.consumer.earliest_offsets(*fresh) if fresh else {}
        for tp, offset in committed.items():
            if not self.guarded(tp):
                continue
            if offset is not None and offset > 0:
                self.next_offset[tp] = offset
                self.start.pop(tp, None)
            elif tp in earliest:
                # aiokafka left this partition where the last fetch put it (case 2 above).
                await self._seek(tp, earliest[tp])
                self.next_offset[tp] = self.start[tp] = earliest[tp]
        self.epoch += 1
        return committed

    def floor(self, tp: Any) -> int | None:
        """The first offset of `tp` not yet known to be processed: the committed offset,
        or where delivery started when nothing is committed."""
        committed: int | None = self.consumer._committed_offset.get(tp)
        return committed if committed is not None else self.start.get(tp)

    async def getmany(self, timeout: float) -> AsyncIterator[tuple[Any, Any]]:
        held: set[Any] = set()  # partitions sought back in this batch
        try:
            async for tp, message in self._getmany(timeout):
                # Set on the first record, not before: Faust waits up to `timeout` for a
                # fetch inside this generator, most of the time on an idle worker.
                self.in_batch = True
                if tp in held:
                    continue
                if not self.guarded(tp) or await self.in_order(tp, message.offset):
                    yield tp, message
                else:
                    held.add(tp)
        finally:
            self.in_batch = False

    async def in_order(self, tp: Any, offset: int) -> bool:
        """True to pass the record on; False when its partition was sought back instead."""
        expected = self.next_offset.get(tp)
        if expected is not None and offset > expected:
            missing = (expected, offset - 1)
            if self.refetched.get(tp) != missing and tp in self.consumer.assignment():
                log.warning(
                    "%s:%d offsets %d to %d were fetched but never delivered; "
                    "fetching them again",
                    tp.topic, tp.partition, *missing,
                )  # fmt: skip
                self.refetched[tp] = missing
                await self.seek(tp, expected)
                return False
        self.next_offset[tp] = offset + 1
        return True

    def keep_order(self, stream: Any) -> StreamOrder:
        """A processor for an agent's stream: its records in offset order (case 4)."""
        order = StreamOrder(self, stream)
        self.orders.append(order)
        return order

    def _new_offset(self, tp: Any) -> int | None:
        if self.guarded(tp):
            acked = self.consumer._acked[tp]
            floor = self.floor(tp)
            if acked and floor is not None and min(acked) > floor:
                # The offset at `floor` is not acked: in work, or being fetched again.
                # Faust would commit past it (faust-streaming #606, case 3 above).
                return None
        result: int | None = self._faust_new_offset(tp)
        return result

    async def rescue_stalls(self) -> None:
        """Seek a partition that stopped moving back to its committed offset.

        A partition is stalled when it was fetched past its committed offset, none of its
        records is in flight in the worker, and its committed offset, next offset and
        position stayed the same over `STALL_LOOKS` looks: a fetch was drained and never
        delivered at the tail (no later record reveals that one), or lost where the
        checks above do not see. Delivery then starts again from the committed offset.
        """
        consumer = self.consumer
        if self.app.in_recovery or self.app.rebalancing or self.in_batch:
            self.suspects.clear()
            return
        # Partitions with records on their way (a slow agent, or a sink waiting for the
        # store, also leave the position ahead of the commit): not stalls.
        in_flight = {message.tp for message in consumer._unacked_messages}
        for tp in consumer.assignment():
            if not self.guarded(tp) or tp in in_flight:
                self.suspects.pop(tp, None)
                continue
            floor = self.floor(tp)
            position = await consumer.position(tp)
            if floor is None or position is None or position <= floor:
                self.suspects.pop(tp, None)
                continue
            look = (floor, self.next_offset.get(tp), position)
            seen, looks = self.suspects.get(tp, (None, 0))
            looks = looks + 1 if seen == look else 1
            if looks < STALL_LOOKS:
                self.suspects[tp] = (look, looks)
                continue
            log.warning(
                "%s:%d fetched up to %d, committed %d, and nothing moved for %.0f s; "
                "fetching again from %d",
                tp.topic, tp.partition, position, floor,
                (STALL_LOOKS - 1) * self.every_s, floor,
            )  # fmt: skip
            await self.seek(tp, floor)
            self.suspects.pop(tp, None)

    async def rescue_skipped(self) -> None:
        """Fetch again the records a stream never received while another stream of their
        topic took them (case 5).

        A record of a topic two agents read is tracked (unacked) from the moment the first
        stream receives it, and Faust puts it in every such stream's queue before it hands
        over the next record. So a record still unacked, past the one a stream expects
        next, while that stream's queue stays empty over `STALL_LOOKS` looks, is one the
        stream dropped. Its partition is sought back to it, and the dropped message is let
        go: nobody would ever ack it, so it would hold the commit and the partition's
        stall check forever. The stream that did take it gets it again, which the
        idempotent pipeline absorbs.
        """
        if self.app.in_recovery or self.app.rebalancing or self.in_batch:
            for order in self.orders:
                order.suspects.clear()
            return
        assignment = self.consumer.assignment()
        unacked = [
            m for m in self.consumer._unacked_messages if m.tp in assignment and self.guarded(m.tp)
        ]
        missed: dict[Any, tuple[dict[int, Any], list[str]]] = {}  # tp → messages, streams
        for order in self.orders:
            for tp, messages in order.missed(unacked).items():
                found, names = missed.setdefault(tp, ({}, []))
                found.update((id(m), m) for m in messages)
                names.append(order.name)
        for tp, (found, names) in missed.items():
            offsets = sorted({m.offset for m in found.values()})
            log.warning(
                "%s:%d offsets %s reached a stream of the topic but never %s; "
                "fetching again from %d",
                tp.topic, tp.partition, offsets, " or ".join(names), offsets[0],
            )  # fmt: skip
            for message in found.values():
                message.acked = True
                self.consumer._unacked_messages.discard(message)
            await self.seek(tp, offsets[0])


class StreamOrder:
    """One agent stream's place in each partition it reads: the processor that holds its
    records to offset order (case 4), and what `DeliveryGuard.rescue_skipped` reads to
    find the records it never received (case 5)."""

    def __init__(self, guard: DeliveryGuard, stream: Any) -> None:
        self.guard = guard
        self.stream = stream
        self.expected: dict[Any, int] = {}  # tp → the next offset this stream must process
        self.epochs: dict[Any, int] = {}
        self.gaps: dict[Any, tuple[int, int]] = {}  # tp → the gap last sought back from
        # tp → (offsets this stream has not received, for how many looks).
        self.suspects: dict[Any, tuple[tuple[int, ...], int]] = {}

    @property
    def name(self) -> str:
        """The agent's name (an agent's stream carries it as its prefix), else the topic."""
        return str(getattr(self.stream, "prefix", "") or getattr(self.stream, "channel", "?"))

    def next_offset(self, tp: Any) -> int | None:
        """The offset of `tp` this stream must process next, as of the last rebalance."""
        if self.epochs.get(tp) != self.guard.epoch:  # delivery started again from the floor
            return self.guard.floor(tp)
        return self.expected.get(tp)

    async def __call__(self, value: Any) -> Any:
        guard = self.guard
        message = getattr(self.stream.current_event, "message", None)
        tp = getattr(message, "tp", None)
        if message is None or tp is None or not guard.guarded(tp):
            return value
        if self.epochs.get(tp) != guard.epoch:
            self.epochs[tp] = guard.epoch
            self.expected.pop(tp, None)
            floor = guard.floor(tp)
            if floor is not None:
                self.expected[tp] = floor
        want, offset = self.expected.get(tp), message.offset
        if want is None or offset <= want or self.gaps.get(tp) == (want, offset):
            # In order, a record processed before (a refetch), or a gap that came
            # back after a seek to it: a real one, as in `DeliveryGuard.in_order`.
            self.expected[tp] = offset + 1 if want is None else max(want, offset + 1)
            return value
        if self.gaps.get(tp, (None,))[0] != want:  # the records after it: sought already
            log.warning(
                "%s:%d offset %d reached a stream before %d; fetching again from %d",
                tp.topic, tp.partition, offset, want, want,
            )  # fmt: skip
            self.gaps[tp] = (want, offset)
            if tp in guard.consumer.assignment():
                await guard.seek(tp, want)
        # Never acked, so no commit passes it before it comes again.
        message.acked = True
        guard.consumer._unacked_messages.discard(message)
        raise Skip()

    def missed(self, unacked: Sequence[Any]) -> dict[Any, list[Any]]:
        """Per partition, the tracked records this stream has not received and that have
        stayed so for `STALL_LOOKS` looks with its queue empty (records still queued for
        it are on their way)."""
        channel = getattr(self.stream, "channel", None)
        queue = getattr(channel, "queue", None)
        topics = set(getattr(channel, "topics", ()))
        if queue is None or queue.qsize():
            self.suspects.clear()
            return {}
        unseen: dict[Any, list[Any]] = {}
        for message in unacked:
            if message.tp.topic in topics:
                want = self.next_offset(message.tp)
                if want is not None and message.offset >= want:
                    unseen.setdefault(message.tp, []).append(message)
        missed = {}
        for tp, messages in unseen.items():
            look = tuple(sorted(m.offset for m in messages))
            seen, looks = self.suspects.get(tp, ((), 0))
            looks = looks + 1 if seen == look else 1
            if looks < STALL_LOOKS:
                self.suspects[tp] = (look, looks)
            else:
                missed[tp] = messages
                self.suspects.pop(tp, None)
        for tp in [tp for tp in self.suspects if tp not in unseen]:
            del self.suspects[tp]
        return missed


def attach_delivery_guard(app: faust.App, every_s: float = CHECK_EVERY_S) -> DeliveryGuard:
    """Guard the app's consumer; call before the worker starts (Faust's fetch loop reads
    `getmany` once, when it starts)."""
    guard = DeliveryGuard(app, app.consumer, every_s)
    new_stream = app.stream

    def stream(channel: Any, beacon: Any = None, **kwargs: Any) -> faust.StreamT:
        # Agents make their streams here: each gets the order check first, before the
        # processors of its own (take_events' buffer).
        made = new_stream(channel, beacon=beacon, **kwargs)
        made.add_processor(guard.keep_order(made))
        return made

    app.stream = stream  # type: ignore[method-assign]

    @app.timer(interval=every_s)
    async def rescue_stalled_partitions() -> None:
        await guard.rescue_stalls()
        await guard.rescue_skipped()

    return guard
