"""The store refuses writes for 30 s in the middle of a stream (real Kafka, real chDB): the
sink retries with backoff, nothing is dropped, and every unit ends in the store once."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from lumina.brokers import KafkaBroker
from tests.integration.conftest import make_worker, publish, round_robin_events
from tests.integration.outage_worker import BEGIN, END

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

OUTAGE_S = 30
SCOPES = [f"outage.team-{i}" for i in range(6)]


def events(first: int, count: int) -> list[tuple[bytes, bytes]]:
    text = "Status note {i}: the Lisbon rollout is on track."
    return round_robin_events(SCOPES, first, count, text, "o")


def test_e2e_store_outage_of_30_s_loses_nothing(kafka: KafkaBroker, tmp_path: Path) -> None:
    worker = make_worker(kafka.bootstrap, tmp_path, LUMINA_TEST_OUTAGE_S=str(OUTAGE_S))
    worker.command = [sys.executable, "-m", "tests.integration.outage_worker"]
    worker.create_topics()
    worker.start()
    try:
        publish(worker.bootstrap, worker.topic("events"), events(0, 20))
        worker.wait_until(lambda: BEGIN in worker.log.read_text(), 60, "the outage to begin")
        began = time.monotonic()
        publish(worker.bootstrap, worker.topic("events"), events(20, 180))
        worker.wait_until(lambda: END in worker.log.read_text(), OUTAGE_S + 30, "the outage to end")
        assert time.monotonic() - began >= OUTAGE_S - 1
        assert "retrying" in worker.log.read_text()  # writes failed, and were tried again

        worker.wait_until(
            lambda: worker.api.stats()["units"] == 200, 120, "all 200 units in the store"
        )
        rows = worker.api.sql(
            "SELECT count(), uniqExact(id), uniqExact(event_id) FROM memory_units FINAL"
        )["rows"]
        assert rows == [[200, 200, 200]]
        assert worker.api.stats()["dead_letters"] == 0
        assert worker.proc is not None and worker.proc.poll() is None  # never stopped
    finally:
        worker.stop()


def test_e2e_stop_during_an_outage_leaves_the_batch_for_the_restart(
    kafka: KafkaBroker, tmp_path: Path
) -> None:
    """A stop while writes fail must not commit the batch it could not write: the worker
    waits for it, is killed (as an orchestrator does after its grace period), and the
    restart stores every unit once."""
    worker = make_worker(kafka.bootstrap, tmp_path, LUMINA_TEST_OUTAGE_S="600")
    worker.command = [sys.executable, "-m", "tests.integration.outage_worker"]
    worker.create_topics()
    worker.start()
    try:
        publish(worker.bootstrap, worker.topic("events"), events(0, 10))
        worker.wait_until(lambda: BEGIN in worker.log.read_text(), 60, "the outage to begin")
        publish(worker.bootstrap, worker.topic("events"), events(10, 90))
        worker.wait_until(
            lambda: worker.log.read_text().count("units failed") >= 2, 60, "failed unit writes"
        )
    finally:
        worker.stop()  # SIGTERM, then SIGKILL after 30 s

    # The same worker home without the outage: a detached table is back after a restart.
    worker.command = [sys.executable, "-m", "lumina", "worker"]
    worker.start()
    try:
        worker.wait_until(
            lambda: worker.api.stats()["units"] == 100, 120, "all 100 units after the restart"
        )
        rows = worker.api.sql("SELECT count(), uniqExact(event_id) FROM memory_units FINAL")
        assert rows["rows"] == [[100, 100]]
    finally:
        worker.stop()
