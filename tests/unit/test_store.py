"""The store on real chDB: migrations, idempotent inserts, scoped search, read-only SQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from lumina.config import Settings
from lumina.enrich import enrich
from lumina.enrich.embed import StaticEmbedder
from lumina.errors import QueryRefused, ReasonCode
from lumina.schemas import DeadLetter, KafkaOrigin, MemoryUnit, TextEvent
from lumina.store import MemoryStore, open_store
from lumina.store.search import MemorySearch

TEXTS = [
    ("alice", "I booked the flight to Munich for Tuesday morning."),
    ("bob", "The Berlin cluster latency report is ready."),
    ("carol", "I moved the staging database to Frankfurt because the hosts failed."),
    ("alice", "Dinner with the Globex team is at the harbour restaurant."),
]


@pytest.fixture
def settings(lumina_env: dict[str, str]) -> Settings:
    return Settings()


@pytest.fixture
def store(tmp_path: Path) -> MemoryStore:
    store = open_store(f"chdb://{tmp_path / 'store'}")
    yield store
    store.close()


def units_for(scope: str, settings: Settings) -> list[MemoryUnit]:
    events = [
        TextEvent(scope=scope, author=a, text=t, ts=1_780_000_000_000 + i, event_id=f"{scope}-{i}")
        for i, (a, t) in enumerate(TEXTS)
    ]
    return enrich(events, settings)


def test_store_migrations_are_idempotent(store: MemoryStore) -> None:
    assert store.migrate() == []
    tables = {r[0] for r in store.query_rows("SHOW TABLES")}
    assert {"memory_units", "dead_letters", "schema_migrations"} <= tables


def test_store_redelivery_leaves_results_unchanged(store: MemoryStore, settings: Settings) -> None:
    units = units_for("team-a", settings)
    embedder = StaticEmbedder.from_models_dir(settings.models_dir)
    search = MemorySearch(store, embedder)
    store.insert_units(units)
    first = search.search("flight to Munich", "team-a", k=10)
    store.insert_units(units)  # the same batch again, as after a crash before commit
    store.insert_units(units[:2])
    second = search.search("flight to Munich", "team-a", k=10)
    assert [h.id for h in first] == [h.id for h in second]
    assert len(second) == len(TEXTS)
    assert second[0].text.startswith("I booked the flight to Munich")
    assert search.stats()["units"] == len(TEXTS)


@pytest.mark.parametrize(
    "scope", ["team-b' OR '1'='1", "team-b\\' OR 1=1 --", "", "x" * 129, "team-a%"]
)
def test_store_search_refuses_adversarial_scopes(
    store: MemoryStore, settings: Settings, scope: str
) -> None:
    store.insert_units(units_for("team-a", settings))
    search = MemorySearch(store, StaticEmbedder.from_models_dir(settings.models_dir))
    with pytest.raises(QueryRefused):
        search.search("Munich", scope)


def test_store_search_stays_in_its_scope(store: MemoryStore, settings: Settings) -> None:
    store.insert_units(units_for("team-a", settings) + units_for("team-b", settings))
    search = MemorySearch(store, StaticEmbedder.from_models_dir(settings.models_dir))
    hits = search.search("Munich", "team-b", k=50)
    team_b_ids = {u.id for u in units_for("team-b", settings)}
    assert hits and {h.id for h in hits} <= team_b_ids


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO memory_units (scope, id) VALUES ('a', 'b')",
        "ALTER TABLE memory_units DELETE WHERE 1",
        "DROP TABLE dead_letters",
        "CREATE TABLE t (a Int8) ENGINE = Memory",
        "SET readonly = 0",
    ],
)
def test_store_sql_refuses_writes_ddl_and_settings(store: MemoryStore, statement: str) -> None:
    with pytest.raises(QueryRefused):
        store.read_only_sql(statement)
    assert store.read_only_sql("SELECT count() FROM memory_units")[1] == [(0,)]


@pytest.mark.parametrize(
    ("statement", "said"),
    [("SELECT * FROM no_such_table", "no_such_table"), ("SELEC 1", "Syntax error")],
)
def test_store_sql_reports_a_bad_query_as_itself(
    store: MemoryStore, statement: str, said: str
) -> None:
    """ClickHouse quotes the query, `SETTINGS readonly = 1` included, in every error: a typo
    must not read as a refused write. It is the query's fault, not the store's."""
    from lumina.errors import QueryInvalid

    with pytest.raises(QueryInvalid) as caught:
        store.read_only_sql(statement)
    assert said in str(caught.value)


def test_store_dead_letters_round_trip(store: MemoryStore) -> None:
    letter = DeadLetter.from_raw(b"\xff", reason=ReasonCode.INVALID_UTF8, message="m", time_ms=5)
    store.insert_dead_letters([letter, letter])
    rows = store.query_rows("SELECT reason, original_b64 FROM dead_letters FINAL")
    assert rows == [("invalid_utf8", letter.original_b64)]


def test_store_dead_letters_keep_every_field(store: MemoryStore) -> None:
    origin = KafkaOrigin(topic="lumina.events", partition=3, offset=17)
    letter = DeadLetter.from_raw(
        b'{"scope": "s"}',
        reason=ReasonCode.STAGE_ERROR,
        message="boom",
        time_ms=1_700_000_000_123,
        key=b"s",
        origin=origin,
        stage="attribution",
    )
    store.insert_dead_letters([letter])
    rows = store.query_rows(
        "SELECT toUnixTimestamp64Milli(time), reason, message, stage, original_b64,"
        " original_key_b64, origin_topic, origin_partition, origin_offset FROM dead_letters"
    )
    assert rows == [
        (
            1_700_000_000_123,
            "stage_error",
            "boom",
            "attribution",
            letter.original_b64,
            letter.original_key_b64,
            "lumina.events",
            3,
            17,
        )
    ]


def test_store_errors_never_show_the_password() -> None:
    from lumina.errors import StoreError

    dsn = "http://lumina:s3cr3t-pw@127.0.0.1:1/db"
    with pytest.raises(StoreError) as caught:
        open_store(dsn)
    assert "s3cr3t-pw" not in str(caught.value) and "lumina:***@127.0.0.1" in str(caught.value)


def test_store_units_come_back_as_written(store: MemoryStore, settings: Settings) -> None:
    units = units_for("rt", settings)
    store.insert_units(units)
    back = store.units_by_id("rt", [u.id for u in units] + ["no-such-id"])
    assert sorted(back) == sorted(u.id for u in units)
    for unit in units:  # the origin's broker timestamp is the one thing not stored
        assert back[unit.id] == unit
    assert store.units_by_id("other-scope", [units[0].id]) == {}


def test_store_units_with_empty_lists_and_maps_come_back_as_written(
    store: MemoryStore, settings: Settings
) -> None:
    # The list and map columns are built flat, each unit's share marked by offsets: a unit
    # with none of them between units with several must neither lose nor borrow any.
    units = units_for("rt", settings)
    bare = enrich(
        [TextEvent(scope="rt", text="and so it is.", ts=1_780_000_000_100, event_id="rt-bare")],
        settings,
    )[0]
    assert not bare.entities and not bare.attribution and not bare.shape.weights
    batch = [units[0], bare, *units[1:]]
    store.insert_units(batch)
    back = store.units_by_id("rt", [u.id for u in batch])
    assert [back[u.id] for u in batch] == batch


def test_store_insert_leaves_the_indexes_to_merges_unless_told_otherwise(
    store: MemoryStore, settings: Settings
) -> None:
    # Building the HNSW graph and the text index at insert cost the sink most of its time;
    # the settings that leave them to merges must reach chDB on the embedded insert path.
    from lumina.store.arrow import unit_arrow_table

    store.command("SYSTEM STOP MERGES memory_units")
    rows = unit_arrow_table(units_for("ix", settings))
    store.insert_unit_table(rows)
    store.insert_unit_table(rows, left_to_merges="")
    parts = store.query_rows(
        "SELECT secondary_indices_compressed_bytes FROM system.parts "
        "WHERE database = currentDatabase() AND table = 'memory_units' AND active "
        "ORDER BY min_block_number"
    )
    assert [int(bytes_) > 0 for (bytes_,) in parts] == [False, True]


def test_store_reinforced_version_replaces_the_original_even_if_redelivered_later(
    store: MemoryStore, settings: Settings
) -> None:
    from lumina.state.reinforcement import DecayState, reinforced_unit

    unit = units_for("rv", settings)[0]
    stronger = reinforced_unit(unit, DecayState(unit.decay.half_life_s * 2, 1_790_000_000_000, 1))
    redelivered = unit.model_copy(
        update={"timestamps": unit.timestamps.model_copy(update={"ingest_ms": 1_799_000_000_000})}
    )
    store.insert_units([stronger])
    store.insert_units([redelivered])  # a re-enriched copy of the original, ingested later
    (kept,) = store.units_by_id("rv", [unit.id]).values()
    assert kept.decay.access_count == 1 and kept.decay.half_life_s == unit.decay.half_life_s * 2
