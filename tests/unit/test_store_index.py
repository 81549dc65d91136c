"""The HNSW graph and the text index are left to merges: a unit is found by dense and by
lexical search as soon as it is inserted, and the merge builds both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lumina.config import Settings
from lumina.enrich import enrich
from lumina.schemas import MemoryUnit, TextEvent
from lumina.store import MemoryStore, open_store
from lumina.store.retrieval import Filters, dense_candidates, lexical_candidates

TEXTS = [
    "I booked the flight to Munich for Tuesday morning.",
    "The Berlin cluster latency report is ready.",
    "I moved the staging database to Frankfurt because the hosts failed.",
    "Dinner with the Globex team is at the harbour restaurant.",
    "My sister adopted two cats from the shelter last weekend.",
    "The quarterly budget review moved to Thursday afternoon.",
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MemoryStore]:
    store = open_store(f"chdb://{tmp_path / 'store'}")
    yield store
    store.close()


def units(settings: Settings, texts: list[str], first: int) -> list[MemoryUnit]:
    events = [
        TextEvent(scope="idx", author="ann", text=t, ts=1_780_000_000_000 + first + i)
        for i, t in enumerate(texts)
    ]
    return enrich(events, settings)


def has_index(part: Path, index: str) -> bool:
    """A part's index is a file of its own, or (when small) a member of the packed file."""
    name = f"skp_idx_{index}.idx"
    packed = part / "skp_idx.packed"
    return (part / name).is_file() or (packed.is_file() and name.encode() in packed.read_bytes())


def index_by_part(store: MemoryStore, index: str) -> list[bool]:
    """Whether each active part of memory_units holds `index`, oldest part first."""
    rows = store.query_rows(
        "SELECT path FROM system.parts WHERE database = currentDatabase() "
        "AND table = 'memory_units' AND active ORDER BY min_block_number"
    )
    return [has_index(Path(path), index) for (path,) in rows]


Batches = tuple[list[MemoryUnit], list[MemoryUnit]]


@pytest.fixture
def old_and_fresh(lumina_env: dict[str, str]) -> Batches:
    """Two batches of a scope: one to be stored first, one inserted after it."""
    settings = Settings()
    return units(settings, TEXTS[:3], 0), units(settings, TEXTS[3:], 10)


def test_fresh_units_are_found_before_their_graph_is_built(
    store: MemoryStore, old_and_fresh: Batches
) -> None:
    old, fresh = old_and_fresh
    store.insert_units(old)
    store.command(
        "ALTER TABLE memory_units MATERIALIZE INDEX embedding_hnsw SETTINGS mutations_sync = 2"
    )
    store.insert_units(fresh)
    # One part searched through its graph, one (just inserted) without a graph.
    assert index_by_part(store, "embedding_hnsw") == [True, False]
    embed = fresh[0].stages["embed"]
    for unit in old + fresh:
        found = dense_candidates(
            store, "idx", unit.embedding.tolist(), 1, Filters(), embed_version=embed
        )
        assert [unit_id for unit_id, _ in found] == [unit.id]
        assert found[0][1] == pytest.approx(1.0, abs=1e-3)
    everything = dense_candidates(
        store, "idx", fresh[0].embedding.tolist(), 10, Filters(), embed_version=embed
    )
    assert {unit_id for unit_id, _ in everything} == {u.id for u in old + fresh}


def test_fresh_units_are_found_by_their_words_before_the_text_index_is_built(
    store: MemoryStore, old_and_fresh: Batches
) -> None:
    old, fresh = old_and_fresh
    store.insert_units(old)
    store.command("SYSTEM STOP MERGES memory_units")
    store.insert_units(fresh)
    assert index_by_part(store, "text_terms") == [False, False]

    def found(words: str) -> list[str]:
        return [unit_id for unit_id, _ in lexical_candidates(store, "idx", words, 10, Filters())]

    for unit in old + fresh:
        assert found(unit.text)[0] == unit.id
    assert set(found("Munich Globex shelter")) == {old[0].id, fresh[0].id, fresh[1].id}
    # The merge builds the index of the part it makes; the answers stay the same.
    store.command("SYSTEM START MERGES memory_units")
    store.command("OPTIMIZE TABLE memory_units FINAL")
    assert index_by_part(store, "text_terms") == [True]
    for unit in old + fresh:
        assert found(unit.text)[0] == unit.id
