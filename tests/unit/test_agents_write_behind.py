"""WriteBehind and Held: the units sink reads a batch while the one before is written, one
write at a time, and a batch's records are acknowledged only once it is written.

Messages are Faust's own `ConsumerMessage`; the consumer they report their final ack to is
a stand-in (a real one needs a running app; the sink runs against Apache Kafka in
tests/integration: test_e2e_store_outage, test_e2e_failed_batch)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from faust.types.tuples import ConsumerMessage

from lumina.agents import retry
from lumina.agents.write_behind import Held, WriteBehind


class Consumer:
    def __init__(self) -> None:
        self.acked: list[int] = []

    def ack(self, message: ConsumerMessage) -> bool:
        self.acked.append(message.offset)
        return True


def events(consumer: Consumer, offsets: range, streams: int = 1) -> list[SimpleNamespace]:
    """Records as Faust hands them to `streams` agents reading their topic."""
    made = []
    for offset in offsets:
        message = ConsumerMessage("units", 0, offset, 0.0, 0, None, None, b"{}", None)
        message.incref(streams)
        made.append(
            SimpleNamespace(message=message, ack=lambda m=message: m.ack(consumer))  # type: ignore[misc]
        )
    return made


def test_a_held_batch_is_acknowledged_when_released_not_when_its_streams_are_done() -> None:
    consumer = Consumer()
    batch = events(consumer, range(3), streams=2)  # the state agent reads them too
    held = Held(batch)  # type: ignore[arg-type]
    for event in batch:  # the state agent, then Faust for the sink's take batch
        event.ack()
        event.ack()
    assert consumer.acked == []  # not committed while being written
    held.release()
    assert consumer.acked == [0, 1, 2]
    held.release()  # once only
    assert consumer.acked == [0, 1, 2]


def test_writes_run_one_at_a_time_in_order_while_the_next_batch_is_read() -> None:
    log: list[str] = []

    async def run() -> None:
        writes = WriteBehind()
        first_written = asyncio.Event()

        def write(n: int) -> object:
            async def go() -> None:
                log.append(f"write {n} starts")
                await asyncio.sleep(0.05)
                log.append(f"write {n} ends")
                first_written.set()

            return go

        await writes.submit(write(1), "batch 1")  # type: ignore[arg-type]
        log.append("reading batch 2")  # submit returned at once: reading goes on
        await writes.submit(write(2), "batch 2")  # type: ignore[arg-type]
        log.append("batch 2 submitted")
        await writes.drain()

    asyncio.run(run())
    assert log == [
        "reading batch 2",
        "write 1 starts",
        "write 1 ends",
        "batch 2 submitted",  # only once write 1 was done: one write in flight
        "write 2 starts",
        "write 2 ends",
    ]


def test_a_failed_write_is_retried_and_a_cancelled_wait_does_not_cancel_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_wait(seconds: float) -> None:
        pass

    monkeypatch.setattr(retry.asyncio, "sleep", no_wait)
    attempts: list[int] = []

    async def run() -> None:
        writes = WriteBehind()
        release = asyncio.Event()

        async def write() -> None:
            attempts.append(len(attempts) + 1)
            if len(attempts) == 1:
                raise ConnectionError("store away")
            await release.wait()

        await writes.submit(write, "a batch")
        waiting = asyncio.ensure_future(writes.drain())  # the agent, stopping
        await asyncio.sleep(0.01)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        release.set()
        await writes.drain()  # the write went on, and is waited for again

    asyncio.run(run())
    assert attempts == [1, 2]
