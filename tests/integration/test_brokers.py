"""The local broker launchers serve topics, keyed records and consumer groups to aiokafka."""

from __future__ import annotations

import asyncio
import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from lumina.brokers import (
    DEFAULT_KAFKA_VERSION,
    BrokerError,
    BrokerStartError,
    KafkaBroker,
    KafkaJarsMissing,
    LocalBroker,
    TansuBinaryMissing,
    free_port,
    make_broker,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

TOPIC = "lumina-broker-check"
RECORDS = 20

# Tansu stalls group rejoins for a full session timeout, so its consumers run with short ones;
# real Kafka gets aiokafka's defaults to prove the classic group protocol works as shipped.
GROUP_TIMEOUTS: dict[str, dict[str, int]] = {
    "tansu": {
        "session_timeout_ms": 6000,
        "heartbeat_interval_ms": 1000,
        "rebalance_timeout_ms": 6000,
    },
    "kafka": {},
}


def _build(kind: str, tmp_path: Path) -> LocalBroker:
    try:
        return make_broker(kind, free_port(), tmp_path / kind)  # type: ignore[arg-type]
    except KafkaJarsMissing as exc:
        pytest.skip(f"real Kafka unavailable: {exc}")
    except TansuBinaryMissing as exc:
        pytest.skip(f"Tansu unavailable: {exc}")
    except BrokerError as exc:
        if kind == "kafka" and "java" in str(exc).lower():
            pytest.skip(f"real Kafka unavailable: {exc}")
        raise


def _port_closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def _round_trip(bootstrap: str, group_timeouts: dict[str, int]) -> dict[str, Any]:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.structs import TopicPartition

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        created = await admin.create_topics(
            [NewTopic(TOPIC, num_partitions=3, replication_factor=1)]
        )
        errors = [err for _, err, *_ in created.topic_errors if err != 0]
        described = await admin.describe_topics([TOPIC])
    finally:
        await admin.close()
    partitions = len(described[0]["partitions"])

    sent = {f"key-{i:02d}".encode(): f"value-{i}".encode() for i in range(RECORDS)}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        # Sent without awaiting each one, so records to the same partition share batches as they
        # would in Lumina; the broker must keep every record and key of a batch.
        futures = [await producer.send(TOPIC, key=k, value=v) for k, v in sent.items()]
        metas = [await f for f in futures]
    finally:
        await producer.stop()
    partition_of_key = {k: m.partition for k, m in zip(sent, metas, strict=True)}

    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=bootstrap,
        group_id="lumina-broker-check-group",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        **group_timeouts,
    )
    received: dict[bytes, bytes] = {}
    received_partition: dict[bytes, int] = {}
    await consumer.start()
    try:
        deadline = time.monotonic() + 90
        while len(received) < RECORDS and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for tp, messages in batches.items():
                for msg in messages:
                    assert msg.key is not None and msg.value is not None
                    received[msg.key] = msg.value
                    received_partition[msg.key] = tp.partition
        await consumer.commit()
        tps = [TopicPartition(TOPIC, p) for p in range(partitions)]
        committed = {tp.partition: await consumer.committed(tp) for tp in tps}
    finally:
        await consumer.stop()

    return {
        "create_errors": errors,
        "partitions": partitions,
        "sent": sent,
        "received": received,
        "partition_of_key": partition_of_key,
        "received_partition": received_partition,
        "committed": committed,
    }


@pytest.mark.slow
@pytest.mark.parametrize("kind", [pytest.param("kafka", marks=pytest.mark.kafka), "tansu"])
def test_broker_round_trip(kind: str, tmp_path: Path) -> None:
    broker = _build(kind, tmp_path)
    port = broker.port
    try:
        broker.start(timeout=120)
        assert broker.bootstrap == f"127.0.0.1:{port}"
        result = asyncio.run(_round_trip(broker.bootstrap, GROUP_TIMEOUTS[kind]))
    finally:
        broker.stop()

    assert result["create_errors"] == []
    assert result["partitions"] == 3
    assert result["received"] == result["sent"], "every keyed record comes back with its key"
    assert result["received_partition"] == result["partition_of_key"]
    assert len(set(result["partition_of_key"].values())) > 1, "20 keys spread over partitions"
    # The group's committed positions cover exactly the 20 records, partition by partition.
    per_partition = {p: 0 for p in range(3)}
    for p in result["partition_of_key"].values():
        per_partition[p] += 1
    assert result["committed"] == per_partition
    assert not broker.is_running
    assert _port_closed(port), f"{kind} still listens on {port} after stop()"
    broker.stop()  # idempotent


def test_tansu_refuses_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        try:
            broker = make_broker("tansu", port, tmp_path)
        except TansuBinaryMissing as exc:
            pytest.skip(f"Tansu unavailable: {exc}")
        with pytest.raises(BrokerStartError, match="already in use"):
            broker.start(timeout=10)


def test_missing_kafka_jars_say_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(KafkaJarsMissing, match=r"make setup.*Java 17 and Maven"):
        KafkaBroker(home=tmp_path / "empty-home")


def test_kafka_jvm_options_from_the_environment_come_after_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUMINA_KAFKA_JVM_OPTS", "-XX:TieredStopAtLevel=4  -Xmx2g")
    broker = _build("kafka", tmp_path)
    command = list(broker._command())  # type: ignore[attr-defined]
    # The JVM takes the last of a repeated option: the user's full JIT and heap win.
    assert command.index("-XX:TieredStopAtLevel=1") < command.index("-XX:TieredStopAtLevel=4")
    assert command.index("-Xmx1g") < command.index("-Xmx2g") < command.index("kafka.Kafka")


def test_default_kafka_version_matches_pom() -> None:
    pom = REPO_ROOT / "kafka" / "pom.xml"
    found = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", pom.read_text("utf-8"))
    assert found is not None
    assert found.group(1) == DEFAULT_KAFKA_VERSION, "bump lumina/brokers/kafka.py with the pom"


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(BrokerError, match="kafka"):
        make_broker("zookeeper", None, None)  # type: ignore[arg-type]
