"""Produce → consume latency on each broker, by the consumer's fetch wait.

Run: .venv/bin/python bench/fetch_wait.py [--broker kafka|tansu …] [--waits 500,100,20]

A consumer tails a topic while a producer sends one record every 50 ms, each stamped with
its send time; the latency is its arrival in the consumer's poll minus that stamp. Apache
Kafka answers a held fetch as soon as a record arrives, so the wait (`fetch_max_wait_ms`,
how long the broker may hold a fetch that has no records) should not matter there; a broker
that holds the fetch for the whole wait adds up to the wait to every record. Why the worker
sets its wait (lumina/streams/fetch_wait.py).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from lumina.brokers import make_broker

TOPIC = "fetch-wait"


async def latencies(bootstrap: str, wait_ms: int, records: int) -> list[float]:
    consumer = AIOKafkaConsumer(
        TOPIC, bootstrap_servers=bootstrap, auto_offset_reset="latest", fetch_max_wait_ms=wait_ms
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await consumer.start()
    await producer.start()
    out: list[float] = []
    try:
        await asyncio.sleep(1.0)  # the consumer has its partition and a fetch in flight

        async def consume() -> None:
            while len(out) < records:
                polled = await consumer.getmany(timeout_ms=2000)
                now = time.time()
                out.extend((now - float(r.value)) * 1000 for rs in polled.values() for r in rs)

        task = asyncio.create_task(consume())
        for _ in range(records):
            await producer.send_and_wait(TOPIC, str(time.time()).encode())
            await asyncio.sleep(0.05)
        await asyncio.wait_for(task, 60)
    finally:
        await producer.stop()
        await consumer.stop()
    return out


async def run(kind: str, waits: list[int], records: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="lumina-probe-"))
    broker = make_broker(kind, data_dir=work / "broker")
    broker.start()
    try:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        await producer.send_and_wait(TOPIC, b"0")  # the topic exists before the consumer
        await producer.stop()
        for wait in waits:
            lat = await latencies(broker.bootstrap, wait, records)
            p50, p95 = np.percentile(lat, [50, 95])
            print(f"{kind:6} fetch_max_wait_ms {wait:5}: p50 {p50:5.0f} ms, p95 {p95:5.0f} ms")
    finally:
        broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", action="append", choices=("kafka", "tansu"))
    parser.add_argument("--waits", default="500,100,20")
    parser.add_argument("--records", type=int, default=60)
    args = parser.parse_args()
    waits = [int(w) for w in args.waits.split(",")]
    for kind in args.broker or ["kafka", "tansu"]:
        asyncio.run(run(kind, waits, args.records))


if __name__ == "__main__":
    main()
