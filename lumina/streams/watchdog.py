"""A guard against records Faust fetches and then drops, leaving a partition stalled.

Seen here on real Kafka (`tests/integration/test_e2e_recovery.py`, restart with a backlog
after the local table state is lost): while a worker recovers its tables, the Kafka client
fetches ahead on the stream partitions too; when recovery ends, Faust drops the records of
that fetch (they were requested while those partitions were paused on its side) but the
client's position has moved past them. Nothing is delivered, nothing is committed, and the
worker idles with a full backlog. It is a race in Faust's recovery (faust-streaming
0.15.3), the same family as its issues #216 and #596.

The guard looks at every stream partition the worker owns, every few seconds, when no
message is in flight anywhere in the worker (so a slow agent or a paused sink, which also
leave the position ahead of delivery, never trigger it): when the client's position is
past the next offset Faust expects to deliver (its read offset + 1, or the committed
offset before anything was delivered), and that was already so at the previous look with
no delivery in between, it seeks the partition back to that offset.
Records are then fetched again and delivered; anything redelivered is absorbed by the
idempotent pipeline (stable unit ids, chain positions, content claims).

The same dropped fetch has a second, worse outcome when the backlog goes on: the client
fetches on from its moved position, Faust delivers the next records, sees their offsets
jump and records the skipped range as a "gap" (its handling of compacted topics and
transaction markers), and its next commit passes over it. The dropped events are then
lost for good: seen in `test_e2e_sigkill_mid_stream_loses_and_duplicates_nothing`, 1 to 57
of 240 events missing, with gaps in their chains. And a single missing offset at the head
of the acked ones is committed over even without a gap (faust-streaming #606). So on the
worker's stream topics, which Lumina never compacts, `HoleGuard` does not let a skipped
range become a gap: it seeks back to the range and delivers it again (a range that comes
back skipped after that is a real one, and becomes a gap as Faust would make it), and no
commit is made on a partition while a hole waits or while the next offset to commit is
not acked.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

log = logging.getLogger(__name__)

CHECK_EVERY_S = 2.0


def expected_next(consumer: Any, tp: Any) -> int | None:
    """The next offset Faust will deliver on `tp`, or None if it cannot tell."""
    read = consumer._read_offset.get(tp)  # last offset delivered to the streams
    if read is not None:
        return int(read) + 1
    committed = consumer._committed_offset.get(tp)
    return int(committed) if committed is not None else None


class HoleGuard:
    """Wraps a Faust consumer's gap bookkeeping for the worker's stream topics (above)."""

    def __init__(self, app: faust.App, consumer: Any) -> None:
        self.app = app
        self.consumer = consumer
        self.add_gap = consumer._add_gap
        self.new_offset = consumer._new_offset
        self.holes: dict[Any, tuple[int, int]] = {}  # tp → first and last skipped offset
        # tp → the hole last fetched again there: one per partition, not one per hole ever.
        self.refetched: dict[Any, tuple[int, int]] = {}
        consumer._add_gap = self._add_gap
        consumer._new_offset = self._new_offset

    def _guarded(self, tp: Any) -> bool:
        return tp.topic not in self.app.tables.changelog_topics

    async def _add_gap(self, tp: Any, offset_from: int, offset_to: int) -> None:
        # Faust calls this as it delivers offset_to, after offset_from - 1.
        if not self._guarded(tp) or self.refetched.get(tp) == (offset_from, offset_to - 1):
            await self.add_gap(tp, offset_from, offset_to)
            return
        log.warning(
            "%s:%d skipped offsets %d to %d; fetching them again",
            tp.topic, tp.partition, offset_from, offset_to - 1,
        )  # fmt: skip
        first, last = self.holes.get(tp, (offset_from, offset_to - 1))
        self.holes[tp] = (min(first, offset_from), max(last, offset_to - 1))

    def _new_offset(self, tp: Any) -> int | None:
        if self._guarded(tp):
            if tp in self.holes:
                return None  # a hole waits to be fetched again
            acked = self.consumer._acked[tp]
            committed = self.consumer._committed_offset.get(tp)
            if acked and committed is not None and min(acked) > committed:
                # The offset at `committed` is not acked: in work, or dropped before it
                # reached Faust (the watchdog below fetches it again). Faust would commit
                # past a single such offset (faust-streaming #606).
                return None
        result: int | None = self.new_offset(tp)
        return result

    async def refetch(self) -> None:
        """Seek each partition with a hole back to it; Faust delivers from there again."""
        for tp, (first, last) in list(self.holes.items()):
            del self.holes[tp]
            read = self.consumer._read_offset.get(tp)
            if tp not in self.consumer.assignment() or read is None or read < first:
                # Moved to another worker, or rewound by a rebalance: either way delivery
                # starts again from the committed offset, which never passed the hole.
                continue
            self.refetched[tp] = (first, last)
            self.consumer._read_offset[tp] = first - 1
            await self.consumer.seek(tp, first)


def attach_fetch_watchdog(app: faust.App, every_s: float = CHECK_EVERY_S) -> None:
    suspects: dict[Any, tuple[int, int]] = {}
    guards: list[HoleGuard] = []

    @app.task
    async def guard_holes() -> None:
        guards.append(HoleGuard(app, app.consumer))

    @app.timer(interval=every_s)
    async def rescue_dropped_fetches() -> None:
        consumer: Any = app.consumer  # Faust's own state, not on its public type
        if app.in_recovery or app.rebalancing:
            suspects.clear()
            return
        for guard in guards:
            await guard.refetch()
        if consumer._unacked_messages:
            suspects.clear()
            return
        for tp in consumer.assignment():
            if tp.topic in app.tables.changelog_topics:
                continue
            wanted = expected_next(consumer, tp)
            position = await consumer.position(tp)
            if wanted is None or position is None or position <= wanted:
                suspects.pop(tp, None)
                continue
            if suspects.get(tp) == (wanted, position):  # no delivery since the last look
                log.warning(
                    "%s:%d fetched up to %d but nothing after %d was delivered; "
                    "fetching again from %d",
                    tp.topic, tp.partition, position, wanted - 1, wanted,
                )  # fmt: skip
                await consumer.seek(tp, wanted)
                suspects.pop(tp, None)
            else:
                suspects[tp] = (wanted, position)
