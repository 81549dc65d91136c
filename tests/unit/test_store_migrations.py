"""Migrations on real chDB: idempotent, upgrading a store that holds units, one dimension."""

from __future__ import annotations

from pathlib import Path

import pytest

from lumina.config import Settings
from lumina.enrich import enrich
from lumina.errors import ConfigError
from lumina.schemas import TextEvent
from lumina.store import MemoryStore, open_store
from lumina.store.migrate import (
    DEFAULT_EMBEDDING_DIM,
    LEDGER_DDL,
    _statements,
    migration_files,
    render,
)


def test_migrations_rerun_as_a_no_op_and_create_every_table_and_view(tmp_path: Path) -> None:
    store = open_store(f"chdb://{tmp_path / 's'}")
    assert store.migrate() == []
    names = {r[0] for r in store.query_rows("SHOW TABLES")}
    assert {
        "memory_units",
        "dead_letters",
        "entity_activations",
        "activity_windows",
        "consolidations",
        "role_timelines",
        "units_per_day",
        "top_entities",
        "unit_strength",
        "active_entities",
        "role_intervals",
        "dead_letters_per_hour",
    } <= names
    assert store.embedding_dim() == DEFAULT_EMBEDDING_DIM
    partition_key = store.query_rows(
        "SELECT partition_key FROM system.tables WHERE name = 'memory_units' "
        "AND database = currentDatabase()"
    )[0][0]
    assert partition_key == "toYYYYMM(event_time)"
    store.close()


def store_before(dsn: str, first_missing: int) -> MemoryStore:
    """A store with the migrations before `first_missing` applied, as an older Lumina left it."""
    old = open_store(dsn, migrate=False)
    old.command(LEDGER_DDL)
    for version, name, sql in migration_files():
        if version < first_missing:
            for statement in _statements(render(sql, DEFAULT_EMBEDDING_DIM)):
                old.command(statement)
            old.command(
                f"INSERT INTO schema_migrations (version, name) VALUES ({version}, '{name}')"
            )
    return old


def test_an_old_store_keeps_its_units_through_the_rebuild(
    tmp_path: Path, lumina_env: dict[str, str]
) -> None:
    """A store written before migration 0004 (no index, no partitions) keeps every unit."""
    dsn = f"chdb://{tmp_path / 'old'}"
    old = store_before(dsn, 4)
    events = [TextEvent(scope="old", text=f"Note {i} about the Lisbon office.") for i in range(5)]
    units = enrich(events, Settings())
    old.insert_units(units)
    old.close()

    store = open_store(dsn, embedding_dim=DEFAULT_EMBEDDING_DIM)
    back = store.units_by_id("old", [u.id for u in units])
    assert sorted(back) == sorted(u.id for u in units)
    assert store.query_rows("SELECT count() FROM memory_units WHERE has(terms, 'lisbon')") == [(5,)]
    store.close()


def test_units_stored_before_the_embed_version_column_are_found_by_dense_search(
    tmp_path: Path, lumina_env: dict[str, str]
) -> None:
    """Migration 0008 adds `embed_version`, which dense search filters on. Parts written
    before it are found before their next merge writes the column into them, and after."""
    from lumina.store.retrieval import Filters, dense_candidates

    dsn = f"chdb://{tmp_path / 'old'}"
    old = store_before(dsn, 8)
    units = enrich(
        [TextEvent(scope="old", text=f"Note {i} on the Porto move.") for i in range(4)], Settings()
    )
    old.insert_units(units)
    old.migrate()

    def found() -> list[str]:
        hits = dense_candidates(
            old,
            "old",
            units[2].embedding.tolist(),
            4,
            Filters(),
            embed_version=units[2].stages["embed"],
        )
        return [unit_id for unit_id, _ in hits]

    assert found()[0] == units[2].id and sorted(found()) == sorted(u.id for u in units)
    old.command("OPTIMIZE TABLE memory_units FINAL")  # the merge writes the column
    assert found()[0] == units[2].id and sorted(found()) == sorted(u.id for u in units)
    assert old.query_rows("SELECT DISTINCT embed_version FROM memory_units") == [
        (units[0].stages["embed"],)
    ]
    old.close()


def test_a_store_refuses_vectors_of_another_dimension(tmp_path: Path) -> None:
    dsn = f"chdb://{tmp_path / 's'}"
    open_store(dsn, embedding_dim=256).close()
    with pytest.raises(ConfigError, match=r"256-dimension vectors.*makes 384"):
        open_store(dsn, embedding_dim=384)


def test_render_fills_the_vector_dimension() -> None:
    assert "'cosineDistance', 384)" in render(migration_files()[3][2], 384)
    with pytest.raises(ValueError):
        render("x", 0)


def test_a_sink_sized_batch_is_written_as_one_compact_part(
    tmp_path: Path, lumina_env: dict[str, str]
) -> None:
    """2,500 units are ~13 MB, over ClickHouse's 10 MB for a Wide part (a file per column):
    the store keeps a batch this size in one file (migration 0007), and reads it back."""
    store = open_store(f"chdb://{tmp_path / 's'}")
    store.command("SYSTEM STOP MERGES memory_units")
    events = [
        TextEvent(scope="big", text=f"Note {i}: Dana moved the Lisbon office to Porto.")
        for i in range(2500)
    ]
    units = enrich(events, Settings())
    store.insert_units(units)
    parts = store.query_rows(
        "SELECT part_type, rows, data_uncompressed_bytes FROM system.parts "
        "WHERE active AND database = currentDatabase() AND table = 'memory_units'"
    )
    assert len(parts) == 1
    part_type, rows, size = parts[0]
    assert (part_type, rows) == ("Compact", 2500) and size > 10 * 2**20
    back = store.units_by_id("big", [units[0].id, units[-1].id])
    assert back[units[-1].id].embedding.tolist() == units[-1].embedding.tolist()
    store.close()
