"""Access events: every result set a query returns is an access to its units, published to
`lumina.access` so the reinforcement agent makes those units last longer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable

from aiokafka import AIOKafkaProducer

from lumina.config import Settings
from lumina.schemas.state import AccessEvent

Send = Callable[[bytes, bytes], Awaitable[object]]


def access_records(scope: str, unit_ids: Iterable[str], at_ms: int | None = None) -> list[bytes]:
    """One AccessEvent (JSON) per retrieved unit, all at the same instant."""
    now_ms = int(time.time() * 1000) if at_ms is None else at_ms
    return [
        AccessEvent(scope=scope, unit_id=unit_id, at_ms=now_ms, reason="retrieval")
        .model_dump_json()
        .encode()
        for unit_id in unit_ids
    ]


async def send_accesses(send: Send, scope: str, unit_ids: Iterable[str]) -> None:
    """Publish through `send(key, value)`: the worker's own producer, keyed by scope so the
    accesses land on the partition that owns the scope's state."""
    for record in access_records(scope, unit_ids):
        await send(scope.encode(), record)


def publish_accesses(settings: Settings, scope: str, unit_ids: Iterable[str]) -> int:
    """Publish from a process with no worker (the CLI against a ClickHouse server): a
    short-lived producer. Returns how many were sent; 0 without a configured broker."""
    ids = list(unit_ids)
    if not ids or not settings.kafka_brokers:
        return 0

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_brokers, acks="all")
        await producer.start()
        try:
            topic = settings.topic("access")

            async def send(key: bytes, value: bytes) -> None:
                await producer.send(topic, key=key, value=value)

            await send_accesses(send, scope, ids)
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(run())
    return len(ids)
