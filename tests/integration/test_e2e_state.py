"""The stream's memory on real Apache Kafka: consolidation, reinforcement, activations,
timelines, and table state that survives a restart (from RocksDB, then from the changelog)."""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from lumina.brokers import KafkaBroker, TansuBroker
from lumina.config import Settings
from lumina.errors import ConfigError
from lumina.schemas import MemoryUnit
from lumina.schemas.state import Consolidation, EntityActivation, TimelineChange
from lumina.streams.admin import ensure_topics
from tests.integration.conftest import WorkerProcess, consume, make_worker, publish

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

SCOPE = "state.team-1"
T0 = 1_780_000_000_000
HOUR_MS = 3_600_000


def event(event_id: str, text: str, ts: int, author: str = "Ann") -> tuple[bytes, bytes]:
    body = {"scope": SCOPE, "text": text, "author": author, "event_id": event_id, "ts": ts}
    return SCOPE.encode(), json.dumps(body).encode()


def records_until(
    worker: WorkerProcess, topic: str, done: Callable[[list[bytes]], bool], what: str
) -> list[bytes]:
    found: list[bytes] = []

    def check() -> bool:
        found[:] = [v for _, _, v in consume(worker.bootstrap, worker.topic(topic), 10_000, 2)]
        return done(found)

    worker.wait_until(check, 60, what)
    return found


def consolidations(worker: WorkerProcess) -> list[Consolidation]:
    """The consolidation records on the topic, once there is at least one."""
    values = records_until(worker, "consolidations", bool, "a consolidation record")
    return [Consolidation.model_validate_json(v) for v in values]


def activations_of(values: list[bytes], entity: str) -> list[EntityActivation]:
    out = []
    for value in values:
        record = json.loads(value)
        if record["kind"] == "entity" and record["entity"] == entity:
            out.append(EntityActivation.model_validate(record))
    return out


def test_e2e_state_duplicate_is_consolidated_and_reinforces_the_kept_unit(
    kafka_worker: WorkerProcess,
) -> None:
    worker = kafka_worker
    publish(
        worker.bootstrap,
        worker.topic("events"),
        [
            event("e1", "Dinner with Dana in Porto on Friday.", T0),
            event("e2", "I moved to Lisbon last spring.", T0 + HOUR_MS),
            event("e3", "Dinner with Dana in Porto on Friday.", T0 + 2 * HOUR_MS),  # duplicate
        ],
    )
    (record,) = consolidations(worker)
    assert (record.kind, record.similarity, record.duplicates) == ("exact", 1.0, 1)

    # Two units, not three; the kept one comes back as a reinforced version.
    values = records_until(worker, "units", lambda v: len(v) >= 3, "the reinforced version")
    units = [MemoryUnit.model_validate_json(v) for v in values]
    assert len({u.id for u in units}) == 2
    (reinforced,) = [u for u in units if u.decay.access_count == 1]
    original = next(u for u in units if u.id == reinforced.id and u.decay.access_count == 0)
    assert reinforced.id == record.kept_id
    assert reinforced.decay.half_life_s == pytest.approx(original.decay.half_life_s * 1.5)
    assert reinforced.timestamps.last_access_ms == T0 + 2 * HOUR_MS

    # The store keeps the reinforced version, and SQL sees two units.
    worker.wait_until(
        lambda: (
            worker.api.sql(
                "SELECT access_count FROM memory_units FINAL "
                f"WHERE scope = '{SCOPE}' AND id = '{record.kept_id}'"
            )["rows"]
            == [[1]]
        ),
        60,
        "the reinforced version in the store",
    )
    assert worker.api.stats()["units"] == 2

    # Activations and the role timeline were published; the duplicate added no mention.
    values = records_until(
        worker, "activations", lambda v: bool(activations_of(v, "lisbon")), "activations"
    )
    (porto,) = activations_of(values, "porto")[-1:]
    assert porto.mentions == 1 and porto.event_ms == T0
    timeline = [
        TimelineChange.model_validate_json(v)
        for v in records_until(worker, "timelines", lambda v: len(v) >= 3, "timeline changes")
    ]
    where = [c for c in timeline if c.role == "where"]
    assert [c.value for c in where] == ["Porto", "Lisbon"]
    assert where[1].previous_value == "Porto" and where[1].previous_valid_to_ms == T0 + HOUR_MS

    # The store holds the same memory, one SQL query away.
    def rows(query: str) -> list[list[object]]:
        return list(worker.api.sql(query)["rows"])

    worker.wait_until(
        lambda: (
            rows(
                "SELECT value, valid_to IS NULL FROM role_intervals "
                f"WHERE scope = '{SCOPE}' AND role = 'where' ORDER BY valid_from"
            )
            == [["Porto", 0], ["Lisbon", 1]]
        ),
        60,
        "role intervals in the store",
    )
    assert rows("SELECT kind, kept_id, duplicates FROM consolidations FINAL") == [
        ["exact", record.kept_id, 1]
    ]
    assert rows(
        f"SELECT mentions FROM active_entities WHERE scope = '{SCOPE}' AND entity = 'porto'"
    ) == [[1]]


def test_e2e_state_search_hits_are_reinforced(kafka_worker: WorkerProcess) -> None:
    worker = kafka_worker
    publish(
        worker.bootstrap,
        worker.topic("events"),
        [event("s1", "The quarterly report is due on Monday.", T0)],
    )
    worker.wait_until(lambda: worker.api.stats()["units"] == 1, 60, "the unit in the store")
    (hit,) = worker.api.search("quarterly report", SCOPE, k=5)
    worker.wait_until(
        lambda: (
            worker.api.sql(f"SELECT access_count FROM memory_units FINAL WHERE id = '{hit['id']}'")[
                "rows"
            ]
            == [[1]]
        ),
        60,
        "the search hit's reinforced version",
    )
    # Recall is retrieval too: read a role back out of the stored shape, recall by it.
    (when, *_) = worker.api.unbind(hit["id"], "when", SCOPE)
    (recalled,) = worker.api.recall({"when": when["filler"]}, SCOPE, k=1)
    assert recalled["id"] == hit["id"]
    worker.wait_until(
        lambda: (
            worker.api.sql(f"SELECT access_count FROM memory_units FINAL WHERE id = '{hit['id']}'")[
                "rows"
            ]
            == [[2]]
        ),
        60,
        "the recalled unit reinforced again",
    )


def test_e2e_state_survives_restarts_from_rocksdb_and_from_the_changelog(
    kafka: KafkaBroker, tmp_path: Path
) -> None:
    worker = make_worker(kafka.bootstrap, tmp_path)
    mentions = ["We met Dana in Porto.", "Back in Porto again with Dana.", "Dinner in Porto."]

    def mentions_of_porto(expected: int) -> EntityActivation:
        values = records_until(
            worker,
            "activations",
            lambda v: any(a.mentions == expected for a in activations_of(v, "porto")),
            f"porto's activation with {expected} mentions",
        )
        return next(a for a in activations_of(values, "porto") if a.mentions == expected)

    worker.start()
    try:
        publish(worker.bootstrap, worker.topic("events"), [event("r1", mentions[0], T0)])
        first = mentions_of_porto(1)
    finally:
        worker.stop()

    worker.start()  # same local RocksDB state
    try:
        publish(worker.bootstrap, worker.topic("events"), [event("r2", mentions[1], T0 + HOUR_MS)])
        second = mentions_of_porto(2)
    finally:
        worker.stop()
    assert second.activation > first.activation

    # Lose the local state: the tables come back from their changelog topics.
    shutil.rmtree(worker.home / "worker")
    worker.start()
    try:
        publish(
            worker.bootstrap, worker.topic("events"), [event("r3", mentions[2], T0 + 2 * HOUR_MS)]
        )
        third = mentions_of_porto(3)
    finally:
        worker.stop()
    assert third.activation > second.activation * 0.9  # decayed one hour of a day's half-life
    # The restarted worker still knows the content it has seen: r4 repeats r1's text.
    worker.start()
    try:
        publish(
            worker.bootstrap, worker.topic("events"), [event("r4", mentions[0], T0 + 3 * HOUR_MS)]
        )
        records_until(
            worker,
            "consolidations",
            lambda v: any(Consolidation.model_validate_json(r).kind == "exact" for r in v),
            "the exact duplicate of r1",
        )
    finally:
        worker.stop()


def test_e2e_topics_are_created_once_and_a_partition_mismatch_is_refused(
    kafka: KafkaBroker, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path, topic_prefix=f"t{uuid.uuid4().hex[:10]}", partitions=3)
    ensure_topics(kafka.bootstrap, settings)
    ensure_topics(kafka.bootstrap, settings)  # existing topics with the right count: fine
    with pytest.raises(ConfigError, match="set LUMINA_PARTITIONS=3"):
        ensure_topics(kafka.bootstrap, settings.model_copy(update={"partitions": 2}))


def test_e2e_state_restart_on_the_embedded_broker(tansu: TansuBroker, tmp_path: Path) -> None:
    # Tansu reports wrong high watermarks for multi-record batches (DESIGN.md), which table
    # recovery reads up to. A worker restarted against the same running broker keeps its
    # local RocksDB state, so it needs no changelog read and gets its state back.
    worker = make_worker(tansu.bootstrap, tmp_path, LUMINA_PARTITIONS="4")
    texts = ["We met Dana in Porto.", "Back in Porto again with Dana."]

    def porto_mentions(expected: int) -> None:
        records_until(
            worker,
            "activations",
            lambda v: any(a.mentions == expected for a in activations_of(v, "porto")),
            f"porto's activation with {expected} mentions",
        )

    for n, text in enumerate(texts, start=1):
        worker.start()
        try:
            publish(worker.bootstrap, worker.topic("events"), [event(f"t{n}", text, T0 + n)])
            porto_mentions(n)
        finally:
            worker.stop()


def test_e2e_state_near_duplicate_points_at_the_kept_unit(kafka_worker: WorkerProcess) -> None:
    worker = kafka_worker
    publish(
        worker.bootstrap,
        worker.topic("events"),
        [
            event("n1", "Dinner with Dana in Porto on Friday.", T0),
            event("n2", "dinner with dana in porto friday", T0 + HOUR_MS),
        ],
    )
    (record,) = consolidations(worker)
    assert record.kind == "near" and record.similarity >= 0.92
    # Both are units (the absorbed one stays queryable); the kept one was reinforced.
    worker.wait_until(
        lambda: (
            worker.api.sql(
                f"SELECT event_id, access_count FROM memory_units FINAL WHERE scope = '{SCOPE}' "
                "ORDER BY event_id"
            )["rows"]
            == [["n1", 1], ["n2", 0]]
        ),
        60,
        "both units, the kept one reinforced",
    )
    kept = worker.api.sql("SELECT id FROM memory_units FINAL WHERE event_id = 'n1'")["rows"]
    assert kept == [[record.kept_id]]
