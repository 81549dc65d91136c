"""Real brokers and real workers: session-scoped Kafka, one worker process per test."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from lumina.brokers import KafkaBroker, KafkaJarsMissing, TansuBroker, free_port
from lumina.brokers.base import BrokerError, tail_of
from lumina.errors import StoreError
from lumina.remote import WorkerClient
from tests.conftest import CACHE_HOME, MODELS_HOME


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    try:
        broker = KafkaBroker(data_dir=tmp_path_factory.mktemp("kafka"), home=CACHE_HOME)
    except (KafkaJarsMissing, BrokerError) as exc:
        pytest.skip(f"real Kafka unavailable: {exc}")
    broker.start(timeout=120)
    yield broker
    broker.stop()


@pytest.fixture
def tansu(tmp_path: Path) -> Iterator[TansuBroker]:
    with TansuBroker(data_dir=tmp_path / "tansu") as broker:
        yield broker


@dataclass
class WorkerProcess:
    """A `lumina worker` subprocess with its own topics, group, store and API port."""

    bootstrap: str
    prefix: str
    home: Path
    env: dict[str, str]
    api: WorkerClient
    proc: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    command: list[str] = field(default_factory=lambda: [sys.executable, "-m", "lumina", "worker"])

    @property
    def log(self) -> Path:
        return self.home / "worker.log"

    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def create_topics(self) -> None:
        """Create the worker's topics now, so events published before it starts do not
        auto-create them with the broker's default partition count."""
        from lumina.config import Settings
        from lumina.streams.admin import ensure_topics

        partitions = int(self.env["LUMINA_PARTITIONS"])
        ensure_topics(self.bootstrap, Settings(topic_prefix=self.prefix, partitions=partitions))

    def start(self, timeout: float = 90) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.command, env=self.env, stdout=log, stderr=log)
        self.wait_until(lambda: self.api.stats() is not None, timeout, "worker API")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def wait_until(self, predicate: object, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(
                    f"worker exited ({self.proc.returncode}):\n{tail_of(self.log)}"
                )
            try:
                if predicate():  # type: ignore[operator]
                    return
            except StoreError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"timed out waiting for {what}; worker log:\n{tail_of(self.log)}")


def make_worker(bootstrap: str, tmp_path: Path, **settings: str) -> WorkerProcess:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    port = free_port()
    home = tmp_path / "worker-home"
    env = {
        **os.environ,
        "LUMINA_HOME": str(home),
        "LUMINA_MODELS_HOME": str(MODELS_HOME),
        "LUMINA_KAFKA_BROKERS": bootstrap,
        "LUMINA_TOPIC_PREFIX": prefix,
        "LUMINA_GROUP_ID": f"{prefix}-group",
        "LUMINA_API_PORT": str(port),
        "LUMINA_PARTITIONS": "3",
        "LUMINA_BATCH_WITHIN_S": "0.2",
        "LUMINA_SINK_WITHIN_S": "0.3",
        **settings,
    }
    env.pop("LUMINA_CLICKHOUSE_DSN", None)
    return WorkerProcess(bootstrap, prefix, home, env, WorkerClient(f"http://127.0.0.1:{port}"))


@pytest.fixture
def kafka_worker(kafka: KafkaBroker, tmp_path: Path) -> Iterator[WorkerProcess]:
    worker = make_worker(kafka.bootstrap, tmp_path, LUMINA_MAX_TEXT_BYTES="2000")
    worker.start()
    yield worker
    worker.stop()


def round_robin_events(
    scopes: list[str], first: int, count: int, text: str, id_prefix: str
) -> list[tuple[bytes, bytes]]:
    """Events `first`… spread over `scopes` in turn, as (key, value): `text` with `{i}` for the
    event's number, event ids `id_prefix` + number, a millisecond apart in event time."""
    out = []
    for i in range(first, first + count):
        scope = scopes[i % len(scopes)]
        body = {
            "scope": scope,
            "text": text.format(i=i),
            "event_id": f"{id_prefix}{i}",
            "ts": 1_780_000_000_000 + i,
        }
        out.append((scope.encode(), json.dumps(body).encode()))
    return out


def publish(bootstrap: str, topic: str, messages: list[tuple[bytes | None, bytes]]) -> None:
    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for key, value in messages:
                await producer.send(topic, value=value, key=key)
            await producer.flush()
        finally:
            await producer.stop()

    asyncio.run(run())


def consume(
    bootstrap: str, topic: str, count: int, timeout: float = 60
) -> list[tuple[int, int, bytes]]:
    """Read `count` records from the start of every partition: (partition, offset, value)."""

    async def run() -> list[tuple[int, int, bytes]]:
        # No group: a plain subscription from the earliest offset of every partition.
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            metadata_max_age_ms=1000,
        )
        await consumer.start()
        try:
            deadline = time.monotonic() + timeout
            records: list[tuple[int, int, bytes]] = []
            while len(records) < count and time.monotonic() < deadline:
                batch = await consumer.getmany(timeout_ms=500)
                for messages in batch.values():
                    records.extend((m.partition, m.offset, m.value or b"") for m in messages)
            return records
        finally:
            await consumer.stop()

    return asyncio.run(run())


def jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
