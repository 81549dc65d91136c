"""End to end on real Apache Kafka and real chDB: events in, units and dead letters out."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from lumina.brokers.base import tail_of
from lumina.config import Settings
from lumina.core.provenance import ChainEntry, verify_chain
from lumina.enrich import enrich
from lumina.errors import ReasonCode
from lumina.schemas import DeadLetter, MemoryUnit, TextEvent
from tests.integration.conftest import WorkerProcess, consume, publish

pytestmark = [pytest.mark.kafka, pytest.mark.e2e]

SCOPE = "e2e.team-1"
OTHER_SCOPE = "e2e.team-2"


def conversation(scope: str) -> list[tuple[bytes, bytes]]:
    raw = resources.files("lumina.data").joinpath("demo_conversation.jsonl").read_text()
    events = []
    for line in raw.splitlines()[:30]:
        event = json.loads(line)
        event["scope"] = scope
        events.append((scope.encode(), json.dumps(event).encode()))
    return events


INVALID: dict[ReasonCode, bytes] = {
    ReasonCode.INVALID_UTF8: b"\xff\xfe\xfa not utf-8",
    ReasonCode.INVALID_JSON: b'{"scope": "e2e.team-1", "text": ',
    ReasonCode.SCHEMA_VIOLATION: b'{"scope": "bad scope with spaces", "text": "hello"}',
    ReasonCode.EMPTY_TEXT: b'{"scope": "e2e.team-1", "text": "  \\t "}',
    ReasonCode.TEXT_TOO_LARGE: json.dumps({"scope": "e2e.team-1", "text": "word " * 500}).encode(),
}


def test_e2e_events_become_units_and_dead_letters(kafka_worker: WorkerProcess) -> None:
    worker = kafka_worker
    valid = conversation(SCOPE) + conversation(OTHER_SCOPE)[:5]
    invalid = [(b"junk", value) for value in INVALID.values()]
    publish(worker.bootstrap, worker.topic("events"), valid[:10] + invalid + valid[10:])

    # Units on the topic carry all 13 components.
    records = consume(worker.bootstrap, worker.topic("units"), len(valid))
    units = [MemoryUnit.model_validate_json(value) for _, _, value in records]
    # The worker's roles are the ones the same events get in-process (the fast profile,
    # the worker's default): the stream adds nothing to and loses nothing of enrichment.
    events = [TextEvent.model_validate_json(value) for _, value in valid]
    in_process = {u.text: u.roles for u in enrich(events, Settings(profile="fast"))}
    assert {u.text: u.roles for u in units} == in_process
    assert len(units) == len(valid), f"{len(units)} units of {len(valid)}:\n{tail_of(worker.log)}"
    assert len({u.id for u in units}) == len(valid)
    for unit in units:
        assert len(unit.id) == 64 and len(unit.content_hash) == 64
        assert unit.provenance.origin is not None
        assert unit.provenance.origin.topic == worker.topic("events")
        assert unit.text and unit.timestamps.event_ms > 0
        assert 0 <= unit.salience <= 1 and unit.attribution
        assert -1 <= unit.affect.valence <= 1
        assert len(unit.embedding) > 0 and len(unit.shape.vector) == unit.shape.dim == 1024
        assert unit.decay.half_life_s > 0 and unit.decay.strength == 1.0
        assert unit.stages
    assert any(unit.entities for unit in units)

    # Each scope's chain verifies in partition order.
    for scope in (SCOPE, OTHER_SCOPE):
        ordered = sorted(
            (rec for rec, unit in zip(records, units, strict=True) if unit.scope == scope),
            key=lambda rec: rec[1],
        )
        entries = []
        for _, _, value in ordered:
            u = MemoryUnit.model_validate_json(value)
            entries.append(
                ChainEntry(
                    u.id, u.timestamps.event_ms, u.provenance.previous_link, u.provenance.chain_link
                )
            )
        assert verify_chain(entries).ok

    # One dead letter per invalid class, with the original bytes.
    letters = [
        DeadLetter.model_validate_json(v)
        for _, _, v in consume(worker.bootstrap, worker.topic("dead-letter"), len(INVALID))
    ]
    assert {d.reason: d.original for d in letters} == INVALID

    # The store holds them, search is confined to its scope.
    worker.wait_until(
        lambda: worker.api.stats() == {"units": len(valid), "dead_letters": len(INVALID)},
        60,
        "the sink to store every unit and dead letter",
    )
    hits = worker.api.search("who is flying to Lisbon?", SCOPE, k=5)
    assert hits and "flying to Lisbon" in hits[0]["text"]
    other_ids = {u.id for u in units if u.scope == OTHER_SCOPE}
    assert not {h["id"] for h in worker.api.search("Lisbon", SCOPE, k=50)} & other_ids

    # Re-sending the same events adds no rows to query results. A marker per scope, sent
    # after them on the same partition, says when the sink has written every copy. (Search
    # hits above were reinforced meanwhile: those units have newer versions, which the
    # copies must not replace, and they do not add rows either.)
    markers = [
        (scope.encode(), json.dumps({"scope": scope, "text": f"marker {scope}"}).encode())
        for scope in (SCOPE, OTHER_SCOPE)
    ]
    publish(worker.bootstrap, worker.topic("events"), valid + markers)

    def count(where: str) -> int:
        return int(
            worker.api.sql(f"SELECT count() FROM memory_units FINAL WHERE {where}")["rows"][0][0]
        )

    worker.wait_until(lambda: count("text LIKE 'marker %'") == 2, 60, "the markers")
    assert worker.api.stats()["units"] == len(valid) + 2
    worker.wait_until(lambda: count("access_count > 0") > 0, 60, "reinforced search hits")
    again = [h for h in worker.api.search("Lisbon", SCOPE, k=50) if "marker" not in h["text"]]
    assert len({h["id"] for h in again}) == len(again)
    assert {h["id"] for h in again} <= {u.id for u in units}


def test_e2e_worker_keeps_its_start_up_heap_out_of_garbage_collection(
    kafka_worker: WorkerProcess,
) -> None:
    """The models and Faust's services, frozen once start-up is over, so a full collection
    no longer traverses them (lumina.heap); the worker reports what its collector costs."""
    from lumina.heap import MIDDLE_THRESHOLD, OLD_THRESHOLD, YOUNG_THRESHOLD

    process = kafka_worker.api.process()
    assert process["gc_frozen"] > 50_000  # a fast-profile worker: ~140,000
    assert process["gc_thresholds"] == [YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD]
    assert sum(process["gc_collections"]) > 0  # the clock is on from the process's start
    assert 0 < sum(process["gc_seconds"]) < process["uptime_s"]


def test_e2e_sql_is_read_only(kafka_worker: WorkerProcess) -> None:
    from lumina.errors import QueryRefused

    for statement in (
        "INSERT INTO dead_letters (reason) VALUES ('x')",
        "DROP TABLE memory_units",
        "SET max_threads = 1",
    ):
        with pytest.raises(QueryRefused):
            kafka_worker.api.sql(statement)
    assert kafka_worker.api.sql("SELECT 1 AS one")["rows"] == [[1]]


def test_e2e_sql_reports_a_bad_query_as_the_query_fault(kafka_worker: WorkerProcess) -> None:
    """HTTP 400, kind "query": what a typo is, as ClickHouse's own HTTP interface says."""
    from lumina.errors import QueryInvalid

    with pytest.raises(QueryInvalid, match="no_such_table"):
        kafka_worker.api.sql("SELECT * FROM no_such_table")
