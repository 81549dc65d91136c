"""Crash recovery and scale-out on real Apache Kafka: a SIGKILLed worker loses nothing and
duplicates nothing; two and three workers share the partitions and the table state."""

from __future__ import annotations

import dataclasses
import json
import shutil
import signal
from collections import defaultdict
from pathlib import Path

import pytest

from lumina.brokers import KafkaBroker, free_port
from lumina.core.provenance import ChainEntry, verify_chain
from lumina.remote import WorkerClient
from lumina.schemas import MemoryUnit
from lumina.streams.tables import AGENT_TABLES, TABLES
from tests.integration.conftest import WorkerProcess, consume, make_worker, publish

pytestmark = [pytest.mark.kafka, pytest.mark.e2e, pytest.mark.slow]

SCOPES = [f"rec.scope-{i}" for i in range(24)]  # enough that every partition gets some
T0 = 1_780_000_000_000
TEXTS = [
    "Ann booked the hotel in Porto for the offsite.",
    "Bo moved the standup to ten because of the outage.",
    "The Berlin team shipped the search fix on Tuesday.",
    "Dana asked for the slides before the review.",
    "We paid the invoice from Brightwave by card.",
]


def events(first: int, count: int) -> list[tuple[bytes, bytes]]:
    out = []
    for n in range(first, first + count):
        scope = SCOPES[n % len(SCOPES)]
        body = {
            "scope": scope,
            "text": f"{TEXTS[n % len(TEXTS)]} Note {n}.",
            "author": "Ann",
            "event_id": f"ev-{n}",
            "ts": T0 + n * 1000,
        }
        out.append((scope.encode(), json.dumps(body).encode()))
    return out


def read_units(worker: WorkerProcess, seconds: float = 3) -> dict[str, MemoryUnit]:
    """First versions of the units on the units topic, by id (redeliveries collapse)."""
    values = [v for _, _, v in consume(worker.bootstrap, worker.topic("units"), 10**6, seconds)]
    units = [MemoryUnit.model_validate_json(v) for v in values]
    return {u.id: u for u in units if u.decay.access_count == 0}


def units_on_topic(worker: WorkerProcess, expected: int) -> dict[str, MemoryUnit]:
    found: dict[str, MemoryUnit] = {}

    def enough() -> bool:
        found.update(read_units(worker))
        return len(found) >= expected

    worker.wait_until(enough, 120, f"{expected} distinct units on the units topic")
    return found


def assert_chains_verify(units: list[MemoryUnit]) -> None:
    by_scope: dict[str, list[MemoryUnit]] = defaultdict(list)
    for unit in units:
        by_scope[unit.scope].append(unit)
    for scope, members in by_scope.items():
        members.sort(key=lambda u: u.provenance.sequence)
        assert [u.provenance.sequence for u in members] == list(range(1, len(members) + 1)), scope
        entries = [
            ChainEntry(
                u.id, u.timestamps.event_ms, u.provenance.previous_link, u.provenance.chain_link
            )
            for u in members
        ]
        verdict = verify_chain(entries)
        assert verdict.ok, f"{scope}: {verdict}"


def test_e2e_sigkill_mid_stream_loses_and_duplicates_nothing(
    kafka: KafkaBroker, tmp_path: Path
) -> None:
    worker = make_worker(kafka.bootstrap, tmp_path, LUMINA_BATCH_SIZE="16", LUMINA_LOG_LEVEL="info")
    total = 240
    worker.create_topics()
    publish(worker.bootstrap, worker.topic("events"), events(0, total))
    worker.start()
    # Kill it while it is working through the stream: some units out, most not.
    worker.wait_until(
        lambda: len(consume(worker.bootstrap, worker.topic("units"), 40, 1)) >= 40,
        90,
        "the first units",
    )
    assert worker.proc is not None
    worker.proc.send_signal(signal.SIGKILL)
    worker.proc.wait()
    done_before = len(read_units(worker))
    assert done_before < total, "the worker finished before it was killed; nothing was tested"

    worker.start()
    try:
        worker.wait_until(
            lambda: worker.api.stats()["units"] == total,
            120,
            f"every event as a stored unit (sent {total})",
        )
        stored = worker.api.sql(
            "SELECT event_id, count() FROM memory_units FINAL GROUP BY event_id"
        )["rows"]
        assert sorted(r[0] for r in stored) == sorted(f"ev-{n}" for n in range(total))
        assert {r[1] for r in stored} == {1}
        rows = worker.api.sql(
            "SELECT scope, id, sequence, previous_link, chain_link, "
            "toUnixTimestamp64Milli(event_time) FROM memory_units FINAL ORDER BY scope, sequence"
        )["rows"]
    finally:
        worker.stop()
    by_scope: dict[str, list[ChainEntry]] = defaultdict(list)
    for scope, uid, sequence, previous, link, event_ms in rows:
        assert sequence == len(by_scope[scope]) + 1, f"{scope} has a gap or a fork"
        by_scope[scope].append(ChainEntry(uid, int(event_ms), previous, link))
    for scope, entries in by_scope.items():
        assert verify_chain(entries).ok, scope


def second_worker(first: WorkerProcess, home: Path) -> WorkerProcess:
    """Another worker in the same consumer group (same topics), with its own home and API."""
    port = free_port()
    env = {**first.env, "LUMINA_HOME": str(home), "LUMINA_API_PORT": str(port)}
    return dataclasses.replace(
        first, home=home, env=env, api=WorkerClient(f"http://127.0.0.1:{port}"), proc=None
    )


@pytest.mark.parametrize("workers", [2, 3])
def test_e2e_workers_share_partitions_and_state_follows_them(
    kafka: KafkaBroker, tmp_path: Path, workers: int
) -> None:
    first = make_worker(kafka.bootstrap, tmp_path, LUMINA_PARTITIONS="6")
    team = [first] + [second_worker(first, tmp_path / f"worker-{i}") for i in range(1, workers)]
    first.start()
    try:
        publish(first.bootstrap, first.topic("events"), events(0, 60))
        assert len(units_on_topic(first, 60)) == 60
        for worker in team[1:]:  # a rebalance each: partitions and their tables move
            worker.start()
        first.wait_until(
            lambda: (
                all(w.api.partitions() for w in team)
                and sum(len(w.api.partitions()) for w in team) == 6
            ),
            90,
            "the rebalance to give every worker partitions",
        )
        publish(first.bootstrap, first.topic("events"), events(60, 120))
        units = units_on_topic(first, 180)
        assert len(units) == 180  # every event exactly one unit, once deduplicated by id
        # Chains continue across the move: positions 1..n and links that verify, which
        # needs each scope's chain head to have followed its partition to the new owner.
        assert_chains_verify(list(units.values()))
        # Each worker's sink stores the units of its partitions; together, every unit.
        stored: dict[int, set[str]] = {}

        def all_stored() -> bool:
            for i, worker in enumerate(team):
                rows = worker.api.sql("SELECT id FROM memory_units FINAL")["rows"]
                stored[i] = {r[0] for r in rows}
            return set().union(*stored.values()) == set(units)

        first.wait_until(all_stored, 90, "every unit in some worker's store")
        assert all(stored.values()), f"a worker stored nothing: {[len(s) for s in stored.values()]}"
    finally:
        for worker in team:
            worker.stop()


@pytest.mark.parametrize(
    ("front", "back"), [("enrich", "state,reinforce,sink"), ("enrich,state,reinforce", "sink")]
)
def test_e2e_workers_running_different_agents_split_the_work(
    kafka: KafkaBroker, tmp_path: Path, front: str, back: str
) -> None:
    # As a deployment scales enrichment apart from its store writes: the front worker reads
    # the events, the back one stores. Agents reading the same topic run in one worker (a
    # consumer group gives each partition to one member); a worker that only sinks reads in
    # a group of its own. Each worker keeps only its own agents' tables.
    enricher = make_worker(kafka.bootstrap, tmp_path, LUMINA_WORKER_AGENTS=front)
    keeper = second_worker(enricher, tmp_path / "keeper")
    keeper.env["LUMINA_WORKER_AGENTS"] = back
    enricher.start()
    keeper.start()
    try:
        publish(enricher.bootstrap, enricher.topic("events"), events(0, 60))
        units = units_on_topic(enricher, 60)
        assert len(units) == 60
        assert_chains_verify(list(units.values()))
        assert sorted(enricher.api.partitions()) == [0, 1, 2]
        assert keeper.api.partitions() == []  # it does not read the events

        def stored(worker: WorkerProcess) -> set[str]:
            rows = worker.api.sql("SELECT id FROM memory_units FINAL")["rows"]
            return {r[0] for r in rows}

        keeper.wait_until(lambda: stored(keeper) == set(units), 90, "every unit in the store")
        assert stored(enricher) == set()  # no sink there
        # The state agent's activations reached the store, from whichever worker ran it.
        keeper.wait_until(
            lambda: keeper.api.sql("SELECT count() FROM active_entities")["rows"][0][0] > 0,
            60,
            "entity activations in the store",
        )

        def local_tables(worker: WorkerProcess) -> set[str]:
            return {db.name.rsplit("-", 1)[0] for db in (worker.home / "worker").rglob("*.db")}

        def tables_of(agents: str) -> set[str]:
            return {TABLES[f][0] for agent in agents.split(",") for f in AGENT_TABLES[agent]}

        assert local_tables(enricher) == tables_of(front)
        assert local_tables(keeper) == tables_of(back)
    finally:
        enricher.stop()
        keeper.stop()


def test_e2e_restart_with_a_backlog_and_no_local_state_processes_everything(
    kafka: KafkaBroker, tmp_path: Path
) -> None:
    # The case that stalled a worker before `lumina.streams.delivery`: tables must be
    # restored from their changelogs while events wait on the input topic.
    worker = make_worker(kafka.bootstrap, tmp_path, LUMINA_BATCH_SIZE="16")
    worker.create_topics()
    publish(worker.bootstrap, worker.topic("events"), events(0, 60))
    worker.start()
    try:
        worker.wait_until(lambda: worker.api.stats()["units"] == 60, 90, "the first 60 units")
    finally:
        assert worker.proc is not None
        worker.proc.send_signal(signal.SIGKILL)
        worker.proc.wait()
    shutil.rmtree(worker.home / "worker")  # the local RocksDB state is gone
    publish(worker.bootstrap, worker.topic("events"), events(60, 100))
    worker.start()
    try:
        worker.wait_until(lambda: worker.api.stats()["units"] == 160, 90, "all 160 units")
        rows = worker.api.sql("SELECT max(sequence), count() FROM memory_units FINAL")["rows"]
        assert rows[0][1] == 160 and rows[0][0] <= 160
    finally:
        worker.stop()
