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


def attach_fetch_watchdog(app: faust.App, every_s: float = CHECK_EVERY_S) -> None:
    suspects: dict[Any, tuple[int, int]] = {}

    @app.timer(interval=every_s)
    async def rescue_dropped_fetches() -> None:
        consumer: Any = app.consumer  # Faust's own state, not on its public type
        if app.in_recovery or app.rebalancing or consumer._unacked_messages:
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
