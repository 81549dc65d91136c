"""The floor under the streaming overhead: what a Kafka worker spends a unit before any
state, in the same run as the in-process enrichment it is compared with.

Run: .venv/bin/python bench/stream_floor.py [--events N] [--scopes S] [--profile fast|full]
                                            [--batch-bytes B]

Issue 5 asks for streaming events/s ≥ 0.8 × the same enrichment in-process. A worker that
enriches at p ms of CPU a unit and spends s ms a unit on streaming reaches at most
p / (p + s) of the in-process rate on the core it runs on, so the goal needs s ≤ p / 4.
This measures the least s can be in Python on aiokafka (the client of DESIGN.md), with no
Faust, no tables, no store:

1. In-process, one process: `Pipeline.run` over the events in batches (p, as
   `bench/stream.py` measures its baseline), then the two codecs the stream adds and the
   in-process run does not need: decoding each event's bytes (`Incoming.decode`) and
   encoding each unit for `lumina.units` (`MemoryUnit.to_json`).
2. A relay process: an aiokafka consumer in a group reads the events in batches of
   LUMINA_BATCH_SIZE, and for each event an aiokafka producer writes the unit's real bytes
   (the units of step 1, 8-9 kB each) to the units topic as record batches per partition,
   sized, filled and acknowledged as the worker's are (`lumina.streams.app`, `.outbox`;
   `--batch-bytes 16384` gives aiokafka's default size instead);
   offsets are committed after each batch is delivered.
   Its CPU time a record, and the broker's over the same span, are read from /proc.

The relay is a lower bound on the transport cost of a real worker, which also goes
through Faust's consumer path and its RocksDB tables. The broker, the relay and this
script share the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from stream import PREFIX, chat_turns, cpu_seconds, event_bodies, produce

from lumina.brokers import make_broker
from lumina.config import Settings
from lumina.core.provenance import ProvenanceChain
from lumina.enrich import Incoming, Pipeline
from lumina.streams.admin import ensure_topics
from lumina.streams.app import PRODUCER_BATCH_BYTES, PRODUCER_LINGER_MS
from lumina.streams.outbox import send_record_batches

GROUP = "floor-relay"


def in_process(raws: list[bytes], profile: str) -> tuple[float, float, float, list[bytes]]:
    """CPU ms a unit of `Pipeline.run`, of decoding an event, of encoding a unit; the units."""
    settings = Settings(profile=profile)
    pipeline = Pipeline.from_settings(settings)
    incoming = [Incoming.decode(raw, settings) for raw in raws]
    batch = settings.batch_size
    chain = ProvenanceChain()
    pipeline.run(incoming[:batch], ProvenanceChain())  # warm up
    units = []
    cpu = time.process_time()
    for i in range(0, len(incoming), batch):
        units += pipeline.run(incoming[i : i + batch], chain).units
    enrich_ms = (time.process_time() - cpu) * 1000 / len(incoming)
    cpu = time.process_time()
    for raw in raws:
        Incoming.decode(raw, settings)
    decode_ms = (time.process_time() - cpu) * 1000 / len(raws)
    cpu = time.process_time()
    encoded = [unit.to_json() for unit in units]
    encode_ms = (time.process_time() - cpu) * 1000 / len(units)
    return enrich_ms, decode_ms, encode_ms, encoded


async def relay(
    bootstrap: str, count: int, units: list[bytes], batch: int, batch_bytes: int
) -> None:
    """Consume `count` events; for each, produce a unit's bytes keyed by the event's key."""
    events, out = f"{PREFIX}.events", f"{PREFIX}.units"
    consumer = AIOKafkaConsumer(
        events,
        bootstrap_servers=bootstrap,
        group_id=GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = AIOKafkaProducer(  # batched as the worker's producer is, unless told
        bootstrap_servers=bootstrap,
        acks=-1,
        max_batch_size=batch_bytes,
        linger_ms=PRODUCER_LINGER_MS,
    )
    await consumer.start()
    await producer.start()
    seen, cpu_from = 0, None
    try:
        while seen < count:
            polled = await consumer.getmany(timeout_ms=1000, max_records=batch)
            if cpu_from is None and polled:
                cpu_from = time.process_time()  # from the first batch: start-up left out
            by_partition: dict[int, list[tuple[bytes | None, bytes]]] = {}
            for tp, records in polled.items():
                # A unit goes to its event's partition number, as a worker keeps a scope's
                # records together (both topics have the same partitions).
                items = by_partition.setdefault(tp.partition, [])
                for record in records:
                    items.append((record.key, units[seen % len(units)]))
                    seen += 1
            sent = []
            for part, items in by_partition.items():  # as the worker's outbox sends them
                sent += await send_record_batches(producer, out, part, items)
            await asyncio.gather(*(delivery for _, _, delivery in sent))
            if polled:
                await consumer.commit()
        cpu_ms = (time.process_time() - (cpu_from or 0.0)) * 1000 / count
        print(json.dumps({"relay_cpu_ms": cpu_ms}))
    finally:
        await producer.stop()
        await consumer.stop()


def run_relay(
    bootstrap: str, count: int, units_file: Path, batch: int, batch_bytes: int, broker_pid: int
) -> dict:
    relay_args = [bootstrap, str(count), str(units_file), str(batch), str(batch_bytes)]
    proc = subprocess.Popen(
        [sys.executable, __file__, "--relay", *relay_args],
        stdout=subprocess.PIPE,
        text=True,
    )
    broker_from, started = cpu_seconds(broker_pid), time.perf_counter()
    out, _ = proc.communicate(timeout=1800)
    seconds = time.perf_counter() - started
    if proc.returncode:
        raise SystemExit(f"relay failed ({proc.returncode})")
    result = json.loads(out.strip().splitlines()[-1])
    result["broker_cpu_ms"] = (cpu_seconds(broker_pid) - broker_from) * 1000 / count
    result["rate"] = count / seconds  # start-up included: a rough figure beside the CPU
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--scopes", type=int, default=1_000)
    parser.add_argument("--profile", choices=("fast", "full"), default="fast")
    parser.add_argument(
        "--batch-bytes",
        type=int,
        default=PRODUCER_BATCH_BYTES,
        help="the relay producer's record batch size (default: the worker's)",
    )
    parser.add_argument("--relay", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.relay:
        bootstrap, count, units_file, batch, batch_bytes = args.relay
        units = Path(units_file).read_bytes().split(b"\n")
        asyncio.run(relay(bootstrap, int(count), units, int(batch), int(batch_bytes)))
        return

    bodies = event_bodies(0, args.events, args.scopes, chat_turns())
    raws = [json.dumps(body).encode() for body in bodies]
    enrich_ms, decode_ms, encode_ms, units = in_process(raws, args.profile)
    size = sum(map(len, units)) / len(units)
    work = Path(tempfile.mkdtemp(prefix="lumina-bench-floor-"))
    units_file = work / "units.jsonl"
    units_file.write_bytes(b"\n".join(units))
    broker = make_broker("kafka", data_dir=work / "broker")
    broker.start()
    try:
        settings = Settings(topic_prefix=PREFIX)
        ensure_topics(broker.bootstrap, settings)
        asyncio.run(produce(broker.bootstrap, bodies))
        assert broker.pid is not None
        floor = run_relay(
            broker.bootstrap,
            len(bodies),
            units_file,
            settings.batch_size,
            args.batch_bytes,
            broker.pid,
        )
    finally:
        broker.stop()
    relay_ms, broker_ms = floor["relay_cpu_ms"], floor["broker_cpu_ms"]
    stream_ms = decode_ms + encode_ms + relay_ms
    print(
        f"{len(bodies):,} events across {args.scopes:,} scopes, profile {args.profile}, "
        f"{settings.partitions} partitions, units {size:,.0f} bytes on average, "
        f"relay batches up to {args.batch_bytes:,} bytes"
    )
    print("CPU ms a unit")
    print(f"  enrichment in-process (Pipeline.run)           p = {enrich_ms:6.3f}")
    print(f"  decoding the event's bytes (Incoming.decode)       {decode_ms:6.3f}")
    print(f"  encoding the unit (MemoryUnit.to_json)             {encode_ms:6.3f}")
    print(f"  aiokafka relay: consume, produce, commit           {relay_ms:6.3f}")
    print(f"  streaming floor (the three above)              s = {stream_ms:6.3f}")
    print(f"  the broker (Apache Kafka) over the relay           {broker_ms:6.3f}")
    print(f"relay {floor['rate']:,.0f} records/s (start-up included)")
    one_core = enrich_ms / (enrich_ms + stream_ms)
    shared = 2 * enrich_ms / (enrich_ms + stream_ms + broker_ms)
    print(
        f"ceiling of the ratio: {min(one_core, shared):.2f}  (p / (p + s) = {one_core:.2f} for "
        f"the enriching process; 2p / (p + s + broker) = {shared:.2f} for two cores); "
        f"the goal 0.8 needs s <= p / 4 = {enrich_ms / 4:.3f} ms"
    )


if __name__ == "__main__":
    main()
