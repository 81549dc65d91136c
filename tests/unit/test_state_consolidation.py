"""Exact duplicates: the pipeline with a content index, and the reinforcement ledger."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest

from lumina.config import Settings
from lumina.core.provenance import ChainEntry, ProvenanceChain, verify_chain
from lumina.enrich import Incoming, Pipeline
from lumina.enrich.embed import StaticEmbedder
from lumina.schemas import TextEvent
from lumina.state import ContentIndex, DecayLedger, NearDuplicates, NearMatch
from lumina.state import near as near_module
from lumina.state.chain import resume_chain, save_chain
from lumina.state.keys import SEPARATOR
from lumina.state.near import VECTOR, vector_key
from lumina.state.reinforcement import DecayState, ingest_state, reinforced_unit

NOW = 1_780_000_000_000


@pytest.fixture
def pipeline(embedder: StaticEmbedder, tmp_path: Any) -> Pipeline:
    return Pipeline.from_settings(Settings(home=tmp_path), embedder=embedder, clock=lambda: NOW)


def events(*texts: str, scope: str = "s", ids: str = "e") -> list[Incoming]:
    return [
        Incoming(TextEvent(scope=scope, text=t, author="Ann", event_id=f"{ids}{i}", ts=NOW + i))
        for i, t in enumerate(texts)
    ]


def test_consolidation_exact_duplicate_makes_no_unit_and_counts(pipeline: Pipeline) -> None:
    index = ContentIndex({})
    chain = ProvenanceChain()
    batch = events("Lunch at Rosa's on Friday.", "Other text.", " Lunch at  Rosa's on Friday.")
    result = pipeline.run(batch[:2], chain, claims=index)
    assert len(result.units) == 2 and not result.duplicates
    # The same text again, later and in another batch, with its own event id.
    again = pipeline.run(events("Lunch at Rosa's on Friday.", "New.", ids="f"), chain, claims=index)
    (dup,) = again.duplicates
    assert dup.kept_id == result.units[0].id and dup.absorbed_id != dup.kept_id
    assert dup.duplicates == 1
    assert [u.text for u in again.units] == ["New."]
    # Whitespace differs, normalized text does not: a duplicate too. (Case is kept.)
    assert pipeline.run(batch[2:], chain, claims=index).duplicates[0].duplicates == 2
    # Duplicates take no place in the chain: it still verifies end to end.
    units = result.units + again.units
    entries = [
        ChainEntry(u.id, u.timestamps.event_ms, u.provenance.previous_link, u.provenance.chain_link)
        for u in units
    ]
    assert verify_chain(entries).ok


def test_consolidation_redelivery_of_the_kept_event_is_not_a_duplicate(pipeline: Pipeline) -> None:
    index = ContentIndex({})
    first = pipeline.run(events("Call Bo at noon."), ProvenanceChain(), claims=index)
    second = pipeline.run(events("Call Bo at noon."), ProvenanceChain(), claims=index)
    assert not second.duplicates and second.units[0].id == first.units[0].id


def test_consolidation_is_per_scope(pipeline: Pipeline) -> None:
    index = ContentIndex({})
    pipeline.run(events("Same words.", scope="a"), ProvenanceChain(), claims=index)
    other = pipeline.run(events("Same words.", scope="b"), ProvenanceChain(), claims=index)
    assert len(other.units) == 1 and not other.duplicates


def test_reinforcement_stretches_half_life_resets_clock_and_counts(pipeline: Pipeline) -> None:
    (unit,) = pipeline.run(events("Met Dana in Porto."), ProvenanceChain()).units
    ledger = DecayLedger({}, alpha=0.5, half_life_max_s=unit.decay.half_life_s * 2)
    first = ledger.access("s", unit.id, NOW + 60_000, ingest_state(unit))
    assert first == DecayState(unit.decay.half_life_s * 1.5, NOW + 60_000, 1)
    second = ledger.access("s", unit.id, NOW + 30_000)  # an older access keeps the clock
    assert second == DecayState(unit.decay.half_life_s * 2, NOW + 60_000, 2)  # capped
    version = reinforced_unit(unit, second)
    assert version.id == unit.id and version.decay.access_count == 2
    assert version.timestamps.last_access_ms == NOW + 60_000
    assert version.embedding.tolist() == unit.embedding.tolist()


def test_reinforcement_counts_a_redelivered_access_once(pipeline: Pipeline) -> None:
    """A batch of accesses retried, or read again after a restart, reinforces nothing more:
    its events come back at the positions the ledger already applied."""
    (unit,) = pipeline.run(events("Met Dana in Porto."), ProvenanceChain()).units
    table: dict[str, Any] = {}
    ledger = DecayLedger(table, alpha=0.5, half_life_max_s=unit.decay.half_life_s * 100)
    start = ingest_state(unit)
    batch = [(NOW + 1_000, (2, 40)), (NOW + 2_000, (2, 41))]
    applied = [ledger.access("s", unit.id, at, start, position=pos) for at, pos in batch]
    assert applied[-1].access_count == 2
    again = [ledger.access("s", unit.id, at, start, position=pos) for at, pos in batch]
    assert again == [applied[-1], applied[-1]]  # the ledger's state, unchanged
    later = ledger.access("s", unit.id, NOW + 3_000, start, position=(2, 42))
    assert later.access_count == 3
    assert later.half_life_s == unit.decay.half_life_s * 1.5**3
    # The same offset on another partition (the topic was repartitioned) is a new access.
    assert ledger.access("s", unit.id, NOW + 4_000, position=(0, 42)).access_count == 4


def test_reinforcement_needs_a_starting_state() -> None:
    with pytest.raises(KeyError):
        DecayLedger({}, alpha=0.5, half_life_max_s=10.0).access("s", "u", NOW)


def test_consolidation_redelivered_duplicate_is_a_repeat_counted_once(pipeline: Pipeline) -> None:
    index = ContentIndex({})
    pipeline.run(events("Pay rent.", ids="a"), ProvenanceChain(), claims=index)
    (first,) = pipeline.run(
        events("Pay rent.", ids="b"), ProvenanceChain(), claims=index
    ).duplicates
    (again,) = pipeline.run(
        events("Pay rent.", ids="b"), ProvenanceChain(), claims=index
    ).duplicates
    assert (first.repeat, again.repeat) == (False, True)
    assert first.duplicates == again.duplicates == 1


def test_near_duplicate_is_absorbed_by_the_most_similar_recent_unit(pipeline: Pipeline) -> None:
    near = NearDuplicates({}, threshold=0.92, window_s=86_400)
    chain = ProvenanceChain()
    texts = (
        "Dinner with Dana in Porto on Friday.",
        "I moved to Lisbon last spring.",
        "dinner with dana in porto friday",  # cosine 0.98 with the first, not equal text
    )
    units = pipeline.run(events(*texts, ids="n"), chain).units
    first, other, close = (near.check(u) for u in units)
    assert first is None and other is None
    assert close is not None and close.kept_id == units[0].id and close.similarity >= 0.92
    assert not close.repeat
    # Replayed after a crash: the same decision, marked as a repeat (no second access).
    again = near.check(units[2])
    assert again == NearMatch(units[0].id, close.similarity, repeat=True)


def test_near_duplicate_needs_the_same_scope_window_and_embedding_model(
    pipeline: Pipeline,
) -> None:
    text = "The quarterly report is due on Monday."
    later = NOW + 2 * 86_400_000  # two days later: outside a one-day window
    a = pipeline.run(events(text, ids="w"), ProvenanceChain()).units[0]
    b = pipeline.run(
        [Incoming(TextEvent(scope="s", text=text + " ", author="Bo", event_id="w9", ts=later))],
        ProvenanceChain(heads={"s": a.provenance.chain_link}, lengths={"s": 1}),
    ).units[0]
    near = NearDuplicates({}, window_s=86_400)
    assert near.check(a) is None and near.check(b) is None  # too far apart in time
    other_scope = pipeline.run(events(text, scope="t", ids="x"), ProvenanceChain()).units[0]
    assert NearDuplicates({}).check(other_scope) is None
    memory: dict[str, object] = {}
    NearDuplicates(memory).check(a)
    relabelled = a.model_copy(update={"stages": {**a.stages, "embed": "embed.other.v1"}})
    c = relabelled.model_copy(
        update={"id": "c" * 64, "provenance": a.provenance.model_copy(update={"sequence": 2})}
    )
    assert NearDuplicates(memory).check(c) is None  # vectors of another model: not compared


def test_near_duplicate_state_keeps_each_vector_once_and_drops_it_with_its_entry(
    pipeline: Pipeline,
) -> None:
    texts = [f"Note {i}: the {word} review moved to room {i}." for i, word in enumerate(
        ["budget", "design", "hiring", "security", "launch"])]  # fmt: skip
    units = pipeline.run(events(*texts, ids="k"), ProvenanceChain()).units
    table: dict[str, Any] = {}
    near = NearDuplicates(table, keep=3)
    for unit in units:
        near.check(unit)
    index = table["s"]
    kept = [entry[0] for entry in index["units"]]
    assert kept == [u.id for u in units[-3:]]
    # The index names its vectors; each is kept once, under its own key, and the two units
    # that left the index took theirs with them.
    vectors = {key for key in table if key.startswith(f"s{SEPARATOR}{VECTOR}{SEPARATOR}")}
    assert vectors == {vector_key("s", uid, fp) for uid, _, _, fp in index["units"]}
    assert all(len(fp) == 16 for *_, fp in index["units"])
    assert len(json.dumps(index)) < 1_000  # ~12.5 kB a scope with the vectors inline


def test_near_duplicate_vectors_kept_in_memory_are_those_the_indexes_name(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The process's vectors follow the table: a vector leaves with its entry, and a full
    cache lets the oldest go, not all (each would be read from the table again)."""
    monkeypatch.setattr(near_module, "_VECTORS", {})
    monkeypatch.setattr(near_module, "_VECTORS_KEPT", 8)
    monkeypatch.setattr(near_module, "_VECTORS_EVICTED", 2)
    texts = [f"Note {i}: the {word} review moved to room {i}." for i, word in enumerate(
        ["budget", "design", "hiring", "security", "launch", "travel"])]  # fmt: skip
    table: dict[str, Any] = {}
    near = NearDuplicates(table, keep=3)
    for unit in pipeline.run(events(*texts, ids="m"), ProvenanceChain()).units:
        near.check(unit)
    named = [vector_key("s", uid, fp) for uid, _, _, fp in table["s"]["units"]]
    assert list(near_module._VECTORS) == named  # the three units that left took theirs
    # Two more scopes of three units: nine vectors named; the ninth found the cache full,
    # and the two oldest went.
    for scope in ("t", "u"):
        units = pipeline.run(events(*texts[:3], scope=scope, ids=scope), ProvenanceChain()).units
        for unit in units:
            near.check(unit)
    kept = list(near_module._VECTORS)
    assert len(kept) == 7 and kept[-1].startswith(f"u{SEPARATOR}")
    assert not set(named[:2]) & set(kept) and named[2] in kept


def test_near_duplicate_decision_is_the_same_from_the_table_alone(pipeline: Pipeline) -> None:
    texts = ("Dinner with Dana in Porto on Friday.", "dinner with dana in porto friday")
    first, close = pipeline.run(events(*texts, ids="r"), ProvenanceChain()).units
    table: dict[str, Any] = {}
    NearDuplicates(table).check(first)
    in_memory = NearDuplicates(dict(table)).check(close)
    near_module._VECTORS.clear()  # a restarted worker: only the table is left
    from_table = NearDuplicates(dict(table)).check(close)
    assert in_memory is not None and in_memory == from_table
    # A vector the table lost is not compared, and the check does not fail.
    near_module._VECTORS.clear()
    lost = {k: v for k, v in table.items() if SEPARATOR not in k}
    assert NearDuplicates(lost).check(close) is None


def test_near_duplicate_reads_entries_that_carry_their_vector(pipeline: Pipeline) -> None:
    """State written before the vectors had keys of their own: the encoded vector inline."""
    texts = ("Dinner with Dana in Porto on Friday.", "dinner with dana in porto friday")
    first, close = pipeline.run(events(*texts, ids="o"), ProvenanceChain()).units
    inline = base64.b64encode(np.asarray(first.embedding, dtype=np.float16).tobytes()).decode()
    table: dict[str, Any] = {
        "s": {
            "q": first.provenance.sequence,
            "embed": first.stages["embed"],
            "units": [[first.id, first.provenance.sequence, first.timestamps.event_ms, inline]],
        }
    }
    match = NearDuplicates(table, keep=1).check(close)
    assert match is not None and match.kept_id == first.id and match.similarity >= 0.92
    # The old entry left the index; it had no vector key to delete, the new one has one.
    assert [key for key in table if SEPARATOR in key] == [
        vector_key("s", close.id, table["s"]["units"][0][3])
    ]


def test_chain_table_resumes_the_chain_and_the_units_linked(pipeline: Pipeline) -> None:
    table: dict[str, object] = {}
    chain = ProvenanceChain()
    batch = events("First note.", "Second note.", ids="c")
    units = pipeline.run(batch, chain).units
    save_chain(table, chain, units)
    # A restarted worker reads it back and re-processes the second event (a redelivery)
    # and a new one: the redelivered unit keeps its place, the new one follows it.
    resumed = resume_chain(table, ["s"], [("s", units[1].id)])
    again = pipeline.run([*batch[1:], *events("Third note.", ids="d")], resumed).units
    assert again[0].provenance == units[1].provenance
    assert again[1].provenance.previous_link == units[1].provenance.chain_link
    assert again[1].provenance.sequence == 3
