"""`lumina demo`: embedded broker, a worker, the bundled conversation, and what came out."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

from aiokafka import AIOKafkaProducer

from lumina.brokers import TansuBroker, free_port
from lumina.brokers.base import tail_of
from lumina.config import Settings
from lumina.display import print_hits, print_table
from lumina.errors import LuminaError, StoreError
from lumina.remote import WorkerClient
from lumina.streams.fetch_wait import EMBEDDED_FETCH_WAIT_MS

SCOPE = "team-aurora"
# One message per invalid class the decoder knows, sent beside the conversation.
INVALID_MESSAGES: tuple[bytes, ...] = (
    b"\xff\xfe this is not UTF-8",
    b'{"scope": "team-aurora", "text": "an unterminated object"',
    b'{"text": "a message without a scope"}',
    b'{"scope": "team-aurora", "text": "   "}',
)
READY_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 90.0


def conversation() -> list[bytes]:
    text = resources.files("lumina.data").joinpath("demo_conversation.jsonl").read_bytes()
    return [line for line in text.splitlines() if line.strip()]


async def publish(bootstrap: str, topic: str, messages: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in messages:
            await producer.send(topic, value=value, key=SCOPE.encode())
        await producer.flush()
    finally:
        await producer.stop()


def wait_for(predicate: object, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():  # type: ignore[operator]
                return
        except StoreError:
            pass  # the worker is still starting
        time.sleep(0.25)
    raise LuminaError(f"timed out waiting for {what}; worker log:\n{tail_of(log)}")


def run_demo(settings: Settings) -> int:
    started = time.monotonic()
    home = settings.home / "demo"
    shutil.rmtree(home, ignore_errors=True)  # each demo starts from nothing
    home.mkdir(parents=True)
    api_port = free_port()
    messages = conversation() + list(INVALID_MESSAGES)
    with TansuBroker(port=free_port(), data_dir=home / "broker") as broker:
        env = {
            **os.environ,
            "LUMINA_HOME": str(home),
            "LUMINA_MODELS_HOME": str(settings.models_dir),
            "LUMINA_KAFKA_BROKERS": broker.bootstrap,
            "LUMINA_API_PORT": str(api_port),
            "LUMINA_PARTITIONS": "2",
            # Tansu holds a fetch for its whole wait (lumina.streams.fetch_wait).
            "LUMINA_FETCH_MAX_WAIT_MS": str(EMBEDDED_FETCH_WAIT_MS),
        }
        env.pop("LUMINA_CLICKHOUSE_DSN", None)
        log_path = home / "worker.log"
        with open(log_path, "wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "lumina", "worker"], env=env, stdout=log, stderr=log
            )
        try:
            client = WorkerClient(f"http://127.0.0.1:{api_port}", timeout=10)
            print(f"broker (tansu) on {broker.bootstrap}; starting the worker …", flush=True)
            wait_for(lambda: client.stats() is not None, READY_TIMEOUT_S, "the worker", log_path)
            asyncio.run(publish(broker.bootstrap, settings.topic("events"), messages))
            print(f"published {len(messages)} events ({len(INVALID_MESSAGES)} invalid)", flush=True)

            def drained() -> bool:
                stats = client.stats()
                return stats["units"] + stats["dead_letters"] >= len(messages)

            wait_for(
                drained, DRAIN_TIMEOUT_S, "every event to become a unit or dead letter", log_path
            )
            report(client)
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
    print(f"\ndemo finished in {time.monotonic() - started:.1f}s")
    return 0


def report(client: WorkerClient) -> None:
    print("\n== memory units ==")
    units = client.sql(
        "SELECT substring(id, 1, 10) AS id, role_who AS who, role_what AS what, "
        "role_when AS when, role_where AS where, round(toFloat64(salience), 2) AS salience "
        f"FROM memory_units FINAL WHERE scope = '{SCOPE}' ORDER BY event_time"
    )
    print_table(units["columns"], units["rows"])
    print("\n== dead letters ==")
    dead = client.sql(
        "SELECT reason, message, origin_offset AS offset FROM dead_letters FINAL ORDER BY offset"
    )
    print_table(dead["columns"], dead["rows"])
    question = "who is flying to Munich?"
    print(f'\n== search: "{question}" in {SCOPE} ==')
    print_hits(client.search(question, SCOPE, 5))
    print("\n== SQL: units, salience and mood per author ==")
    per_author = client.sql(
        "SELECT author, count() AS units, round(avg(salience), 3) AS avg_salience, "
        "round(avg(valence), 3) AS avg_valence FROM memory_units FINAL "
        f"WHERE scope = '{SCOPE}' GROUP BY author ORDER BY units DESC, author"
    )
    print_table(per_author["columns"], per_author["rows"])
