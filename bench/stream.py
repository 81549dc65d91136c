"""Streaming speed and memory: events through a real broker and a worker process, beside the
same enrichment in-process, in one run.

Run: .venv/bin/python bench/stream.py [--broker kafka|tansu] [--profile fast|full]
                                      [--events N] [--scopes S] [--rate R --seconds T]
                                      [--rss-events M [--rss-every K]] [--workers W]
                                      [--heap settled|default]
                                      [--split AGENTS:AGENTS… [--store-nice N]]

1. Throughput: N events (LoCoMo chat turns, or the demo conversation) across S scopes are
   published first; a worker (enrich, state, reinforcement and sink agents, as `lumina
   worker` runs them) then drains them. Rate = units on `lumina.units` per second between
   the first and the last. Before it, with nothing else running, the same events through
   `Pipeline.run` in-process in batches of LUMINA_BATCH_SIZE; the ratio is the streaming
   overhead.
2. Latency (with --rate): once the worker has stored the backlog, events published at a
   steady R/s for T seconds, each stamped with its send time; latency = arrival of its
   unit on `lumina.units` − send time.
3. Memory (with --rss-events): the worker's RSS after M more events across S scopes, and
   every K units stored on the way (with --split: every K events the enriching group has
   committed, and after them all, without waiting for the store).

With --workers W, W worker processes share the events in one consumer group, as a
deployment scales out by partitions, each with a store of its own (chDB is embedded; a
deployment's workers would share one ClickHouse). They start before the events are
published, and the run begins once a warm-up set of events is stored by all of them, so the
group has settled. Stored units and RSS are summed over the workers.

With --split, one worker process per group of agents (`lumina worker --agents`), e.g.
`--split enrich:state,reinforce,sink` runs enrichment in one process and the rest in
another, in one consumer group; stored units come from the sink's process, RSS is printed
per process.

With more than one worker process (--split, --workers), each one's CPU time over the
backlog is printed too, in ms a unit, beside the CPU time a unit takes in-process: on a
machine whose cores everything shares, a steadier measure of the streaming overhead than
units/s. A worker that enriches is counted until the last unit reached the topic, the
others until the last was stored. With --rate, the share of a core each process (the
workers, the broker, this script) used over the steady run, and the broker's busiest
threads by name.

The last line is each worker's time in the garbage collector (`/api/process`); `--heap
default` runs the workers with CPython's collector settings instead of `lumina.heap`'s.

Everything runs on this machine: the broker, the workers and this script share its cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import msgspec
import numpy as np
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from lumina.brokers import free_port, make_broker
from lumina.config import Settings
from lumina.core.provenance import ProvenanceChain
from lumina.enrich import Incoming, Pipeline
from lumina.schemas import TextEvent
from lumina.streams.admin import ensure_topics
from lumina.streams.fetch_wait import EMBEDDED_FETCH_WAIT_MS
from lumina.streams.tables import TABLES, changelog_topics

REPO = Path(__file__).resolve().parents[1]
LOCOMO = REPO.parent / "shared" / "data" / "locomo-dev.json"
PREFIX = "bench"
WARM_UP = "warm-up-"  # event ids (and scopes) of the events that let a group of workers settle


def chat_turns() -> list[str]:
    if LOCOMO.is_file():
        data = json.loads(LOCOMO.read_text())
        return [
            turn["text"]
            for sample in data
            for key, session in sample["conversation"].items()
            if key.startswith("session_") and isinstance(session, list)
            for turn in session
        ]
    lines = (REPO / "lumina" / "data" / "demo_conversation.jsonl").read_text().splitlines()
    return [json.loads(line)["text"] for line in lines]


def event_bodies(first: int, count: int, scopes: int, turns: list[str]) -> list[dict]:
    """Event n is turn n of the chat in scope n mod `scopes`. The (scope, turn) pairs repeat
    after `period` events (260,000 at 10,000 scopes), and a repeat is an exact duplicate,
    which makes no new unit; so each later round appends another turn to the text."""
    period = math.lcm(scopes, len(turns))

    def text(n: int) -> str:
        rounds = n // period
        return turns[n % len(turns)] + (f" {turns[rounds % len(turns)]}" if rounds else "")

    return [
        {
            "scope": f"scope-{n % scopes}",
            "author": f"user-{n % 7}",
            "text": text(n),
            "event_id": f"ev-{n}",
        }
        for n in range(first, first + count)
    ]


async def produce(bootstrap: str, bodies: list[dict], rate: float | None = None) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks=1)
    await producer.start()
    try:
        started = time.monotonic()
        for n, body in enumerate(bodies):
            if rate:
                delay = started + n / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                body = {**body, "ts": int(time.time() * 1000)}
            await producer.send(
                f"{PREFIX}.events", json.dumps(body).encode(), key=body["scope"].encode()
            )
        await producer.flush()
    finally:
        await producer.stop()


class _Decay(msgspec.Struct):
    access_count: int


class _Provenance(msgspec.Struct):
    event_id: str | None = None


class _Timestamps(msgspec.Struct):
    event_ms: int
    ingest_ms: int  # when the worker's pipeline took the event's batch


class Arrival(msgspec.Struct):
    """The fields of a unit on `lumina.units` the bench reads; msgspec skips the rest (the
    vectors are most of a unit's 8.5 kB), so timing arrivals takes little of the two cores."""

    id: str
    decay: _Decay
    provenance: _Provenance
    timestamps: _Timestamps


_read_arrival = msgspec.json.Decoder(Arrival).decode


async def units_consumer(bootstrap: str, *, from_end: bool = False) -> AIOKafkaConsumer:
    """A started consumer of every partition of the units topic, from its start or, with
    `from_end`, from its end as it is now (positions resolved before this returns, so
    nothing published after the call is missed)."""
    # A short fetch wait: on a broker that holds a fetch for its whole wait (Tansu) the
    # bench's own wait would count as the worker's latency.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", fetch_max_wait_ms=20
    )
    await consumer.start()
    topic = f"{PREFIX}.units"
    parts = [TopicPartition(topic, p) for p in range(Settings(topic_prefix=PREFIX).partitions)]
    consumer.assign(parts)
    if from_end:
        await consumer.seek_to_end(*parts)
        for part in parts:
            await consumer.position(part)
    return consumer


async def arrivals(
    consumer: AIOKafkaConsumer, count: int, timeout: float, of: set[str] | None = None
) -> list[tuple[float, int, Arrival]]:
    """(arrival time in s, the unit record's timestamp in ms, unit) for the first `count`
    first-version units `consumer` reads after the warm-up's (only those of the event ids
    `of`, if given); the consumer is stopped at the end. The record's timestamp is the
    worker's producer's clock when it took the unit."""
    out: list[tuple[float, int, Arrival]] = []
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    try:
        while len(out) < count and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.time()
            for records in batch.values():
                for record in records:
                    unit = _read_arrival(record.value)
                    event_id = unit.provenance.event_id or ""
                    if (
                        unit.decay.access_count == 0
                        and unit.id not in seen
                        and not event_id.startswith(WARM_UP)
                        and (of is None or event_id in of)
                    ):
                        seen.add(unit.id)
                        out.append((now, record.timestamp, unit))
    finally:
        await consumer.stop()
    return out


async def read_arrivals(
    bootstrap: str, count: int, timeout: float
) -> list[tuple[float, int, Arrival]]:
    """`arrivals` of the units topic from its start."""
    return await arrivals(await units_consumer(bootstrap), count, timeout)


def start_worker(
    bootstrap: str, home: Path, profile: str, extra: dict[str, str], nice: int = 0
) -> tuple:
    port = free_port()
    env = {
        **os.environ,
        "LUMINA_HOME": str(home),
        "LUMINA_MODELS_HOME": str(Settings().models_dir),
        "LUMINA_KAFKA_BROKERS": bootstrap,
        "LUMINA_TOPIC_PREFIX": PREFIX,
        "LUMINA_PROFILE": profile,
        "LUMINA_API_PORT": str(port),
        **extra,
    }
    env.pop("LUMINA_CLICKHOUSE_DSN", None)
    log = open(home / "worker.log", "ab")  # noqa: SIM115 - lives as long as the worker
    proc = subprocess.Popen(
        ["nice", "-n", str(nice), sys.executable, "-m", "lumina", "worker"],
        env=env,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}/api/stats"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"worker exited; see {home / 'worker.log'}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return proc, url
        except OSError:
            time.sleep(0.5)
    raise SystemExit("worker did not start")


def stored_by_worker(stats_urls: list[str]) -> list[int]:
    return [int(json.loads(urllib.request.urlopen(url).read())["units"]) for url in stats_urls]


def collector_share(stats_urls: list[str]) -> str:
    """The garbage collector's time in each worker (`/api/process`), as a share of its uptime."""
    parts = []
    for url in stats_urls:
        process = json.loads(urllib.request.urlopen(url.replace("/stats", "/process")).read())
        seconds = sum(process["gc_seconds"])
        parts.append(
            f"{seconds:.1f} s of {process['uptime_s']:.0f} s ({seconds / process['uptime_s']:.1%}; "
            f"young/middle/old {'/'.join(f'{s:.1f}' for s in process['gc_seconds'])} s in "
            f"{'/'.join(str(n) for n in process['gc_collections'])} collections; "
            f"{process['gc_frozen']:,} objects frozen)"
        )
    return "; ".join(parts)


def stored_units(stats_urls: list[str]) -> int:
    return sum(stored_by_worker(stats_urls))


def store_reached(stats_urls: list[str], units: int, timeout: float) -> bool:
    """Whether the store held `units` units within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if stored_units(stats_urls) >= units:
            return True
        time.sleep(1)
    return False


def wait_for_store(stats_urls: list[str], units: int, timeout: float = 1800) -> None:
    if not store_reached(stats_urls, units, timeout):
        raise SystemExit(f"the store did not reach {units} units")


def settle(bootstrap: str, stats_urls: list[str], turns: list[str]) -> int:
    """Publish warm-up events until every worker has stored some: the group's partitions are
    then assigned to all of them. The number of warm-up units stored."""
    sent = 0
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        bodies = [
            {**body, "scope": WARM_UP + body["scope"], "event_id": WARM_UP + body["event_id"]}
            for body in event_bodies(sent, 200, 200, turns)
        ]
        asyncio.run(produce(bootstrap, bodies))
        sent += len(bodies)
        wait_for_store(stats_urls, sent, timeout=300)
        if min(stored_by_worker(stats_urls)) > 0:
            return sent
    raise SystemExit("the workers did not all get partitions")


def wait_reporting_rss(
    progress: Callable[[], tuple[int, int]],
    what: str,
    rss: Callable[[], str],
    pids: list[int],
    every: int,
    timeout: float = 4 * 3600,
) -> int:
    """Wait until `progress()` (done, target) reaches its target, printing the workers' RSS
    every `every` done; their peak total RSS meanwhile, in MiB."""
    peak = 0
    started = time.monotonic()
    deadline = started + timeout
    next_report = every
    while time.monotonic() < deadline:
        peak = max(peak, total_rss(pids))
        done, target = progress()
        if done >= next_report:
            print(
                f"memory      worker RSS {rss()} with {done:,} {what} "
                f"({time.monotonic() - started:.0f} s)",
                flush=True,
            )
            next_report = (done // every + 1) * every
        if done >= target:
            return peak
        time.sleep(15)  # counting with FINAL is not free for the worker either
    raise SystemExit(f"the workers did not reach {what} in {timeout:.0f} s")


async def events_lag(bootstrap: str, settings: Settings) -> tuple[int, int]:
    """(events on the events topic, events the enriching group has committed)."""
    topic = settings.topic("events")
    parts = [TopicPartition(topic, p) for p in range(settings.partitions)]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await consumer.start()
    await admin.start()
    try:
        ends = await consumer.end_offsets(parts)
        done = await admin.list_consumer_group_offsets(settings.group_id, partitions=parts)
        return sum(ends.values()), sum(max(0, m.offset) for m in done.values())
    finally:
        await admin.close()
        await consumer.stop()


async def changelog_records(bootstrap: str, settings: Settings) -> dict[str, int]:
    """Records written to each table's changelog so far (sum of its partitions' end offsets)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        out = {}
        for (name, _), topic in zip(TABLES.values(), changelog_topics(settings), strict=True):
            # `lumina.streams.admin` creates them with the events' partition count.
            parts = [TopicPartition(topic, p) for p in range(settings.partitions)]
            ends = await consumer.end_offsets(parts)
            out[name] = sum(ends.values())
        return out
    finally:
        await consumer.stop()


def topic_bytes(log_dirs: Path, topics: list[str]) -> dict[str, int]:
    """Bytes of records each topic holds on a Kafka broker: its partitions' segment files
    (`*.log`; the index files are preallocated, their size says nothing)."""
    return {
        topic: sum(f.stat().st_size for f in log_dirs.glob(f"{topic}-*/*.log")) for topic in topics
    }


def rss_mib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    return -1


def total_rss(pids: list[int]) -> int:
    return sum(rss_mib(pid) for pid in pids)


def _stat_seconds(stat: Path) -> float:
    fields = stat.read_text().rsplit(")", 1)[1].split()  # user and system time, in ticks
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """The CPU time a process has used so far (user and system, all its threads)."""
    return _stat_seconds(Path(f"/proc/{pid}/stat"))


def thread_cpu(pid: int) -> Counter[str]:
    """CPU seconds of a process's threads so far by thread name, numbers dropped (the JVM's
    "C2 CompilerThread0" and "…1" count as one); Linux keeps 15 characters of a name."""
    by_name: Counter[str] = Counter()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip().rstrip("0123456789#-_ ")
            by_name[name] += _stat_seconds(task / "stat")
        except OSError:  # a thread that ended meanwhile
            continue
    return by_name


def in_process_rate(bodies: list[dict], profile: str) -> tuple[float, float]:
    """Units/s through `Pipeline.run` in this process, and the CPU ms a unit took."""
    settings = Settings(profile=profile)
    pipeline = Pipeline.from_settings(settings)
    events = [TextEvent(**body) for body in bodies]
    chain = ProvenanceChain()
    pipeline.run([Incoming(e) for e in events[: settings.batch_size]], chain)  # warm up
    started, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(events), settings.batch_size):
        pipeline.run([Incoming(e) for e in events[i : i + settings.batch_size]], chain)
    cpu_ms = (time.process_time() - cpu) * 1000 / len(events)
    return len(events) / (time.perf_counter() - started), cpu_ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--broker", choices=("kafka", "tansu"), default="kafka")
    parser.add_argument("--profile", choices=("fast", "full"), default="fast")
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--scopes", type=int, default=1_000)
    parser.add_argument("--rate", type=float, default=0.0, help="events/s for the latency run")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--batch-within", default=None, help="LUMINA_BATCH_WITHIN_S (default: the worker's)"
    )
    parser.add_argument("--rss-events", type=int, default=0)
    parser.add_argument("--rss-every", type=int, default=50_000, help="print RSS every N units")
    parser.add_argument("--workers", type=int, default=1, help="worker processes in the group")
    parser.add_argument(
        "--store-nice",
        type=int,
        default=0,
        help="with --split, the nice value of workers that sink and do not enrich: on a "
        "shared machine, the store's merges otherwise take the cores from the others",
    )
    parser.add_argument(
        "--split",
        default=None,
        help="one worker process per ':'-separated group of agents, e.g. enrich:state,sink",
    )
    parser.add_argument(
        "--heap",
        choices=("settled", "default"),
        default="settled",
        help="LUMINA_SETTLE_HEAP: the worker's garbage-collector policy (lumina.heap)",
    )
    args = parser.parse_args()
    # Each process's agents (None: all of them, as `lumina worker` runs by default).
    groups: list[str | None] = [None] * args.workers
    if args.split:
        groups = list(args.split.split(":"))
        if args.workers != 1 or not any("sink" in g for g in groups):
            parser.error("--split replaces --workers, and one group must run the sink")
    turns = chat_turns()
    work = Path(tempfile.mkdtemp(prefix="lumina-bench-"))
    broker = make_broker(args.broker, data_dir=work / "broker")
    broker.start()
    bootstrap = broker.bootstrap
    extra = {"LUMINA_SETTLE_HEAP": str(args.heap == "settled").lower()}
    if args.batch_within is not None:
        extra["LUMINA_BATCH_WITHIN_S"] = args.batch_within
    if args.broker == "tansu" and "LUMINA_FETCH_MAX_WAIT_MS" not in os.environ:
        # As `lumina up` runs its worker on the embedded broker (lumina.streams.fetch_wait).
        extra["LUMINA_FETCH_MAX_WAIT_MS"] = str(EMBEDDED_FETCH_WAIT_MS)
    settings = Settings(topic_prefix=PREFIX)
    ensure_topics(bootstrap, settings)
    print(
        f"broker {args.broker}, profile {args.profile}, {settings.partitions} partitions, "
        f"batch {settings.batch_size} within {args.batch_within or settings.batch_within_s}s, "
        f"heap {args.heap}; "
        f"work dir {work}"
    )
    try:
        bodies = event_bodies(0, args.events, args.scopes, turns)
        # The baseline first, while nothing else runs: measured while the worker still
        # drained its state and sink agents, it moved from 732 to 1,203 units/s between runs.
        base, base_cpu_ms = in_process_rate(bodies[: min(len(bodies), 10_000)], args.profile)
        procs: list[subprocess.Popen] = []
        stats_urls: list[str] = []  # of the workers that store units
        every_url: list[str] = []

        def start_workers() -> None:
            for n, agents in enumerate(groups):
                home = work / f"worker-{n}"
                home.mkdir()
                env = extra if agents is None else {**extra, "LUMINA_WORKER_AGENTS": agents}
                nice = args.store_nice if agents and "enrich" not in agents else 0
                proc, url = start_worker(bootstrap, home, args.profile, env, nice)
                procs.append(proc)
                every_url.append(url)
                if agents is None or "sink" in agents:
                    stats_urls.append(url)

        def rss() -> str:
            total = f"{total_rss(pids)} MiB"
            if not args.split:
                return total
            each = ", ".join(f"{g} {rss_mib(p)}" for g, p in zip(groups, pids, strict=True))
            return f"{total} ({each})"

        warm = 0
        if len(groups) > 1:
            start_workers()
            warm = settle(bootstrap, stats_urls, turns)
            by_worker = stored_by_worker(stats_urls)
            print(f"workers     {groups}, warm-up units stored by each sink {by_worker}")
        # CPU time is steadier than units/s on a machine whose cores the broker, the
        # workers and this script share; counted only for workers that were settled (and
        # idle) before the backlog, so their start-up is not in it.
        cpu_from = [cpu_seconds(proc.pid) for proc in procs] if warm else []
        asyncio.run(produce(bootstrap, bodies))
        if not procs:
            start_workers()
        pids = [proc.pid for proc in procs]
        try:
            got = asyncio.run(read_arrivals(bootstrap, args.events, timeout=3600))
            cpu_at_last_unit = [cpu_seconds(pid) for pid in pids]
            stored = stored_units(stats_urls) - warm
            times = [t for t, _, _ in got]
            stream = (len(times) - 1) / (times[-1] - times[0])
            print(
                f"throughput  stream {stream:8,.0f} units/s  in-process {base:8,.0f} units/s"
                f"  ratio {stream / base:.2f}  ({len(times):,} events, {args.scopes:,} scopes)"
            )
            # How far the sink keeps up while the worker works through a backlog.
            print(
                f"store       {stored:,} of {len(times):,} units stored "
                f"({stored / len(times):.0%}) when the last one reached the topic"
            )
            wait_for_store(stats_urls, warm + len(times))
            stored_s = time.time() - times[0]
            print(
                f"store       all {len(times):,} stored {stored_s:.0f} s after the first unit "
                f"reached the topic ({(len(times) - 1) / stored_s:,.0f} units/s)"
            )
            print(f"memory      worker RSS {rss()} after {len(times):,} events")
            if cpu_from:
                # A worker that enriches is counted until the last unit reached the topic,
                # the others until the last was stored: then each has done its share.
                now = [cpu_seconds(pid) for pid in pids]
                enriches = [g is None or "enrich" in g for g in groups]
                per_unit = [
                    1000 * ((cpu_at_last_unit if e else now)[n] - cpu_from[n]) / len(times)
                    for n, e in enumerate(enriches)
                ]
                enriching = [ms for ms, e in zip(per_unit, enriches, strict=True) if e]
                print(
                    "cpu         "
                    + ", ".join(
                        f"{g or 'all'} {ms:.2f}" for g, ms in zip(groups, per_unit, strict=True)
                    )
                    + f" ms a unit (a process's CPU time over all the units); in-process "
                    f"{base_cpu_ms:.2f} ms a unit (ratio {base_cpu_ms / sum(enriching):.2f})"
                )
            # What the tables cost the worker: each record is one Faust publish and one
            # RocksDB offset write. Counted once every unit is stored, so the state agent
            # has (nearly always) written its share too.
            records = asyncio.run(changelog_records(bootstrap, settings))
            units = warm + len(times)
            print(
                f"state       {sum(records.values()) / units:.1f} changelog records a unit "
                f"({', '.join(f'{n} {c / units:.1f}' for n, c in records.items())})"
            )
            log_dirs = getattr(broker, "log_dirs", None)  # Kafka's; Tansu stores otherwise
            if log_dirs is not None:
                names = [name for name, _ in TABLES.values()]
                sizes = topic_bytes(
                    log_dirs, [settings.topic("units"), *changelog_topics(settings)]
                )
                unit_kb, *table_kb = (size / units / 1024 for size in sizes.values())
                print(
                    f"state       {sum(table_kb):.1f} kB of changelog a unit, against "
                    f"{unit_kb:.1f} kB on the units topic "
                    f"({', '.join(f'{n} {kb:.1f}' for n, kb in zip(names, table_kb, strict=True))})"
                )
            sent = len(bodies)
            if args.rate:
                # Let the sink and the state agent finish the backlog first: a latency taken
                # while they catch up measures the backlog, not the steady state.
                wait_for_store(stats_urls, warm + sent)
                count = int(args.rate * args.seconds)
                steady = event_bodies(sent, count, args.scopes, turns)
                sent += count
                ids = {b["event_id"] for b in steady}

                async def run_latency() -> list[tuple[float, int, Arrival]]:
                    # From the topic's end: reading the backlog's units first would put
                    # the bench's own catching up into the first arrivals' latency.
                    consumer = await units_consumer(bootstrap, from_end=True)
                    arrived = asyncio.create_task(arrivals(consumer, count, 600, of=ids))
                    await produce(bootstrap, steady, rate=args.rate)
                    return await arrived

                # Every process on the machine's cores: the workers, the broker, this bench.
                sharing = [*pids, broker.pid, os.getpid()]
                names = [g or "worker" for g in groups] + [args.broker, "bench"]
                cpu_sending = [cpu_seconds(pid) for pid in sharing]
                broker_threads = thread_cpu(broker.pid)
                wall_from = time.monotonic()
                got = asyncio.run(run_latency())
                broker_threads = thread_cpu(broker.pid) - broker_threads  # drops ended ones
                busy = [
                    (cpu_seconds(pid) - before) / (time.monotonic() - wall_from)
                    for pid, before in zip(sharing, cpu_sending, strict=True)
                ]
                # Per unit, in the order sent: the whole latency, and its three legs: waiting
                # (send → the worker's pipeline takes its batch: broker, fetch, batching),
                # working (→ the worker's producer takes the unit) and delivering (→ the
                # bench reads it: producer linger, broker, acks, this consumer's fetch).
                legs = np.array(
                    sorted(
                        (
                            u.timestamps.event_ms,
                            t * 1000 - u.timestamps.event_ms,
                            u.timestamps.ingest_ms - u.timestamps.event_ms,
                            record_ms - u.timestamps.ingest_ms,
                            t * 1000 - record_ms,
                        )
                        for t, record_ms, u in got
                        if u.provenance.event_id in ids
                    )
                )
                lat = legs[:, 1]
                p50, p99 = np.percentile(lat, [50, 99])
                # A p50 that climbs from quarter to quarter is a worker falling behind the
                # rate; a flat one is the delay each event meets on its way.
                quarters = [np.percentile(q, 50) for q in np.array_split(lat, 4)]
                print(
                    f"latency     at {args.rate:,.0f} events/s for {args.seconds:.0f}s: "
                    f"p50 {p50:.0f} ms, p99 {p99:.0f} ms ({len(lat):,} of {count:,} units); "
                    f"p50 by quarter of the sending {', '.join(f'{q:.0f}' for q in quarters)} ms"
                )
                print(
                    "latency     p50/p99 of its legs: "
                    + ", ".join(
                        f"{name} {np.percentile(legs[:, col], 50):.0f}/"
                        f"{np.percentile(legs[:, col], 99):.0f} ms"
                        for col, name in ((2, "waiting"), (3, "working"), (4, "delivering"))
                    )
                )
                # How much of a core each process needed for the rate: the headroom left.
                print(
                    "cpu         share of a core over the steady run: "
                    + ", ".join(f"{n} {b:.0%}" for n, b in zip(names, busy, strict=True))
                    + f" (of {os.cpu_count()} cores)"
                )
                # Where the broker's share went: a JVM's JIT compiler threads show here.
                print(
                    f"cpu         {args.broker}'s busiest threads over the steady run: "
                    + ", ".join(f"{n} {t:.1f} s" for n, t in broker_threads.most_common(4))
                )
            if args.rss_events:
                started = time.monotonic()
                for first in range(sent, sent + args.rss_events, 100_000):  # bounded memory
                    count = min(100_000, sent + args.rss_events - first)
                    asyncio.run(produce(bootstrap, event_bodies(first, count, args.scopes, turns)))
                sent += args.rss_events
                if args.split:
                    # The enriching and state workers are measured once they have taken
                    # every event; the sink's store may still be catching up.
                    def taken() -> tuple[int, int]:
                        total, done = asyncio.run(events_lag(bootstrap, settings))
                        return done, total

                    peak = wait_reporting_rss(taken, "events enriched", rss, pids, args.rss_every)
                    print(f"store       {stored_units(stats_urls):,} units stored by then")
                else:
                    target = warm + sent
                    peak = wait_reporting_rss(
                        lambda: (stored_units(stats_urls), target),
                        "units stored",
                        rss,
                        pids,
                        args.rss_every,
                    )
                print(
                    f"memory      worker RSS {rss()} (peak {peak} MiB) once "
                    f"{sent:,} events across {args.scopes:,} scopes are "
                    f"{'enriched' if args.split else 'stored'} "
                    f"({time.monotonic() - started:.0f} s)"
                )
            caught_up = ""
            if args.rate and not args.rss_events:
                # The steady run's last units may still be on their way to the store: its
                # count is read once it has them all, or says how far it got.
                waited = time.monotonic()
                if store_reached(stats_urls, warm + sent, timeout=600):
                    late = time.monotonic() - waited
                    caught_up = f", all {warm + sent:,} {late:.0f} s after the steady run"
                else:
                    caught_up = f", not all {warm + sent:,} after 600 s"
            print(
                f"store       units stored by each worker {stored_by_worker(stats_urls)}{caught_up}"
            )
            print(f"gc          {collector_share(every_url)}")
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:  # still draining its buffers: the bench is done
                    proc.kill()
                    proc.wait()
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
