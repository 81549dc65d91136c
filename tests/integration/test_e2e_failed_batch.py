"""A batch that fails as a whole is tried again, not lost (real Apache Kafka, real chDB).

Faust acknowledges a `take_events` batch even when the agent's body raises, so without
`lumina.agents.retry.until_done` the first batch of each failing agent would be committed
and gone: fewer units in the store, activity windows that miss units. And Faust's
`topic.send` drops a record the broker refuses without telling the agent, so without
`lumina.streams.outbox.Outbox` every refused unit was lost the same way.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from lumina.brokers import KafkaBroker
from tests.integration.conftest import (
    WorkerProcess,
    make_worker,
    publish,
    round_robin_events,
)
from tests.integration.faulty_worker import FAULT

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

SCOPES = [f"fault.team-{i}" for i in range(3)]
PER_SCOPE = 10


def events() -> list[tuple[bytes, bytes]]:
    text = "Ticket {i}: Ana moved the Lisbon rollout review to the {i}th floor."
    return round_robin_events(SCOPES, 0, len(SCOPES) * PER_SCOPE, text, "f")


def test_e2e_failed_batches_are_retried_and_nothing_is_lost(
    kafka: KafkaBroker, tmp_path: Path
) -> None:
    worker = make_worker(kafka.bootstrap, tmp_path)
    worker.command = [sys.executable, "-m", "tests.integration.faulty_worker"]
    worker.create_topics()
    worker.start()
    try:
        total = len(SCOPES) * PER_SCOPE
        publish(worker.bootstrap, worker.topic("events"), events())
        worker.wait_until(lambda: worker.api.stats()["units"] == total, 120, "every unit stored")
        log = worker.log.read_text()
        for where in ("enrichment", "state"):
            assert f"{FAULT} in {where}" in log  # the fault happened, and was retried
        assert "retrying" in log

        rows = worker.api.sql("SELECT count(), uniqExact(event_id) FROM memory_units FINAL")
        assert rows["rows"] == [[total, total]]
        assert worker.api.stats()["dead_letters"] == 0
        # The state agent's failed batch was applied once: every unit counted in its window.
        query = "SELECT scope, sum(units) FROM activity_windows FINAL GROUP BY scope ORDER BY scope"
        worker.wait_until(
            lambda: worker.api.sql(query)["rows"] == [[s, PER_SCOPE] for s in SCOPES],
            60,
            f"{PER_SCOPE} units counted in each scope's activity windows",
        )
        # A search publishes its hits as accesses; the reinforcement agent's first batch
        # fails after its ledger is written and is retried: each hit is reinforced once.
        hits = {h["id"] for h in worker.api.search("Lisbon rollout", SCOPES[0], k=3)}
        assert hits
        ids = ", ".join(f"'{uid}'" for uid in sorted(hits))
        counts = f"SELECT access_count FROM memory_units FINAL WHERE id IN ({ids})"
        worker.wait_until(
            lambda: worker.api.sql(counts)["rows"] == [[1]] * len(hits),
            60,
            "every search hit stored once reinforced",
        )
        assert f"{FAULT} in reinforcement" in worker.log.read_text()
        assert worker.proc is not None and worker.proc.poll() is None  # never stopped
    finally:
        worker.stop()


def set_topic_config(bootstrap: str, topic: str, config: dict[str, str]) -> None:
    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs=config)
            await admin.alter_configs([resource])
        finally:
            await admin.close()

    asyncio.run(run())


def wait_for_enrichment_retry(worker: WorkerProcess, what: str) -> None:
    """Until the worker logs a failed enrichment batch it will try again."""
    worker.wait_until(
        lambda: "enriching" in worker.log.read_text() and "retrying" in worker.log.read_text(),
        60,
        what,
    )


def test_e2e_units_the_broker_refuses_are_sent_again_not_lost(
    kafka: KafkaBroker, tmp_path: Path
) -> None:
    """A real refusal: `lumina.units` is made to take nothing over 1 kB (a unit is ~8 kB), so
    the broker refuses every unit. The events must stay uncommitted until it takes them."""
    worker = make_worker(kafka.bootstrap, tmp_path)
    worker.create_topics()
    units_topic = worker.topic("units")
    set_topic_config(worker.bootstrap, units_topic, {"max.message.bytes": "1024"})
    worker.start()
    try:
        total = len(SCOPES) * PER_SCOPE
        publish(worker.bootstrap, worker.topic("events"), events())
        wait_for_enrichment_retry(worker, "a refused batch to be retried")
        assert worker.api.stats()["units"] == 0
        set_topic_config(worker.bootstrap, units_topic, {"max.message.bytes": "1048588"})
        worker.wait_until(lambda: worker.api.stats()["units"] == total, 120, "every unit stored")
        rows = worker.api.sql("SELECT count(), uniqExact(event_id) FROM memory_units FINAL")
        assert rows["rows"] == [[total, total]]
        assert worker.proc is not None and worker.proc.poll() is None
    finally:
        worker.stop()


def test_e2e_changelog_records_the_broker_refuses_are_sent_again_not_lost(
    kafka: KafkaBroker, tmp_path: Path
) -> None:
    """The provenance-chain changelog takes no record batch over 100 bytes (one link is more),
    so the broker refuses the links. Faust's own table writes only logged that, the batch was
    committed, and a worker that later rebuilt its tables from the changelog started every
    scope's chain over. Here the batch is kept until the changelog has it, and a worker
    without its local state continues each chain where it stopped."""
    worker = make_worker(kafka.bootstrap, tmp_path)
    worker.start()  # creates the changelog topics
    chain_changelog = f"{worker.env['LUMINA_GROUP_ID']}-provenance-chain-changelog"
    set_topic_config(worker.bootstrap, chain_changelog, {"max.message.bytes": "100"})
    total = len(SCOPES) * PER_SCOPE
    try:
        publish(worker.bootstrap, worker.topic("events"), events())
        wait_for_enrichment_retry(
            worker, "a batch whose changelog records were refused to be retried"
        )
        set_topic_config(worker.bootstrap, chain_changelog, {"max.message.bytes": "1048588"})
        worker.wait_until(lambda: worker.api.stats()["units"] == total, 120, "every unit stored")
    finally:
        worker.stop()

    # Lose the local state: the chain table comes back from its changelog alone.
    shutil.rmtree(worker.home / "worker")
    worker.start()
    try:
        text = "Follow-up {i}: Ana signed off the Lisbon rollout."
        publish(
            worker.bootstrap,
            worker.topic("events"),
            round_robin_events(SCOPES, total, len(SCOPES), text, "f"),
        )
        worker.wait_until(
            lambda: worker.api.stats()["units"] == total + len(SCOPES), 120, "the follow-ups stored"
        )
        rows = worker.api.sql(
            "SELECT scope, count(), uniqExact(sequence), max(sequence) FROM memory_units FINAL "
            "GROUP BY scope ORDER BY scope"
        )["rows"]
        assert rows == [[s, PER_SCOPE + 1, PER_SCOPE + 1, PER_SCOPE + 1] for s in SCOPES]
    finally:
        worker.stop()
