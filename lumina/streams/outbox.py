"""A batch's records, handed to the producer together and confirmed before the batch is.

Faust's `topic.send` does not surface a record the broker refuses: the refusal ends in a
future nobody awaits ("exception was never retrieved" in the log), the agent's batch is
acknowledged, and its events are committed without their output. That happened to every
unit of a batch when `lumina.units` refused them as too large (`max.message.bytes`). An
`Outbox` collects a batch's records, hands them to the producer, then waits for the broker
to take all of them; a refusal (a record too large for the topic, a partition without a
leader for longer than the producer retries) raises there, inside the agent's batch, which
is then kept and tried again (`lumina.agents.retry`) instead of committed.

The records go as one Kafka record batch per partition (aiokafka's `create_batch` and
`send_batch`), not one `send` each: Faust's send path builds a message object, a future and
a callback per record, which took much of the agents' time (see "Record batches" in
`docs/streaming-history.md`). Partitions are chosen by the producer's own partitioner, so
a record lands where `topic.send` would have put it.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

import faust
from faust.types import TP

Record = tuple[bytes | None, bytes | None]  # key, value (None: a tombstone)


class Outbox:
    def __init__(self) -> None:
        self.pending: dict[faust.TopicT, list[tuple[int | None, Record]]] = defaultdict(list)

    def add(
        self,
        topic: faust.TopicT,
        value: bytes | None,
        key: bytes | None = None,
        partition: int | None = None,
    ) -> None:
        """Queue one record, for `partition` or the one its key hashes to; nothing reaches
        the producer before `delivered`."""
        self.pending[topic].append((partition, (key, value)))

    async def delivered(self) -> dict[TP, int]:
        """Hand every queued record to the producer and wait until the broker has them all;
        the first refusal raises. Returns the last offset written per topic partition."""
        pending, self.pending = self.pending, defaultdict(list)
        sent: list[tuple[TP, int, asyncio.Future[Any]]] = []
        for topic, records in pending.items():
            sent += await _send_batches(topic, records)
        results = await asyncio.gather(*(future for _, _, future in sent))
        last: dict[TP, int] = {}
        for (tp, count, _), metadata in zip(sent, results, strict=True):
            last[tp] = max(last.get(tp, -1), metadata.offset + count - 1)
        return last


async def _send_batches(
    topic: faust.TopicT, records: list[tuple[int | None, Record]]
) -> list[tuple[TP, int, asyncio.Future[Any]]]:
    """Submit `records` as record batches, one or more per partition, in their order; each
    batch with its partition, its record count and its delivery (the first offset)."""
    faust_producer: Any = topic.app.producer
    producer = faust_producer._ensure_producer()  # the aiokafka producer Faust started
    name = topic.get_topic_name()
    partitions = sorted(await producer.partitions_for(name))
    by_partition: dict[int, list[Record]] = defaultdict(list)
    for partition, (key, value) in records:
        if partition is None:
            partition = faust_producer.partitioner(key, partitions, partitions)
        by_partition[partition].append((key, value))
    sent = []
    for partition, items in by_partition.items():
        sent += await send_record_batches(producer, name, partition, items)
    return sent


async def send_record_batches(
    producer: Any, topic: str, partition: int, records: list[Record]
) -> list[tuple[TP, int, asyncio.Future[Any]]]:
    """Submit one partition's `records` to an aiokafka producer as record batches of its
    batch size, in order; each batch with its partition, record count and delivery."""
    tp = TP(topic, partition)
    sent = []
    batch, count = producer.create_batch(), 0
    for key, value in records:
        if batch.append(key=key, value=value, timestamp=None) is None:  # batch is full
            sent.append((tp, count, await producer.send_batch(batch, topic, partition=partition)))
            batch, count = producer.create_batch(), 0
            # An empty batch takes any one record, even one over the batch size: the
            # broker then refuses it if it is over the topic's limit, and that raises.
            batch.append(key=key, value=value, timestamp=None)
        count += 1
    sent.append((tp, count, await producer.send_batch(batch, topic, partition=partition)))
    return sent
